"""Retention: exactly the expired festivals' personal data goes, once, whoever runs the job."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import update

from festival.db import make_sessionmaker, unit_of_work
from festival.models import Festival
from realtime import privacy as live_privacy
from tests.conftest import Backend
from tests.factories.festival import auth
from tests.privacy.people import API, Scene, counts, holding, scene, snapshot
from tests.test_cli import run
from tickets import privacy, retention

NOW = datetime(2030, 9, 1, 12, 0, tzinfo=UTC)  # the scenes take place in October 2030


async def _ended(backend: Backend, s: Scene, ends_on: date, retention_days: int = 180) -> None:
    """Move a festival's days into the past (registration closes at its end, so the
    scene is made first, in the future)."""
    async with unit_of_work(make_sessionmaker(backend.engine)) as session:
        await session.execute(
            update(Festival)
            .where(Festival.id == uuid.UUID(s.festival_id))
            .values(starts_on=ends_on, ends_on=ends_on, retention_days=retention_days)
        )


async def test_the_job_purges_exactly_the_expired_festivals_and_again_nothing(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    privacy.install()
    live_privacy.install()
    expired = await scene(client, backend.engine)  # ended 200 days ago, kept 180
    short = await scene(client, backend.engine)  # ended 40 days ago, kept 30
    kept = await scene(client, backend.engine)  # ended 100 days ago, kept 180
    upcoming = await scene(client, backend.engine)  # not over yet
    await _ended(backend, expired, (NOW - timedelta(days=200)).date())
    await _ended(backend, short, (NOW - timedelta(days=40)).date(), retention_days=30)
    await _ended(backend, kept, (NOW - timedelta(days=100)).date())
    before = {s.slug: await counts(client, s) for s in (expired, short, kept, upcoming)}
    speaker = await client.post(
        f"{API}/festivals/{expired.slug}/speakers",
        json={"name": "Ada Public", "email": "ada-private@speakers.example"},
        headers=auth(expired.organiser),
    )
    assert speaker.status_code == 201, speaker.text

    sessionmaker = make_sessionmaker(backend.engine)
    purged = await retention.purge_expired(sessionmaker, NOW)

    assert sorted(purged) == sorted([expired.slug, short.slug])
    gone = [x for s in (expired, short) for p in s.people.values() for x in p.identity()]
    assert await holding(backend.engine, [*gone, "ada-private@speakers.example"]) == {}
    stay = [p.name for s in (kept, upcoming) for p in s.people.values()]
    assert sorted(await holding(backend.engine, stay)) == sorted(stay)
    after = {s.slug: await counts(client, s) for s in (expired, short, kept, upcoming)}
    assert after == before
    assert "Ada Public" in (await client.get(f"{API}/festivals/{expired.slug}/speakers")).text

    first = await snapshot(backend.engine)
    assert await retention.purge_expired(sessionmaker, NOW) == []
    assert await snapshot(backend.engine) == first


async def test_processes_running_the_job_at_once_purge_a_festival_once(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    privacy.install()
    live_privacy.install()
    s = await scene(client, backend.engine)
    await _ended(backend, s, (NOW - timedelta(days=365)).date())
    # Two "processes": two engines (two connection pools) on the same database.
    from festival.db import make_engine

    other = make_engine(backend.url)
    try:
        runs = await asyncio.gather(
            retention.purge_expired(make_sessionmaker(backend.engine), NOW),
            retention.purge_expired(make_sessionmaker(other), NOW),
        )
    finally:
        await other.dispose()
    assert sorted(slug for found in runs for slug in found) == [s.slug]
    log = await client.get(f"{API}/festivals/{s.slug}/privacy-log", headers=auth(s.organiser))
    assert [e["action"] for e in log.json()["items"]] == ["purge"]


def test_festival_purge_runs_the_job_by_hand(tmp_path: Path) -> None:
    assert run(["db", "upgrade"], tmp_path).returncode == 0
    done = run(["purge"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "purged 0 festival(s)"


async def test_the_serving_loop_purges_without_being_asked(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    """What ``festival serve`` starts (api.lifespan.start_privacy), run from its first pass."""
    privacy.install()
    live_privacy.install()
    s = await scene(client, backend.engine)
    await _ended(backend, s, date(2020, 1, 1))
    job = asyncio.create_task(retention.purge_forever(make_sessionmaker(backend.engine), first=0))
    try:
        for _ in range(400):
            log = await client.get(
                f"{API}/festivals/{s.slug}/privacy-log", headers=auth(s.organiser)
            )
            if log.json()["items"]:
                break
            await asyncio.sleep(0.05)
    finally:
        job.cancel()
    assert [e["action"] for e in log.json()["items"]] == ["purge"]
    assert await holding(backend.engine, s.people["a"].identity()) == {}
