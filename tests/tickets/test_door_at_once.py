"""The door's common scan without a session (``checkin.DoorLine``).

On PostgreSQL the fast lane first tries a scan in the door's line, which
admits the scans that arrive together in one statement. It must write exactly
the row that ``check_in`` writes for an admission, write nothing for every
scan it leaves to ``check_in`` (which then records the refusal or the repeat
once), and refuse a caller who may not scan as ``check_in`` refuses them,
whatever else was in the same batch. On SQLite there is no such connection, and every
scan takes ``check_in``: the tests of the shortcut itself run on PostgreSQL only.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.sql.selectable import ScalarSelect

from festival.auth import hash_token
from festival.db import autocommit_connection, make_sessionmaker, unit_of_work, utcnow
from festival.errors import FestivalError
from festival.models import Token
from tests.conftest import POSTGRES_ONLY, Backend
from tests.factories.festival import auth
from tests.factories.tickets import checkin_door, programme_session, registered, staff_token
from tickets import checkin, issuing
from tickets.checkin import Admitted, AlreadyIn, Refused
from tickets.models import FESTIVAL_LIST, Checkin, Registration, Ticket

Scan = Callable[..., Awaitable[Any]]


async def _door(client: httpx.AsyncClient, backend: Backend) -> dict[str, Any]:
    return await checkin_door(client, backend.engine)


async def _at_once(
    backend: Backend, token: str | None, slug: str, qr: str, list_key: str = FESTIVAL_LIST
) -> Admitted | None:
    return await checkin.DoorLine(backend.engine).admit(token, slug, qr, list_key, "G1")


async def _check_in(
    backend: Backend, token: str | None, slug: str, qr: str, list_key: str = FESTIVAL_LIST
) -> checkin.ScanOutcome:
    async with unit_of_work(make_sessionmaker(backend.engine)) as session:
        return await checkin.check_in(session, token, slug, qr, list_key, "G1")


async def _rows(backend: Backend) -> list[Checkin]:
    async with unit_of_work(make_sessionmaker(backend.engine)) as session:
        return list((await session.scalars(select(Checkin).order_by(Checkin.recorded_at))).all())


def _registration_of(ticket_id: str) -> ScalarSelect[uuid.UUID]:
    return select(Ticket.registration_id).where(Ticket.id == uuid.UUID(ticket_id)).scalar_subquery()


def _tamper(qr: str, at: int) -> str:
    return qr[:at] + ("A" if qr[at] != "A" else "B") + qr[at + 1 :]


async def test_sqlite_has_no_connection_without_a_session_and_scans_as_before(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    async with autocommit_connection(backend.engine) as connection:
        assert (connection is None) == (backend.name == "sqlite")
    door = await _door(client, backend)
    qr = (await registered(client, door["slug"]))["ticket"]["qr"]
    url = f"/api/v1/festivals/{door['slug']}/checkins"
    first = await client.post(url, json={"qr": qr}, headers=auth(door["staff"]))
    again = await client.post(url, json={"qr": qr}, headers=auth(door["staff"]))
    assert (first.status_code, again.status_code) == (201, 409)
    assert [r.result for r in await _rows(backend)] == ["ok", "already_checked_in"]


@POSTGRES_ONLY
async def test_the_common_scan_is_admitted_and_recorded_as_check_in_records_it(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    door = await _door(client, backend)
    attendee = await registered(client, door["slug"], name="Ada Lovelace")
    qr = attendee["ticket"]["qr"]

    admitted = await _at_once(backend, door["staff"], door["slug"], qr)

    assert isinstance(admitted, Admitted)
    assert (admitted.name, admitted.list_key, admitted.gate) == ("Ada Lovelace", "festival", "G1")
    (row,) = await _rows(backend)
    assert (row.id, row.result, row.live, row.gate) == (admitted.id, "ok", True, "G1")
    assert str(row.ticket_id) == attendee["ticket"]["id"]
    assert row.staff_token_id is not None
    assert row.payload == qr
    assert row.reply == checkin.record(admitted)
    # A second scan of the ticket is not the common one: nothing written here...
    assert await _at_once(backend, door["staff"], door["slug"], qr) is None
    assert len(await _rows(backend)) == 1
    # ...and check_in then answers and records it, naming the first check-in.
    again = await _check_in(backend, door["staff"], door["slug"], qr)
    assert isinstance(again, AlreadyIn)
    assert again.first == admitted.id
    assert [r.result for r in await _rows(backend)] == ["ok", "already_checked_in"]


@POSTGRES_ONLY
async def test_every_other_scan_is_left_to_check_in_with_nothing_written(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    door = await _door(client, backend)
    other = await _door(client, backend)
    slug, staff = door["slug"], door["staff"]
    valid = (await registered(client, slug))["ticket"]["qr"]
    cancelled = await registered(client, slug)
    await client.delete("/api/v1/me/registration", headers=auth(cancelled["attendee_token"]))
    reissued = await registered(client, slug)
    renewed = await client.post(
        "/api/v1/me/ticket/reissue", headers=auth(reissued["attendee_token"])
    )
    assert renewed.status_code == 200
    workshop = await programme_session(backend.engine, door["id"], capacity=10)
    # Two states only a row can show: each rule of the door must hold by itself.
    waiting, withdrawn = await registered(client, slug), await registered(client, slug)
    async with unit_of_work(make_sessionmaker(backend.engine)) as session:
        await session.execute(
            update(Registration)
            .where(Registration.id == _registration_of(waiting["ticket"]["id"]))
            .values(status="waitlisted")
        )
        await session.execute(
            update(Ticket)
            .where(Ticket.id == uuid.UUID(withdrawn["ticket"]["id"]))
            .values(revoked_at=utcnow())
        )
    cases = {
        "forged": (_tamper(valid, 110), FESTIVAL_LIST),
        "garbage": ("hello", FESTIVAL_LIST),
        "another festival's": (
            (await registered(client, other["slug"]))["ticket"]["qr"],
            "festival",
        ),
        "cancelled": (cancelled["ticket"]["qr"], FESTIVAL_LIST),
        "an older version": (reissued["ticket"]["qr"], FESTIVAL_LIST),
        "a waitlisted registration's": (waiting["ticket"]["qr"], FESTIVAL_LIST),
        "a revoked ticket of a confirmed registration": (withdrawn["ticket"]["qr"], FESTIVAL_LIST),
        "a session's door": (valid, str(workshop)),
        "an unknown list": (valid, "not-a-list"),
    }
    for name, (qr, list_key) in cases.items():
        assert await _at_once(backend, staff, slug, qr, list_key) is None, name
    assert await _rows(backend) == []

    # A festival key this process does not hold yet: check_in reads it (and keeps it).
    keys = issuing._keys.pop(uuid.UUID(door["id"]))
    try:
        assert await _at_once(backend, staff, slug, valid) is None
        assert await _rows(backend) == []
        assert isinstance(await _check_in(backend, staff, slug, valid), Admitted)
    finally:
        issuing._keys.setdefault(uuid.UUID(door["id"]), keys)


@POSTGRES_ONLY
async def test_a_festival_with_answers_for_the_door_is_left_to_check_in(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    door = await _door(client, backend)
    question = {"kind": "text", "label": "Access needs", "at_door": True}
    asked = await client.post(
        f"/api/v1/festivals/{door['slug']}/questions",
        json=question,
        headers=auth(door["organiser"]),
    )
    assert asked.status_code == 201, asked.text
    body = {"name": "Ada", "email": "ada@example.org", "answers": {asked.json()["id"]: "ramp"}}
    made = await client.post(f"/api/v1/festivals/{door['slug']}/registrations", json=body)
    assert made.status_code == 201, made.text
    qr = made.json()["ticket"]["qr"]
    assert await _at_once(backend, door["staff"], door["slug"], qr) is None
    assert await _rows(backend) == []
    admitted = await _check_in(backend, door["staff"], door["slug"], qr)
    assert isinstance(admitted, Admitted)
    assert admitted.notes == (("Access needs", "ramp"),)


@POSTGRES_ONLY
async def test_a_caller_who_may_not_scan_is_refused_as_check_in_refuses(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    door = await _door(client, backend)
    other = await _door(client, backend)
    attendee = await registered(client, door["slug"])
    qr = attendee["ticket"]["qr"]
    revoked, expired = (
        await _revoked_staff(client, door),
        await _expired_staff(client, backend, door),
    )
    callers = {
        "no token": (None, door["slug"]),
        "a revoked check-in token": (revoked, door["slug"]),
        "an expired check-in token": (expired, door["slug"]),
        # A row no route writes: the kind of token decides, not the role column alone.
        "an attendee's token with a check-in role": (
            await _with_checkin_role(backend, (await registered(client, door["slug"]))),
            door["slug"],
        ),
        "a moderator's token": (
            await staff_token(client, door["organiser"], door["slug"], role="moderator"),
            door["slug"],
        ),
        "an unknown token": ("fs_" + "x" * 43, door["slug"]),
        "an attendee": (attendee["attendee_token"], door["slug"]),
        "the organiser": (door["organiser"], door["slug"]),
        "another festival's staff": (other["staff"], door["slug"]),
        "an unknown festival": (door["staff"], "no-such-festival"),
    }
    for name, (token, slug) in callers.items():
        refusals = []
        for scan in (_at_once, _check_in):
            with pytest.raises(FestivalError) as caught:
                await scan(backend, token, slug, qr)
            refusals.append((type(caught.value), str(caught.value)))
        assert refusals[0] == refusals[1], name
    async with unit_of_work(make_sessionmaker(backend.engine)) as session:
        assert await session.scalar(select(func.count()).select_from(Checkin)) == 0


async def _revoked_staff(client: httpx.AsyncClient, door: dict[str, Any]) -> str:
    """A check-in token of the door's festival that its organiser revoked."""
    tokens = f"/api/v1/festivals/{door['slug']}/staff-tokens"
    made = await client.post(
        tokens, json={"role": "checkin", "label": "Gate B"}, headers=auth(door["organiser"])
    )
    assert made.status_code == 201, made.text
    gone = await client.delete(f"{tokens}/{made.json()['id']}", headers=auth(door["organiser"]))
    assert gone.status_code in (200, 204), gone.text
    raw: str = made.json()["token"]
    return raw


