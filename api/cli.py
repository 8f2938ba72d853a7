"""The ``festival`` command line."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from rich.console import Console

from festival.errors import FestivalError
from festival.settings import Settings

T = TypeVar("T")
app = typer.Typer(help="Festival: programmes, tickets and live sessions.", no_args_is_help=True)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")
err = Console(stderr=True)


def fail(message: str) -> None:
    """One readable line on stderr, and a non-zero exit."""
    err.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(1)


def run(work: Callable[[], Awaitable[T]]) -> T:
    try:
        return asyncio.run(work())  # type: ignore[arg-type]
    except FestivalError as exc:
        fail(exc.detail)
    except OSError as exc:
        fail(f"cannot reach the database: {exc}")
    raise AssertionError("unreachable")


def settings() -> Settings:
    try:
        return Settings()
    except ValueError as exc:
        fail(str(exc).splitlines()[-1] if str(exc) else "bad settings")
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
    uvicorn.run(
        "api.main:app",
        host=host,
        port=port,
        workers=None if reload else workers,
        reload=reload,
        log_level=s.log_level.lower(),
        proxy_headers=True,
        ws_max_size=65536,
        timeout_graceful_shutdown=10,
    )


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


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
