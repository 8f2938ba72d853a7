"""Who may succeed at each operation: the table the access matrix checks the app against.

One row per operation (``METHOD /path`` as the OpenAPI document spells it, or
``WS /path`` for the live socket): a new route fails the matrix until it has
a row here. The callers are ``tests.security.world.CALLERS``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.factories.festival import festival_body
from tests.security.world import CALLERS, PASSWORD, World, at

WS = "WS /ws/sessions/{session_id}"  # API.md, Live sessions; served before the router

# --- who may do what ------------------------------------------------------------

EVERYONE = frozenset(CALLERS)
# A route that reads an optional bearer token: no token is fine, a bad one is 401.
READERS = EVERYONE - {"garbage", "revoked", "feed_a"}
# A's team (festival.roles): the owner may do everything; the others what their role grants.
ORGANISER_A = frozenset({"organiser_a"})
TEAM_A = ORGANISER_A | {"editor_a", "registrations_a", "viewer_a"}
EDITORS_A = ORGANISER_A | {"editor_a"}  # the programme and the live sessions
REGISTRARS_A = ORGANISER_A | {"registrations_a"}  # attendees and the door's side
# Any organiser account may create a festival (and own it).
ORGANISERS = TEAM_A | {"organiser_b"}
DOOR_A = frozenset({"checkin_a"})
DOOR_AND_ORGANISER_A = REGISTRARS_A | DOOR_A
DOOR_AND_TEAM_A = TEAM_A | DOOR_A
MODERATORS_A = EDITORS_A | {"moderator_a"}
LIVE_A = MODERATORS_A | {"projector_a", "attendee_a"}
ATTENDEE_A = frozenset({"attendee_a"})
# /me routes act on the caller's own registration, whichever festival it is in.
ATTENDEES = ATTENDEE_A | {"attendee_b"}
FEED_A = frozenset({"feed_a"})


@dataclass(frozen=True)
class Raw:
    """A body that is not JSON."""

    content: str
    media_type: str


Body = Callable[[World], "dict[str, Any] | Raw"]


@dataclass(frozen=True)
class Rule:
    """Who may succeed at one operation, and how to call it.

    ``params`` maps a path parameter to a key of ``World.ids`` where the default
    (``DEFAULT_PARAMS``) does not fit; ``token_in="query"`` sends the caller's
    token as ``?token=`` (feeds, magic links, the websocket) instead of a header;
    ``also`` lists statuses an allowed caller may get besides 2xx/3xx (a conflict
    with the state an earlier allowed caller left); ``no_token`` the refusals of a
    caller without a valid token (the contract's 401, unless the row says why
    not); ``fresh`` gives the operation attendees of its own.
    """

    allowed: frozenset[str]
    body: Body | None = None
    params: dict[str, str] = field(default_factory=dict)
    token_in: str = "header"
    also: frozenset[int] = frozenset()
    no_token: frozenset[int] = frozenset({401})
    fresh: bool = False


def _unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:6]}"


def _message() -> dict[str, str]:
    return {"subject": "Doors open at nine", "body": "See you there.", "to": "confirmed"}


def _catalogue(path: str, key: str, create: Body, patch: Body) -> dict[str, Rule]:
    base = f"/api/v1/festivals/{{slug}}/{path}"
    return {
        f"POST {base}": Rule(EDITORS_A, body=create),
        f"GET {base}": Rule(READERS),
        f"GET {base}/{{item_id}}": Rule(READERS, params={"item_id": key}),
        f"PATCH {base}/{{item_id}}": Rule(EDITORS_A, body=patch, params={"item_id": key}),
        # The first deleting editor removes it: a second finds nothing (404).
        f"DELETE {base}/{{item_id}}": Rule(
            EDITORS_A, params={"item_id": f"spare_{key}"}, also=frozenset({404})
        ),
    }


FEST = "/api/v1/festivals/{slug}"
LIVE = "/api/v1/sessions/{session_id}"
PAGE = Rule(EVERYONE, token_in="query")  # pages never see a token; the API decides
RULES: dict[str, Rule] = {
    # system
    "GET /healthz": Rule(EVERYONE),
    "GET /readyz": Rule(EVERYONE),
    # Only FESTIVAL_METRICS_TOKEN (Prometheus's), which no caller here holds: 401 for
    # all, an organiser's token included (tests/security/test_metrics.py), once it is
    # set; 404 (metrics off) while it is not, as in the matrix's app.
    "GET /metrics": Rule(frozenset(), no_token=frozenset({401, 404})),
    "POST /api/v1/auth/token": Rule(
        EVERYONE, body=lambda w: {"email": w.owner_email, "password": PASSWORD}
    ),
    # festivals and staff tokens
    "POST /api/v1/festivals": Rule(ORGANISERS, body=lambda w: festival_body()),
    "GET /api/v1/festivals": Rule(READERS),
    f"GET {FEST}": Rule(READERS),
    f"PATCH {FEST}": Rule(ORGANISER_A, body=lambda w: {"description": "Now with more"}),
    f"POST {FEST}/publish": Rule(ORGANISER_A),
    f"POST {FEST}/staff-tokens": Rule(
        ORGANISER_A, body=lambda w: {"role": "checkin", "label": "extra"}
    ),
    f"GET {FEST}/staff-tokens": Rule(ORGANISER_A),
    f"DELETE {FEST}/staff-tokens/{{token_id}}": Rule(ORGANISER_A),
    # the team (owners only)
    f"POST {FEST}/members": Rule(
        ORGANISER_A, body=lambda w: {"email": f"new-{uuid.uuid4().hex[:8]}@x.org", "role": "viewer"}
    ),
    f"GET {FEST}/members": Rule(ORGANISER_A),
    f"PATCH {FEST}/members/{{member_id}}": Rule(ORGANISER_A, body=lambda w: {"role": "viewer"}),
    f"DELETE {FEST}/members/{{member_id}}": Rule(ORGANISER_A, params={"member_id": "spare_member"}),
    # The e-mailed code is the credential, not a bearer token: a wrong one is 410 for all.
    # Asking is 202 for every address, known or not (nothing is learnt).
    "POST /api/v1/auth/password-reset": Rule(EVERYONE, body=lambda w: {"email": w.owner_email}),
    # The e-mailed code is the credential: a wrong one is 410 for all.
    "POST /api/v1/auth/password": Rule(
        EVERYONE,
        body=lambda w: {"code": "fp_not-a-code", "password": "long enough password"},
        also=frozenset({410}),
    ),
    "POST /api/v1/invitations/accept": Rule(
        EVERYONE,
        body=lambda w: {"code": "fi_not-a-code", "password": "long enough password"},
        also=frozenset({410}),
    ),
    # programme
    **_catalogue(
        "tracks", "track", lambda w: {"name": _unique("Track")}, lambda w: {"description": "x"}
    ),
    **_catalogue("rooms", "room", lambda w: {"name": _unique("Room")}, lambda w: {"capacity": 40}),
    **_catalogue(
        "speakers", "speaker", lambda w: {"name": _unique("Speaker")}, lambda w: {"bio": "x"}
    ),
    f"POST {FEST}/sessions": Rule(
        EDITORS_A,
        body=lambda w: {"title": _unique("Talk"), "starts_at": at(9, 14), "ends_at": at(9, 15)},
    ),
    f"GET {FEST}/sessions": Rule(READERS),
    f"GET {FEST}/sessions/{{session_id}}": Rule(READERS),
    f"PATCH {FEST}/sessions/{{session_id}}": Rule(EDITORS_A, body=lambda w: {"abstract": "x"}),
    # A published programme keeps its sessions (cancel instead): 409 for the organiser.
    f"DELETE {FEST}/sessions/{{session_id}}": Rule(
        EDITORS_A, params={"session_id": "spare_session"}, also=frozenset({409})
    ),
    f"GET {FEST}/programme": Rule(READERS),
    f"GET {FEST}/changes": Rule(READERS),
    f"GET {FEST}/now": Rule(READERS),
    f"GET {FEST}/calendar.ics": Rule(READERS),
    f"GET {FEST}/schedule.xml": Rule(READERS),
    f"GET {FEST}/schedule.json": Rule(READERS),
    f"GET {FEST}/programme.csv": Rule(READERS),
    f"POST {FEST}/programme/import": Rule(
        EDITORS_A,
        body=lambda w: Raw(
            f"title,format,starts_at,ends_at\nImported,talk,{at(9, 16)},{at(9, 17)}\n", "text/csv"
        ),
    ),
    # registration and the attendee's own routes
    f"POST {FEST}/registrations": Rule(
        EVERYONE,
        body=lambda w: {"name": "Grace", "email": f"g-{uuid.uuid4().hex[:8]}@example.org"},
    ),
    # the registration form's questions: everyone reads, the registrations role keeps them
    f"GET {FEST}/questions": Rule(READERS),
    f"GET {FEST}/occupancy": Rule(READERS),
    f"POST {FEST}/questions": Rule(
        REGISTRARS_A, body=lambda w: {"kind": "text", "label": _unique("Access needs")}
    ),
    f"PATCH {FEST}/questions/{{question_id}}": Rule(
        REGISTRARS_A, body=lambda w: {"help": "Anything"}, params={"question_id": "form_question"}
    ),
    f"DELETE {FEST}/questions/{{question_id}}": Rule(
        REGISTRARS_A, params={"question_id": "spare_form_question"}
    ),
    f"GET {FEST}/registrations": Rule(REGISTRARS_A),
    # The e-mailed code is the credential, not a bearer token: a wrong one is 410 for all.
    "POST /api/v1/registrations/confirm": Rule(
        EVERYONE, body=lambda w: {"code": "fc_not-a-code"}, also=frozenset({410})
    ),
    f"GET {FEST}/attendees.csv": Rule(REGISTRARS_A),
    "GET /api/v1/me": Rule(ATTENDEES),
    # personal data: the attendee's own, and one attendee's for A's registrars (logged)
    "GET /api/v1/me/export": Rule(ATTENDEES),
    "DELETE /api/v1/me": Rule(ATTENDEES, fresh=True),
    "GET /api/v1/me/consent": Rule(ATTENDEES),
    # Neither A nor B has terms: agreeing to none is agreeing to the current ones.
    "PUT /api/v1/me/consent": Rule(ATTENDEES, body=lambda w: {"terms_version": None}),
    f"GET {FEST}/registrations/{{registration_id}}/export": Rule(REGISTRARS_A),
    # Erasing an erased registration again changes nothing: 204 for the second registrar.
    f"DELETE {FEST}/registrations/{{registration_id}}": Rule(
        REGISTRARS_A, params={"registration_id": "spare_registration"}
    ),
    f"GET {FEST}/privacy-log": Rule(ORGANISER_A),
    "DELETE /api/v1/me/registration": Rule(ATTENDEES, fresh=True),
    "GET /api/v1/me/ticket.png": Rule(ATTENDEES),
    "GET /api/v1/me/ticket.svg": Rule(ATTENDEES),
    "POST /api/v1/me/ticket/reissue": Rule(ATTENDEES, fresh=True),
    "PUT /api/v1/me/seats/{session_id}": Rule(ATTENDEE_A, params={"session_id": "workshop"}),
    "DELETE /api/v1/me/seats/{session_id}": Rule(ATTENDEE_A, params={"session_id": "workshop"}),
    "PUT /api/v1/me/favourites/{session_id}": Rule(ATTENDEE_A, params={"session_id": "workshop"}),
    # Unfavouriting, like releasing a seat, checks the session's festival first: 404.
    "DELETE /api/v1/me/favourites/{session_id}": Rule(
        ATTENDEE_A, params={"session_id": "workshop"}
    ),
    # The feed's URL is its key: an unknown, revoked or missing one is no such feed.
    "GET /api/v1/me/agenda.ics": Rule(FEED_A, token_in="query", no_token=frozenset({404})),
    "POST /api/v1/me/feed-token": Rule(ATTENDEES, fresh=True),
    # sign-in links: asking answers alike for any address; the e-mailed code is the credential
    f"POST {FEST}/access-links": Rule(EVERYONE, body=lambda w: {"email": "who@example.org"}),
    "POST /api/v1/auth/attendee": Rule(
        EVERYONE, body=lambda w: {"code": "fc_not-a-code"}, also=frozenset({410})
    ),
    "GET /api/v1/me/devices": Rule(ATTENDEES),
    "PATCH /api/v1/me": Rule(ATTENDEES, body=lambda w: {"reminders": True}),
    # the organiser's messages to attendees: the owner and editors
    f"POST {FEST}/messages/preview": Rule(EDITORS_A, body=lambda w: _message()),
    f"POST {FEST}/messages": Rule(EDITORS_A, body=lambda w: _message()),
    f"GET {FEST}/messages": Rule(EDITORS_A),
    f"POST {FEST}/speakers/{{speaker_id}}/invite": Rule(
        EDITORS_A, params={"speaker_id": "speaker"}
    ),
    # tests/security/test_sign_in_links.py ends a device of one's own; here, another's is 404
    "DELETE /api/v1/me/devices/{token_id}": Rule(ATTENDEES, also=frozenset({404})),
    "DELETE /api/v1/me/feed-token": Rule(ATTENDEES, fresh=True),
    # check-in
    f"POST {FEST}/checkins": Rule(DOOR_A, body=lambda w: {"qr": w.qr["attendee_a"]}),
    f"DELETE {FEST}/checkins/{{checkin_id}}": Rule(DOOR_A),
    f"GET {FEST}/checkin-bundle": Rule(DOOR_A),
    f"POST {FEST}/checkins/sync": Rule(
        DOOR_A,
        body=lambda w: {
            "scans": [{"qr": w.qr["scanned"], "scanned_at": at(8, 8), "device_id": w.ids["device"]}]
        },
    ),
    f"POST {FEST}/devices": Rule(DOOR_A, body=lambda w: {"name": "Another tablet"}),
    f"GET {FEST}/devices": Rule(DOOR_AND_ORGANISER_A),
    f"DELETE {FEST}/devices/{{device_id}}": Rule(
        REGISTRARS_A, params={"device_id": "spare_device"}
    ),
    # Counts only, no personal data: the whole team and the door.
    f"GET {FEST}/checkins/stats": Rule(DOOR_AND_TEAM_A),
    f"GET {FEST}/checkins/arrivals.svg": Rule(DOOR_AND_TEAM_A),
    # live sessions (the REST mirrors and the socket)
    # The stream, from 15 minutes before the start: the festival of 2030 is not there
    # yet, so A's attendee hears when it opens (409); those who run it get it now.
    f"GET {LIVE}/join": Rule(MODERATORS_A | ATTENDEE_A, also=frozenset({409})),
    f"POST {LIVE}/projector-links": Rule(MODERATORS_A),
    f"GET {LIVE}/live": Rule(LIVE_A),
    f"PATCH {LIVE}/live": Rule(MODERATORS_A, body=lambda w: {"pre_moderation": True}),
    f"GET {LIVE}/questions": Rule(LIVE_A),
    f"POST {LIVE}/questions": Rule(
        ATTENDEE_A, body=lambda w: {"text": "From the matrix?", "anonymous": True}
    ),
    f"POST {LIVE}/questions/{{question_id}}/vote": Rule(ATTENDEE_A, body=lambda w: {"up": True}),
    f"PATCH {LIVE}/questions/{{question_id}}": Rule(
        MODERATORS_A, body=lambda w: {"action": "highlight"}
    ),
    f"GET {LIVE}/questions.csv": Rule(MODERATORS_A),
    f"GET {LIVE}/polls.csv": Rule(MODERATORS_A),
    f"GET {LIVE}/polls": Rule(LIVE_A),
    f"POST {LIVE}/polls": Rule(
        MODERATORS_A,
        body=lambda w: {"question": "More?", "kind": "single", "options": ["Yes", "No"]},
    ),
    # The second moderator finds the poll already open (or closed): a 409, past the
    # moderator check, so a conflict and not a refusal.
    f"POST {LIVE}/polls/{{poll_id}}/open": Rule(
        MODERATORS_A, params={"poll_id": "poll_to_open"}, also=frozenset({409})
    ),
    f"POST {LIVE}/polls/{{poll_id}}/close": Rule(
        MODERATORS_A, params={"poll_id": "poll_to_close"}, also=frozenset({409})
    ),
    f"POST {LIVE}/polls/{{poll_id}}/votes": Rule(
        ATTENDEE_A, body=lambda w: {"option_ids": [w.ids["poll_open_option"]]}
    ),
    f"GET {LIVE}/polls/{{poll_id}}/results": Rule(LIVE_A),
    WS: Rule(LIVE_A, token_in="query"),
    # routes left out of the OpenAPI document: the document itself, docs and pages
    "GET /openapi.json": Rule(EVERYONE),
    "GET /docs": Rule(EVERYONE),
    "GET /docs/oauth2-redirect": Rule(EVERYONE),
    "GET /redoc": Rule(EVERYONE),
    "GET /": PAGE,
    "GET /f/{slug}": PAGE,
    "GET /f/{slug}/register": PAGE,
    "GET /f/{slug}/confirm": PAGE,
    "GET /f/{slug}/me": PAGE,
    "GET /f/{slug}/ticket": PAGE,
    "GET /checkin/{slug}": PAGE,
    "GET /live/{session_id}": PAGE,
    "GET /moderate/{session_id}": PAGE,
    "GET /present/{session_id}": PAGE,
    "GET /j/{code}": PAGE,
    "GET /organise/{slug}": PAGE,
    "GET /join": PAGE,
    "GET /reset": PAGE,
}

DEFAULT_PARAMS = {
    "session_id": "keynote",
    "question_id": "question",
    "poll_id": "poll_open",
    "checkin_id": "checkin",
    "token_id": "spare_staff",
    "member_id": "member",
    "registration_id": "registration",
}