async def _with_checkin_role(backend: Backend, attendee: dict[str, Any]) -> str:
    raw: str = attendee["attendee_token"]
    async with unit_of_work(make_sessionmaker(backend.engine)) as session:
        await session.execute(
            update(Token).where(Token.token_hash == hash_token(raw)).values(role="checkin")
        )
    return raw


async def _expired_staff(client: httpx.AsyncClient, backend: Backend, door: dict[str, Any]) -> str:
    """A check-in token of the door's festival whose time ran out a second ago."""
    raw = await staff_token(client, door["organiser"], door["slug"])
    async with unit_of_work(make_sessionmaker(backend.engine)) as session:
        await session.execute(
            update(Token)
            .where(Token.token_hash == hash_token(raw))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    return raw


@POSTGRES_ONLY
async def test_an_online_participant_of_a_hybrid_festival_is_left_to_check_in(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    door = await checkin_door(client, backend.engine, mode="hybrid")
    slug, staff = door["slug"], door["staff"]
    streamer = await registered(client, slug, participation="online")
    visitor = await registered(client, slug, participation="onsite")

    assert await _at_once(backend, staff, slug, streamer["ticket"]["qr"]) is None
    assert await _rows(backend) == []
    refused = await _check_in(backend, staff, slug, streamer["ticket"]["qr"])
    assert isinstance(refused, Refused)
    assert refused.reason == "wrong_list"
    # The one on site is the common scan, at once.
    assert isinstance(await _at_once(backend, staff, slug, visitor["ticket"]["qr"]), Admitted)
    assert [r.result for r in await _rows(backend)] == ["wrong_list", "ok"]


async def _door_and_tickets(
    client: httpx.AsyncClient, backend: Backend, count: int
) -> tuple[dict[str, Any], list[str]]:
    """A door and the payloads of ``count`` tickets to its festival."""
    door = await _door(client, backend)
    tickets = [(await registered(client, door["slug"]))["ticket"]["qr"] for _ in range(count)]
    return door, tickets


class _CountedLine(checkin.DoorLine):
    """The door's line, with the size of each batch it sent kept."""

    def __init__(self, backend: Backend) -> None:
        super().__init__(backend.engine, in_flight=1)
        self.batches: list[int] = []

    async def _admit(self, scans: Sequence[dict[str, Any]]) -> Sequence[Sequence[Any] | None]:
        self.batches.append(len(scans))
        return await super()._admit(scans)


@POSTGRES_ONLY
async def test_scans_that_arrive_together_are_each_answered_as_if_alone(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    door, tickets = await _door_and_tickets(client, backend, 6)
    other = await _door(client, backend)
    slug, staff = door["slug"], door["staff"]
    twice = tickets[0]
    forged = _tamper(tickets[1], 110)
    elsewhere = (await registered(client, other["slug"]))["ticket"]["qr"]
    line = _CountedLine(backend)
    scans = [
        (staff, tickets[0]),  # goes out alone; the rest gather behind it
        (staff, tickets[2]),
        (staff, twice),  # a second scan of the first ticket
        ("fs_" + "x" * 43, tickets[3]),  # an unknown token, among the others
        (staff, forged),
        (staff, elsewhere),
        (other["staff"], tickets[4]),  # another festival's staff
        (staff, tickets[5]),
        (staff, tickets[5]),  # two scans of one ticket in the same batch
    ]
    outcomes = await asyncio.gather(
        *(line.admit(token, slug, qr, FESTIVAL_LIST, "G1") for token, qr in scans),
        return_exceptions=True,
    )

    assert line.batches == [1, 7]  # the forged scan never reached the statement
    admitted = [o for o in outcomes if isinstance(o, Admitted)]
    assert [outcomes.index(o) for o in admitted] == [0, 1, 7]
    # Repeats, a forged payload and another festival's ticket: check_in's to answer.
    assert [outcomes[n] for n in (2, 8, 4, 5)] == [None] * 4
    assert isinstance(outcomes[3], FestivalError)
    assert isinstance(outcomes[6], FestivalError)
    rows = await _rows(backend)
    assert sorted(r.id for r in rows) == sorted(o.id for o in admitted)
    assert {r.reply["id"]: r.reply for r in rows if r.reply} == {
        str(o.id): checkin.record(o) for o in admitted
    }


class _BrokenLine(_CountedLine):
    """A line whose second batch meets a row it cannot write (a check-in id taken)."""

    async def _admit(self, scans: Sequence[dict[str, Any]]) -> Sequence[Sequence[Any] | None]:
        if self.batches:
            async with unit_of_work(make_sessionmaker(self._engine)) as session:
                taken = {
                    "festival_id": scans[0]["festival_id"],
                    "list_key": "x",
                    "result": "invalid",
                }
                session.add(Checkin(id=scans[-1]["id"], **taken))
        return await super()._admit(scans)


@POSTGRES_ONLY
async def test_a_batch_with_a_row_it_cannot_write_writes_nothing_and_leaves_each_to_check_in(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    door, tickets = await _door_and_tickets(client, backend, 4)
    slug, staff = door["slug"], door["staff"]
    line = _BrokenLine(backend)

    outcomes = await asyncio.gather(
        *(line.admit(staff, slug, qr, FESTIVAL_LIST, "G1") for qr in tickets)
    )

    assert line.batches == [1, 3]
    assert isinstance(outcomes[0], Admitted)
    assert outcomes[1:] == [None, None, None]
    assert [r.result for r in await _rows(backend)] == ["ok", "invalid"]  # and the taken row
    for qr in tickets[1:]:  # check_in then admits each, alone
        assert isinstance(await _check_in(backend, staff, slug, qr), Admitted)
