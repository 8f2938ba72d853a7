"""The ``festival`` command line.

Every command either does its work or exits non-zero with one readable line on
stderr: bad settings, an unreachable database or broker, an unmigrated
database, a missing file. A traceback is printed only with
``FESTIVAL_LOG_LEVEL=DEBUG``. Commands that need a migrated database check
that first and create nothing when it is not there.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import IO, Any, NoReturn, TypeVar

import click

from festival.errors import FestivalError
from festival.settings import DatabaseSettings, Settings

T = TypeVar("T")
CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class Failure(click.ClickException):
    """A failure the user can act on: its message is the whole story."""

    exit_code = 1


def fail(message: str) -> NoReturn:
    raise Failure(message)


def run(work: Callable[[], Awaitable[T]]) -> T:
    """Run one unit of CLI work; known failures become one readable line."""
    from alembic.util import CommandError
    from sqlalchemy.exc import DBAPIError, InterfaceError

    from festival.migrate import DatabaseNotReady

    try:
        return asyncio.run(work())  # type: ignore[arg-type]
    except FestivalError as exc:
        fail(exc.detail)
    except DatabaseNotReady as exc:
        fail(str(exc))
    except CommandError as exc:
        fail(f"migration: {exc}")
    except (OSError, InterfaceError) as exc:
        fail(f"cannot reach the database: {first_line(exc)}")
    except DBAPIError as exc:
        fail(f"database error: {first_line(exc.orig or exc)}")


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def settings() -> Settings:
    from pydantic import ValidationError

    try:
        return Settings()
    except ValidationError as exc:
        fail(settings_problem(exc))


def settings_problem(exc: Any) -> str:
    """The first problem of a settings ValidationError, named by its variable."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    message = str(first.get("msg", "bad settings")).removeprefix("Value error, ")
    return f"FESTIVAL_{where.upper()}: {message}" if where else message


def migrated_settings() -> Settings:
    """The settings, once the database exists; nothing is created when it does not."""
    from pydantic import ValidationError

    from festival.migrate import sqlite_file

    try:
        url = DatabaseSettings().database_url
    except ValidationError as exc:
        fail(settings_problem(exc))
    path = sqlite_file(url)
    if path is not None and not path.exists():
        fail(f"no database at {path}: run `festival db upgrade` first")
    return settings()


async def open_migrated(s: Settings) -> Any:
    """An engine on the configured database, which must be at the code's migration."""
    from festival.db import make_engine
    from festival.migrate import require_current

    engine = make_engine(s.database_url)
    try:
        await require_current(engine)
    except BaseException:
        await engine.dispose()
        raise
    return engine


@click.group(context_settings=CONTEXT)
def app() -> None:
    """Festival: programmes, tickets and live sessions."""


@app.group(context_settings=CONTEXT)
def db() -> None:
    """Database migrations."""


@app.command(context_settings=CONTEXT)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind")
@click.option(
    "--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port to bind"
)
@click.option(
    "--workers", default=1, show_default=True, type=click.IntRange(1, 64), help="Worker processes"
)
@click.option("--reload", is_flag=True, help="Reload on code changes")
def serve(host: str, port: int, workers: int, reload: bool) -> None:
    """Serve the API, the pages and the websockets."""
    import uvicorn

    from api.http.client_address import uvicorn_options

    s = migrated_settings()
    run(lambda: preflight(s))
    from api.http.serving import uvicorn_limits

    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": s.log_level.lower(),
        # X-Forwarded-For and -Proto from FESTIVAL_TRUSTED_PROXIES only, as the limits read them.
        **uvicorn_options(s.trusted_proxies),
        "ws_max_size": 65536,
        # uvicorn's websockets-sansio protocol, leaner (see there).
        "ws": "api.live.uvicorn_protocol:LiveWebSocketProtocol",
        "ws_per_message_deflate": False,  # a zlib state per socket costs more than it saves here
        "timeout_graceful_shutdown": 10,
        # FESTIVAL_MAX_CONNECTIONS per process (503 beyond) and idle keep-alives closed.
        **uvicorn_limits(s.max_connections),
    }
    from api.cli.workers import APP, PortInUse, ensure_free, serve_workers

    try:
        ensure_free(host, port)
        if workers > 1 and not reload:
            sys.exit(serve_workers(options, workers))
    except PortInUse as exc:
        fail(str(exc))
    uvicorn.run(APP, reload=reload, **options)


async def preflight(s: Settings) -> None:
    """What ``serve`` needs before it binds: a migrated database and, if set, Redis."""
    engine = await open_migrated(s)
    await engine.dispose()
    if s.redis_url:
        from redis.asyncio import Redis
        from redis.exceptions import RedisError

        try:
            async with Redis.from_url(s.redis_url, socket_connect_timeout=5) as redis:
                await redis.ping()
        except (RedisError, OSError) as exc:
            fail(f"cannot reach Redis at {redact(s.redis_url)}: {first_line(exc)}")


def redact(url: str) -> str:
    """``url`` without its password, fit for a message or a log."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


@db.command("upgrade", context_settings=CONTEXT)
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Apply the migrations to the configured database (REVISION: default head)."""
    from festival.db import make_engine
    from festival.migrate import upgrade

    s = settings()

    async def _work() -> None:
        engine = make_engine(s.database_url)
        try:
            await upgrade(engine, revision)
        finally:
            await engine.dispose()

    run(_work)
    click.echo(f"database at {revision}", err=True)


