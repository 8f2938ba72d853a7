"""PostgreSQL restarted under a registration rush and a busy door, behind two nodes.

The client here does what the engine's comment says a client does: a request that
failed (a pooled connection died with the server: ``503 database_unavailable``) is
sent again. What must hold: every registration acknowledged is there, once; every
ticket scanned is in, once; no request is answered 500; and the live screens open
through it still equal the database.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field

import httpx
import pytest
from sqlalchemy import text

from tests.factories.festival import auth
from tests.factories.tickets import open_festival, registered, running_now, staff_token
from tests.faults.cluster import Cluster
from tests.faults.scenes import scene
from tests.realtime.nodes import Node

pytestmark = [pytest.mark.faults, pytest.mark.slow, pytest.mark.serial]


@dataclass
class Tally:
    acked: set[str] = field(default_factory=set)  # emails, or ticket ids, the server confirmed
    failures: list[str] = field(default_factory=list)  # replies that were not an answer


async def _send(http: httpx.AsyncClient, tally: Tally, path: str, body: dict[str, str]) -> int:
    """POST until the server answers with something other than a failure; that status."""
    for _ in range(100):
        try:
            reply = await http.post(path, json=body)
        except httpx.TransportError as exc:
            tally.failures.append(type(exc).__name__)
        else:
            if reply.status_code < 500:
                return reply.status_code
            tally.failures.append(f"{reply.status_code} {reply.json().get('code')}")
        await asyncio.sleep(0.1)
    raise AssertionError(f"{path} never answered: {tally.failures[-5:]}")


async def _registrar(node: Node, slug: str, tally: Tally, stop: asyncio.Event) -> None:
    async with httpx.AsyncClient(base_url=node.url, timeout=60) as http:
        while not stop.is_set():
            email = f"rush-{uuid.uuid4().hex[:10]}@example.org"
            body = {"name": "Rush", "email": email}
            failed_before = len(tally.failures)
            status = await _send(http, tally, f"/api/v1/festivals/{slug}/registrations", body)
            # 409 after a failed try: the failed try had registered it.
            if status == 201 or (status == 409 and len(tally.failures) > failed_before):
                tally.acked.add(email)
            else:
                raise AssertionError(f"registration answered {status}")


async def _door(node: Node, slug: str, staff: str, tickets: dict[str, str], tally: Tally) -> None:
    headers = auth(staff)
    async with httpx.AsyncClient(base_url=node.url, timeout=60, headers=headers) as http:
        for ticket_id, qr in tickets.items():
            failed_before = len(tally.failures)
            status = await _send(http, tally, f"/api/v1/festivals/{slug}/checkins", {"qr": qr})
            if status == 201 or (status == 409 and len(tally.failures) > failed_before):
                tally.acked.add(ticket_id)
            else:
                raise AssertionError(f"check-in answered {status}")
            await asyncio.sleep(0.05)


async def test_a_postgresql_restart_under_registrations_and_check_ins_loses_and_doubles_nothing(
    cluster: Cluster,
) -> None:
    a, b = cluster.nodes
    room = await scene(cluster)  # live screens through it too
    asked = await room.ask(room.people[0], "Before the database restart?")
    await room.approve(asked)
    async with httpx.AsyncClient(base_url=a.url, timeout=60) as http:
        made, organiser = await open_festival(http, cluster.engine, capacity=5000, **running_now())
        slug = made["slug"]
        staff = await staff_token(http, organiser, slug)
        tickets = {}
        for _ in range(40):
            reply = await registered(http, slug)
            tickets[reply["ticket"]["id"]] = reply["ticket"]["qr"]
    ids = list(tickets)
    registrations, scans = Tally(), Tally()
    stop = asyncio.Event()
    work = [asyncio.create_task(_registrar(n, slug, registrations, stop)) for n in (a, b, a, b)]
    work += [
        asyncio.create_task(_door(n, slug, staff, {i: tickets[i] for i in part}, scans))
        for n, part in ((a, ids[:20]), (b, ids[20:]))
    ]
    for _ in range(200):  # the rush is on
        if len(registrations.acked) >= 10:
            break
        await asyncio.sleep(0.05)
    before = len(registrations.acked)
    await cluster.restart_postgres()
    after = len(registrations.acked)
    for _ in range(200):  # until the rush has gone on for a while after the restart
        if len(registrations.acked) >= after + 20:
            break
        await asyncio.sleep(0.1)
    stop.set()
    await asyncio.gather(*work)

    async with cluster.engine.connect() as connection:
        festival_id = (
            await connection.execute(text("SELECT id FROM festivals WHERE slug = :s"), {"s": slug})
        ).scalar_one()
        emails = (
            (
                await connection.execute(
                    text(
                        "SELECT email FROM registrations"
                        " WHERE festival_id = :f AND email LIKE 'rush-%'"
                    ),
                    {"f": festival_id},
                )
            )
            .scalars()
            .all()
        )
        admitted = (
            (
                await connection.execute(
                    text("SELECT ticket_id FROM checkins WHERE festival_id = :f AND live"),
                    {"f": festival_id},
                )
            )
            .scalars()
            .all()
        )
    assert before > 0  # the rush was on when the server went
    assert len(registrations.acked) >= after + 20  # and went on after it came back
    assert sorted(emails) == sorted(registrations.acked)  # each acked one there, once
    assert sorted(str(t) for t in admitted) == sorted(ids) == sorted(scans.acked)
    # A request whose connection died is told so (503, retry), never a 500.
    assert set(registrations.failures + scans.failures) <= {"503 database_unavailable"}

    await room.vote_all(asked)
    await room.approve(await room.ask(room.people[1], "After the database restart?"))
    await room.converge()
    await room.close()
