"""Two festivals and a dozen callers, for the access matrix (``test_access_matrix``).

Festival A has one of everything an operation can name (track, room, speaker,
sessions, staff tokens, registrations, a check-in, questions, polls), so that a
404 for a caller means "hidden from you", never "no such thing". Festival B is
the neighbour whose organiser, door staff and attendee must not reach into A,
and whose objects A's own callers must not reach through A's addresses. A's
organiser also has an unpublished festival, with a programme.

A's private data carries markers (e-mails, an attendee's name, a pending
question, a draft poll, a staff label, the name of the unpublished festival),
each with the callers that may see it: the matrix checks that no other caller's
reply contains one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
from argon2 import PasswordHasher
from sqlalchemy.ext.asyncio import AsyncEngine

from festival.auth import issue_token
from festival.db import make_sessionmaker, unit_of_work
from festival.models import Account
from tests.factories import festival as ff
from tests.factories import schedule as sf
from tests.factories import tickets as tf
from tests.factories.festival import auth

API = "/api/v1"
PASSWORD = "correct horse battery"

# The callers, by what they hold. ``anonymous`` holds nothing; ``garbage`` a
# token-shaped string no one issued; ``revoked`` a check-in token of A that its
# organiser revoked; ``feed_a`` attendee A's calendar feed token (a URL secret,
# never a bearer token); ``moderator_a`` is staff scoped to A's live session.
# ``organiser_a`` is A's owner; ``editor_a``, ``registrations_a`` and ``viewer_a``
# are organiser accounts with that role in A's team (festival.roles), and
# ``organiser_b`` is another festival's owner.
CALLERS = (
    "anonymous",
    "garbage",
    "revoked",
    "feed_a",
    "organiser_a",
    "organiser_b",
    "editor_a",
    "registrations_a",
    "viewer_a",
    "checkin_a",
    "checkin_b",
    "moderator_a",
    "projector_a",
    "attendee_a",
    "attendee_b",
)
# Callers without a valid bearer token: when refused, the contract says 401.
UNAUTHENTICATED = frozenset({"anonymous", "garbage", "revoked", "feed_a"})


def at(day: int, hour: int) -> str:
    """A local time at the festivals (Europe/Amsterdam is +02:00 in October 2030)."""
    return f"2030-10-{day:02d}T{hour:02d}:00:00+02:00"


@dataclass
class World:
    """What the matrix needs: A's slug and object ids (``ids``), B's objects under
    the same keys (``foreign_ids``), the callers' tokens and A's private markers."""

    slug_a: str
    slug_b: str
    tokens: dict[str, str | None]
    ids: dict[str, str]
    foreign_ids: dict[str, str]
    qr: dict[str, str]
    owner_email: str
    # marker text -> the callers that may see it
    markers: dict[str, frozenset[str]] = field(default_factory=dict)
    draft_slug: str = ""
    draft_ids: dict[str, str] = field(default_factory=dict)

    def draft(self) -> World:
        """This world with A's organiser's unpublished festival standing in for A."""
        return replace(self, slug_a=self.draft_slug, ids=self.ids | self.draft_ids)


async def _organiser(engine: AsyncEngine, email: str) -> str:
    """An organiser who signs in with ``PASSWORD``, and a bearer token.

    The hash is Argon2 with the cheapest parameters (they travel in the hash, so
    ``verify`` follows them): every caller signs in once per run, and the
    production cost on a loaded CI machine would be most of the run.
    """
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    async with unit_of_work(make_sessionmaker(engine)) as session:
        account = Account(id=uuid.uuid4(), email=email, password_hash=cheap.hash(PASSWORD))
        session.add(account)
        await session.flush()
        _, raw = await issue_token(session, "organiser", account_id=account.id)
    return raw


def _ok(response: httpx.Response, status: int = 201) -> dict[str, Any]:
    assert response.status_code == status, (response.request.url, response.text)
    if status == 204:
        return {}
    body: dict[str, Any] = response.json()
    return body


async def _programme(
    client: httpx.AsyncClient, organiser: str, slug: str, speaker_email: str | None = None
) -> dict[str, str]:
    """A track, room and speaker, a live keynote with all three, a workshop with
    seats, and one spare of each kind for the deletes: their ids."""
    track = await sf.track(client, organiser, slug)
    room = await sf.room(client, organiser, slug, kind="physical", capacity=50)
    speaker = await sf.speaker(client, organiser, slug, email=speaker_email)
    keynote = await sf.session(
        client,
        organiser,
        slug,
        at(8, 9),
        at(8, 10),
        format="keynote",
        track_id=track["id"],
        room_id=room["id"],
        speaker_ids=[speaker["id"]],
        live_qa=True,
    )
    workshop = await sf.session(
        client, organiser, slug, at(8, 11), at(8, 12), format="workshop", capacity=10
    )
    return {
        "track": track["id"],
        "room": room["id"],
        "speaker": speaker["id"],
        "keynote": keynote["id"],
        "workshop": workshop["id"],
        "spare_track": (await sf.track(client, organiser, slug))["id"],
        "spare_room": (await sf.room(client, organiser, slug))["id"],
        "spare_speaker": (await sf.speaker(client, organiser, slug))["id"],
        "spare_session": (await sf.session(client, organiser, slug, at(9, 9), at(9, 10)))["id"],
        "form_question": await _question(client, organiser, slug),
        "spare_form_question": await _question(client, organiser, slug),
    }


async def _question(client: httpx.AsyncClient, organiser: str, slug: str) -> str:
    made = await client.post(
        f"/api/v1/festivals/{slug}/questions",
        json={"kind": "text", "label": "Anything we should know?"},
        headers={"Authorization": f"Bearer {organiser}"},
    )
    assert made.status_code == 201, made.text
    question_id: str = made.json()["id"]
    return question_id


async def _staff(
    client: httpx.AsyncClient, organiser: str, slug: str, role: str, label: str, **body: Any
) -> dict[str, Any]:
    response = await client.post(
        f"{API}/festivals/{slug}/staff-tokens",
        json={"role": role, "label": label, **body},
        headers=auth(organiser),
    )
    return _ok(response)


async def _checked_in(
    client: httpx.AsyncClient, door: str, slug: str, registration: dict[str, Any]
) -> str:
    response = await client.post(
        f"{API}/festivals/{slug}/checkins",
        json={"qr": registration["ticket"]["qr"]},
        headers=auth(door),
    )
    checkin_id: str = _ok(response)["id"]
    return checkin_id


async def _live(
    client: httpx.AsyncClient, session_id: str, moderator: str, asker: str, tag: str
) -> dict[str, str]:
    """In a live session: a pending and an approved question, a draft poll, a
    poll to open, one to close and one open for votes (ids); the pending
    question and the draft poll carry ``tag`` in their text."""
    live, mod, ask = f"{API}/sessions/{session_id}", auth(moderator), auth(asker)
    pending = {"text": f"Pending question {tag}?"}
    _ok(await client.post(f"{live}/questions", json=pending, headers=ask))
    approved = _ok(await client.post(f"{live}/questions", json={"text": "Asked?"}, headers=ask))
    approve = {"action": "approve"}
    _ok(await client.patch(f"{live}/questions/{approved['id']}", json=approve, headers=mod), 200)

    async def poll(question: str, opened: bool) -> dict[str, Any]:
        body = {"question": question, "kind": "single", "options": ["Yes", "No"]}
        made = _ok(await client.post(f"{live}/polls", json=body, headers=mod))
        if opened:
            _ok(await client.post(f"{live}/polls/{made['id']}/open", headers=mod), 200)
        return made

    await poll(f"Draft poll {tag}", opened=False)
    open_poll = await poll("Open", opened=True)
    return {
        "question": approved["id"],
        "poll_to_open": (await poll("To open", opened=False))["id"],
        "poll_to_close": (await poll("To close", opened=True))["id"],
        "poll_open": open_poll["id"],
        "poll_open_option": open_poll["options"][0]["id"],
    }


async def _registration_row(engine: AsyncEngine, festival_id: str) -> str:
    """A registration written directly (an unpublished festival takes none), for the
    reads of a draft that name one."""
    from tickets.models import Registration

    async with unit_of_work(make_sessionmaker(engine)) as session:
        row = Registration(
            id=uuid.uuid4(),
            festival_id=uuid.UUID(festival_id),
            name="Drafted",
            email=f"drafted-{uuid.uuid4().hex[:8]}@example.org",
            status="confirmed",
        )
        session.add(row)
    return str(row.id)


async def _member_id(client: httpx.AsyncClient, owner: str, slug: str, token: str) -> str:
    """The member id of the account behind ``token`` (the newest member) in ``slug``'s team."""
    reply = await client.get(f"{API}/festivals/{slug}/members", headers=auth(owner))
    active = [item for item in _ok(reply, 200)["items"] if item["status"] == "active"]
    member_id: str = max(active, key=lambda item: item["created_at"])["id"]
    assert token
    return member_id


