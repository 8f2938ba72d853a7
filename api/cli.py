"""The ``festival`` command line."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from festival.errors import FestivalError
from festival.settings import Settings

T = TypeVar("T")
app = typer.Typer(
    help="Festival: programmes, tickets and live sessions.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")
err = Console(stderr=True, soft_wrap=True)


def fail(message: str) -> None:
    """One readable line on stderr, and a non-zero exit."""
    err.print(f"error: {message}", highlight=False, markup=False)
    raise typer.Exit(1)


def run(work: Callable[[], Awaitable[T]]) -> T:
    """Run one unit of CLI work; known failures become one readable line."""
    from alembic.util import CommandError
    from sqlalchemy.exc import DBAPIError, InterfaceError

    try:
        return asyncio.run(work())  # type: ignore[arg-type]
    except FestivalError as exc:
        fail(exc.detail)
    except CommandError as exc:
        fail(f"migration: {exc}")
    except (OSError, InterfaceError) as exc:
        fail(f"cannot reach the database: {exc}")
    except DBAPIError as exc:
        fail(f"database error: {str(exc.orig).splitlines()[0] if exc.orig else exc}")
    raise AssertionError("unreachable")


def settings() -> Settings:
    from pydantic import ValidationError

    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        message = str(first.get("msg", "bad settings")).removeprefix("Value error, ")
        fail(f"{where}: {message}" if where else message)
    raise AssertionError("unreachable")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind", min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes", min=1, max=64)] = 1,
    reload: Annotated[bool, typer.Option(help="Reload on code changes")] = False,
) -> None:
    """Serve the API, the pages and the websockets with uvicorn."""
    import uvicorn

    s = settings()
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": s.log_level.lower(),
        "proxy_headers": True,
        "ws_max_size": 65536,
        "ws": "api.ws_protocol:LiveWebSocketProtocol",  # websockets-sansio, leaner (see there)
        "ws_per_message_deflate": False,  # a zlib state per socket costs more than it saves here
        "timeout_graceful_shutdown": 10,
    }
    from api.workers import APP, PortInUse, serve_workers

    if workers > 1 and not reload:
        try:
            raise typer.Exit(serve_workers(options, workers))
        except PortInUse as exc:
            fail(str(exc))
    uvicorn.run(APP, reload=reload, **options)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision")] = "head") -> None:
    """Apply the migrations to the configured database."""
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
    err.print(f"database at {revision}", highlight=False)


@app.command("create-organiser")
def create_organiser(
    email: Annotated[str, typer.Option(help="The organiser's e-mail")],
    name: Annotated[str | None, typer.Option(help="Display name")] = None,
) -> None:
    """Create an organiser account and print its one-time password."""
    from festival.auth import create_organiser as create

    if "@" not in email or email.startswith("@") or email.endswith("@"):
        fail(f"{email!r} is not an e-mail address")
    s = settings()

    async def _work() -> str:
        from festival.db import make_engine, make_sessionmaker, unit_of_work

        engine = make_engine(s.database_url)
        try:
            async with unit_of_work(make_sessionmaker(engine)) as session:
                _, password = await create(session, email, name=name)
            return password
        finally:
            await engine.dispose()

    password = run(_work)
    typer.echo(password)


@app.command()
def demo() -> None:
    """Load the demo festivals (idempotent: running it twice changes nothing)."""
    from api.demo import load_demo

    s = settings()
    lines = run(lambda: load_demo(s))
    for line in lines:
        typer.echo(line)


@app.command("import")
def import_(
    file: Annotated[typer.FileBinaryRead, typer.Argument(help="A programme CSV or frab JSON")],
    festival: Annotated[str, typer.Option("--festival", help="The festival's slug")],
) -> None:
    """Import a programme into a festival: all or nothing, re-importing changes nothing."""
    import uuid

    from rich.progress import Progress

    from festival.auth import Principal
    from festival.db import make_engine, make_sessionmaker, unit_of_work
    from festival.models import Festival
    from festival.queries import festival_by_slug
    from schedule.imports import import_programme

    data, s = file.read(), settings()

    async def _work() -> str:
        engine = make_engine(s.database_url)
        try:
            async with unit_of_work(make_sessionmaker(engine)) as session:
                found: Festival | None = await session.scalar(festival_by_slug(festival))
                if found is None:
                    fail(f"no festival {festival!r}")
                assert found is not None
                who = Principal(kind="organiser", token_id=uuid.uuid4(), account_id=found.owner_id)
                with Progress(console=err, transient=True) as bar:
                    task = bar.add_task(f"importing {file.name}", total=None)
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
                            err.print(
                                f"also {problem['field']}: {problem['message']}", highlight=False
                            )
                        raise
            return summary.model_dump_json()
        finally:
            await engine.dispose()

    typer.echo(run(_work))


def main() -> None:
    """Entry point: usage errors become one line on stderr (exit 2), not a traceback.

    Typer vendors its own click, so its exceptions are recognised by shape:
    a ``format_message()`` and an ``exit_code``.
    """
    try:
        code = app(standalone_mode=False)
    except typer.Exit as exc:
        code = exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        code = 130
    except Exception as exc:
        if not (hasattr(exc, "format_message") and hasattr(exc, "exit_code")):
            raise
        context = getattr(exc, "ctx", None)
        where = f"{context.command_path}: " if context is not None else ""
        err.print(f"error: {where}{exc.format_message()}", highlight=False, markup=False)
        code = exc.exit_code
    sys.exit(code if isinstance(code, int) else 0)