@app.command("create-organiser", context_settings=CONTEXT)
@click.option("--email", required=True, help="The organiser's e-mail")
@click.option("--name", default=None, help="Display name")
def create_organiser(email: str, name: str | None) -> None:
    """Create an organiser; print its one-time password."""
    from festival.auth import create_organiser as create

    if "@" not in email or email.startswith("@") or email.endswith("@"):
        fail(f"{email!r} is not an e-mail address")
    s = migrated_settings()

    async def _work() -> str:
        from festival.db import make_sessionmaker, unit_of_work

        engine = await open_migrated(s)
        try:
            async with unit_of_work(make_sessionmaker(engine)) as session:
                _, password = await create(session, email, name=name)
            return password
        finally:
            await engine.dispose()

    click.echo(run(_work))


@app.command(context_settings=CONTEXT)
def demo() -> None:
    """Load the demo festivals (idempotent)."""
    from api.cli.demo.loader import load_demo

    s = migrated_settings()

    async def _work() -> list[str]:
        engine = await open_migrated(s)
        await engine.dispose()
        return await load_demo(s)

    for line in run(_work):
        click.echo(line)


@app.group("mail", context_settings=CONTEXT)
def mail_group() -> None:
    """Letters to attendees."""


@mail_group.command("preview", context_settings=CONTEXT)
@click.argument("kind")
@click.option(
    "--out",
    default="mail-preview",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write to",
)
def mail_preview(kind: str, out: Path) -> None:
    """Write a sample letter of KIND (or all of them) as .eml and .html, to look at.

    KIND is one of confirmed, waitlisted, promoted, cancelled, confirm, known, sign_in.
    """
    from email.message import EmailMessage

    from tickets import mail
    from tickets.letters import KINDS

    if kind != "all" and kind not in KINDS:
        fail(f"no letter {kind!r}: one of all, {', '.join(KINDS)}")

    out.mkdir(parents=True, exist_ok=True)
    for each in KINDS if kind == "all" else (kind,):
        letter, facts = mail.sample(each)
        composed = mail.compose(
            letter, facts, mail_from="Festival <noreply@festival.example.org>",
            base_url="https://festival.example.org",
        )  # fmt: skip
        (out / f"{each}.eml").write_bytes(bytes(composed))
        html = composed.get_body(("html",))
        assert isinstance(html, EmailMessage)
        (out / f"{each}.html").write_text(str(html.get_content()))
        click.echo(out / f"{each}.eml")


@app.command(context_settings=CONTEXT)
def purge() -> None:
    """Purge the personal data of festivals whose retention is over (idempotent).

    What `festival serve` does every hour; safe beside running servers. Prints
    the festivals purged, one slug a line.
    """
    from festival.db import make_sessionmaker
    from realtime import privacy as live_privacy
    from tickets import privacy, retention

    s = migrated_settings()

    async def _work() -> list[str]:
        engine = await open_migrated(s)
        try:
            privacy.install()
            live_privacy.install()
            return await retention.purge_expired(make_sessionmaker(engine))
        finally:
            await engine.dispose()

    purged = run(_work)
    for slug in purged:
        click.echo(slug)
    click.echo(f"purged {len(purged)} festival(s)", err=True)


@app.command("import", context_settings=CONTEXT)
@click.argument("file", type=click.File("rb"))
@click.option("--festival", required=True, help="The festival's slug")
def import_(file: IO[bytes], festival: str) -> None:
    """Import a programme (CSV or frab JSON) into a festival.

    All or nothing; importing the same file again changes nothing.
    """
    import uuid

    from rich.console import Console
    from rich.progress import Progress

    from festival.auth import Principal
    from festival.db import make_sessionmaker, unit_of_work
    from festival.models import Festival
    from festival.queries import festival_by_slug
    from schedule.imports import import_programme

    data, s = file.read(), migrated_settings()
    name = getattr(file, "name", "the file")

    async def _work() -> str:
        engine = await open_migrated(s)
        try:
            async with unit_of_work(make_sessionmaker(engine)) as session:
                found: Festival | None = await session.scalar(festival_by_slug(festival))
                if found is None:
                    fail(f"no festival {festival!r}")
                who = Principal(kind="organiser", token_id=uuid.uuid4(), account_id=found.owner_id)
                with Progress(console=Console(stderr=True), transient=True) as bar:
                    task = bar.add_task(f"importing {name}", total=None)
                    try:
                        summary = await import_programme(
                            session,
                            who,
                            festival,
                            data,
                            "",
                            lambda done, total: bar.update(task, completed=done, total=total),
                        )
                    except FestivalError as exc:
                        for problem in exc.extras.get("errors", [])[1:]:
                            click.echo(f"also {problem['field']}: {problem['message']}", err=True)
                        raise
            return summary.model_dump_json()
        finally:
            await engine.dispose()

    click.echo(run(_work))


def debugging() -> bool:
    return os.environ.get("FESTIVAL_LOG_LEVEL", "").strip().upper() == "DEBUG"


def main(argv: list[str] | None = None) -> NoReturn:
    """Entry point: every failure is one line on stderr and a non-zero exit.

    Usage errors exit 2 (click's convention), failures 1, an interrupt 130.
    With ``FESTIVAL_LOG_LEVEL=DEBUG`` an unexpected error shows its traceback.
    """
    try:
        code = app.main(args=argv, prog_name="festival", standalone_mode=False)
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.ClickException as exc:
        context = getattr(exc, "ctx", None)
        where = f"{context.command_path}: " if context is not None else ""
        click.echo(f"error: {where}{exc.format_message()}", err=True)
        code = exc.exit_code
    except (click.Abort, KeyboardInterrupt):
        code = 130
    except Exception as exc:
        if debugging():
            raise
        click.echo(
            f"error: {type(exc).__name__}: {first_line(exc)} "
            "(set FESTIVAL_LOG_LEVEL=DEBUG for the traceback)",
            err=True,
        )
        code = 1
    sys.exit(code if isinstance(code, int) else 0)