async def build_world(client: httpx.AsyncClient, engine: AsyncEngine) -> World:
    """Festivals A and B, published and open, with every kind of object and caller."""
    tag = uuid.uuid4().hex[:8]
    owner_email = f"owner-{tag}@festival-a.example"
    org_a, org_b = await _organiser(engine, owner_email), await tf.fast_organiser(engine)
    made_a = await ff.festival(client, org_a, name=f"Festival A {tag}")
    slug_a = made_a["slug"]
    member_email = f"editor-{tag}@team-a.example"
    team = {
        f"{role}_a": await ff.team_member(
            engine, made_a["id"], role, member_email if role == "editor" else None
        )
        for role in ("editor", "registrations", "viewer")
    }
    spare_member = await ff.team_member(engine, made_a["id"], "viewer")
    spare_member_id = await _member_id(client, org_a, slug_a, spare_member)
    made_b = await ff.festival(client, org_b, name=f"Festival B {tag}")
    slug_b = made_b["slug"]
    draft_name = f"Draft festival {tag}"
    made_draft = await ff.festival(client, org_a, publish=False, name=draft_name)
    draft_slug = made_draft["slug"]
    speaker_email = f"speaker-{tag}@private.example"
    ids = await _programme(client, org_a, slug_a, speaker_email)
    # The keynote's stream is for A's participants: its URL is a marker like an e-mail.
    stream_url = f"https://stream-{tag}.example.org/keynote"
    keynote = f"{API}/festivals/{slug_a}/sessions/{ids['keynote']}"
    _ok(await client.patch(keynote, json={"stream_url": stream_url}, headers=auth(org_a)), 200)
    foreign = await _programme(client, org_b, slug_b)
    draft = await _programme(client, org_a, draft_slug)
    draft["registration"] = await _registration_row(engine, made_draft["id"])

    door_label = f"door-{tag}"
    checkin_a = await _staff(client, org_a, slug_a, "checkin", door_label)
    moderator_a = await _staff(
        client, org_a, slug_a, "moderator", "stage", session_ids=[ids["keynote"]]
    )
    ids["spare_staff"] = (await _staff(client, org_a, slug_a, "checkin", "spare"))["id"]
    revoked = await _staff(client, org_a, slug_a, "checkin", "revoked")
    revoke = f"{API}/festivals/{slug_a}/staff-tokens/{revoked['id']}"
    _ok(await client.delete(revoke, headers=auth(org_a)), 204)
    checkin_b = await _staff(client, org_b, slug_b, "checkin", "door-b")
    foreign["spare_staff"] = (await _staff(client, org_b, slug_b, "checkin", "spare"))["id"]
    ids["device"] = await tf.scanner_device(client, checkin_a["token"], slug_a, f"Scanner {tag}")
    ids["spare_device"] = await tf.scanner_device(client, checkin_a["token"], slug_a, "spare")
    foreign["spare_device"] = await tf.scanner_device(client, checkin_b["token"], slug_b)
    link = f"{API}/sessions/{ids['keynote']}/projector-links"
    projector = _ok(await client.post(link, headers=auth(moderator_a["token"])))

    attendee_name, attendee_email = f"Ada {tag}", f"ada-{tag}@private.example"
    attendee_a = await tf.registered(client, slug_a, name=attendee_name, email=attendee_email)
    asker = await tf.registered(client, slug_a)  # asks the questions, is checked in
    scanned = await tf.registered(client, slug_a)  # its QR is uploaded by the offline sync
    attendee_b = await tf.registered(client, slug_b)
    ids["registration"], foreign["registration"] = attendee_a["id"], attendee_b["id"]
    ids["spare_registration"] = (await tf.registered(client, slug_a))["id"]
    foreign["spare_registration"] = (await tf.registered(client, slug_b))["id"]
    me = auth(attendee_a["attendee_token"])
    _ok(await client.put(f"{API}/me/seats/{ids['workshop']}", headers=me), 200)
    _ok(await client.put(f"{API}/me/favourites/{ids['workshop']}", headers=me), 204)
    ids["checkin"] = await _checked_in(client, checkin_a["token"], slug_a, asker)
    foreign["checkin"] = await _checked_in(client, checkin_b["token"], slug_b, attendee_b)
    ids |= await _live(client, ids["keynote"], moderator_a["token"], asker["attendee_token"], tag)
    foreign |= await _live(client, foreign["keynote"], org_b, attendee_b["attendee_token"], "B")

    tokens: dict[str, str | None] = {
        "anonymous": None,
        "garbage": "fa_" + uuid.uuid4().hex + uuid.uuid4().hex[:11],
        "revoked": revoked["token"],
        "feed_a": attendee_a["feed_token"],
        "organiser_a": org_a,
        "organiser_b": org_b,
        "checkin_a": checkin_a["token"],
        "checkin_b": checkin_b["token"],
        "moderator_a": moderator_a["token"],
        "projector_a": projector["token"],
        "attendee_a": attendee_a["attendee_token"],
        "attendee_b": attendee_b["attendee_token"],
        **team,
    }
    assert set(tokens) == set(CALLERS)
    ids["spare_member"] = spare_member_id
    kept = await ff.team_member(engine, made_a["id"], "viewer")
    ids["member"] = await _member_id(client, org_a, slug_a, kept)
    foreign["member"] = foreign["spare_member"] = await _member_id(
        client, org_b, slug_b, await ff.team_member(engine, made_b["id"], "viewer")
    )
    qr = {"attendee_a": attendee_a["ticket"]["qr"], "scanned": scanned["ticket"]["qr"]}
    organiser = frozenset({"organiser_a"})
    editors = organiser | {"editor_a"}
    registrations = organiser | {"registrations_a"}
    moderators = editors | {"moderator_a"}
    markers = {
        owner_email: organiser,
        member_email: organiser,
        speaker_email: editors,
        attendee_email: registrations | {"attendee_a"},
        attendee_name: registrations | {"attendee_a", "checkin_a"},
        f"Pending question {tag}?": moderators,
        f"Draft poll {tag}": moderators,
        stream_url: moderators,  # GET .../join before opens_at: those who run the session
        door_label: organiser,
        f"Scanner {tag}": registrations | {"checkin_a"},
        draft_name: organiser,
    }
    return World(slug_a, slug_b, tokens, ids, foreign, qr, owner_email, markers, draft_slug, draft)


async def with_new_attendees(client: httpx.AsyncClient, world: World) -> World:
    """``world`` with attendees A and B (and A's feed token) registered anew, for an
    operation that spends them (cancelling, reissuing, rotating the feed token)."""
    attendee_a = await tf.registered(client, world.slug_a)
    attendee_b = await tf.registered(client, world.slug_b)
    tokens = world.tokens | {
        "attendee_a": attendee_a["attendee_token"],
        "attendee_b": attendee_b["attendee_token"],
        "feed_a": attendee_a["feed_token"],
    }
    qr = world.qr | {"attendee_a": attendee_a["ticket"]["qr"]}
    return replace(world, tokens=tokens, qr=qr)
