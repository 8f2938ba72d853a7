"""The wire protocol, Sans-I/O: frames in, decisions out, no ``await`` anywhere.

:func:`decide` maps a connection's state and one raw client frame to either an
immediate reply (pong, an error frame, maybe a close on repeated abuse) or a
:class:`Command` for the caller to run in one unit of work. Rate limits are
token buckets with an injected clock, so tests drive time by hand.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

Role = Literal["attendee", "moderator", "projector"]
# "nobody": a broker's own entry (an epoch's marker), numbered like events but never sent.
Audience = Literal["all", "staff", "moderators", "nobody"]
CLOSE_POLICY = 1008
CLOSE_RESTART = 1012
CLOSE_TOO_SLOW = 1013


@dataclass(frozen=True, slots=True)
class Event:
    """A server event before it has a sequence number. ``audience`` says who may see it."""

    type: str
    data: dict[str, Any]
    audience: Audience = "all"


def sees(role: str, audience: str) -> bool:
    if audience == "all":
        return True
    if audience == "staff":
        return role in ("moderator", "projector")
    return role == "moderator" and audience != "nobody"


def encode_event(seq: int, event: Event) -> str:
    return json.dumps({"type": event.type, "seq": seq, "data": event.data}, separators=(",", ":"))


def ack(frame_id: Any, data: dict[str, Any] | None = None) -> str:
    return json.dumps({"type": "ack", "id": frame_id, "data": data or {}}, separators=(",", ":"))


def error(frame_id: Any, code: str, message: str) -> str:
    body = {"type": "error", "id": frame_id, "code": code, "message": message}
    return json.dumps(body, separators=(",", ":"))


# Client frames' data. Inputs forbid fields they do not know, like every input.
class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid")


class QuestionAsk(_Data):
    text: str = Field(max_length=2000)
    anonymous: bool = False


class QuestionVote(_Data):
    question_id: uuid.UUID
    up: bool = True


class QuestionModerate(_Data):
    question_id: uuid.UUID
    action: Literal["approve", "dismiss", "highlight", "unhighlight", "answer", "reopen", "edit"]
    text: str | None = Field(default=None, max_length=2000)


class PollCreate(_Data):
    question: str = Field(min_length=1, max_length=500)
    kind: Literal["single", "multiple", "rating", "text"]
    options: list[Annotated[str, Field(min_length=1, max_length=200)]] | None = Field(
        default=None, max_length=20
    )
    max_choices: int | None = Field(default=None, ge=1, le=20)
    scale: int | None = Field(default=None, ge=2, le=10)
    hide_results: bool = False


class PollRef(_Data):
    poll_id: uuid.UUID


class PollVote(_Data):
    poll_id: uuid.UUID
    option_ids: list[uuid.UUID] | None = Field(default=None, max_length=20)
    rating: int | None = None
    text: str | None = Field(default=None, max_length=500)


class Ping(_Data):
    pass


FRAME_TYPES: dict[str, tuple[type[_Data], frozenset[str]]] = {
    "question.ask": (QuestionAsk, frozenset({"attendee"})),
    "question.vote": (QuestionVote, frozenset({"attendee"})),
    "question.moderate": (QuestionModerate, frozenset({"moderator"})),
    "poll.create": (PollCreate, frozenset({"moderator"})),
    "poll.open": (PollRef, frozenset({"moderator"})),
    "poll.close": (PollRef, frozenset({"moderator"})),
    "poll.vote": (PollVote, frozenset({"attendee"})),
    "ping": (Ping, frozenset({"attendee", "moderator", "projector"})),
}


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-connection limits. Buckets refill continuously; ``abuse_*`` decides the close."""

    max_frame_bytes: int = 4096
    questions_per_minute: float = 5
    question_burst: int = 3
    votes_per_second: float = 5
    vote_burst: int = 20
    # Pings cost a frame each way: a client that pings every few seconds never
    # notices, a flood gets error frames and then the policy close like any abuse.
    pings_per_second: float = 2
    ping_burst: int = 30
    abuse_errors: int = 20
    abuse_window: float = 60.0
    # Sockets one token (an attendee: one registration) may hold at once on a
    # node, and how often it may join: a burst, then one per ``1/joins_per_second``.
    max_sockets: int = 5
    joins_per_second: float = 0.5
    join_burst: int = 10
    # After a policy close, that token's next join waits this long.
    policy_cooldown: float = 30.0


@dataclass(slots=True)
class Bucket:
    """A token bucket: ``rate`` tokens per second, at most ``burst`` saved up."""

    rate: float
    burst: float
    tokens: float = -1.0
    at: float = 0.0

    def take(self, now: float) -> bool:
        if self.tokens < 0:
            self.tokens, self.at = self.burst, now
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


@dataclass(slots=True)
class Allowance:
    """One attendee's buckets (questions, votes, pings and joins), shared by all
    their sockets on a node; ``closed_until``: no join before then (a policy close)."""

    questions: Bucket
    votes: Bucket
    pings: Bucket
    joins: Bucket
    closed_until: float = 0.0

    @classmethod
    def of(cls, limits: Limits) -> Allowance:
        return cls(
            Bucket(limits.questions_per_minute / 60, limits.question_burst),
            Bucket(limits.votes_per_second, limits.vote_burst),
            Bucket(limits.pings_per_second, limits.ping_burst),
            Bucket(limits.joins_per_second, limits.join_burst),
        )

    def join_wait(self, now: float) -> float:
        """0 if a socket may join now (and count it), else the seconds to wait."""
        if now < self.closed_until:
            return self.closed_until - now
        if self.joins.take(now):
            return 0.0
        return (1 - self.joins.tokens) / self.joins.rate


@dataclass(slots=True)
class ClientState:
    """What the protocol remembers of one connection."""

    role: str
    limits: Limits = field(default_factory=Limits)
    allowance: Allowance | None = None
    strikes: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.allowance is None:
            self.allowance = Allowance.of(self.limits)

    @property
    def questions(self) -> Bucket:
        assert self.allowance is not None
        return self.allowance.questions

    @property
    def votes(self) -> Bucket:
        assert self.allowance is not None
        return self.allowance.votes

    def strike(self, now: float) -> bool:
        """Count one bad frame; True when the connection has abused its welcome."""
        window = self.limits.abuse_window
        self.strikes = [t for t in self.strikes if now - t < window]
        self.strikes.append(now)
        return len(self.strikes) >= self.limits.abuse_errors


@dataclass(frozen=True, slots=True)
class Command:
    """A valid, permitted, within-limits client request for the domain to run."""

    type: str
    id: Any
    data: Any


@dataclass(frozen=True, slots=True)
class Reply:
    """Frames to send at once; ``close`` is a close code when the client must go."""

    frames: tuple[str, ...]
    close: int | None = None


def decide(state: ClientState, raw: str | bytes, now: float) -> Command | Reply:
    """Parse, check and rate-limit one client frame."""
    if len(raw) > state.limits.max_frame_bytes:
        # The server caps frames well below what is costly to parse, so name the id if we can.
        return _refuse(state, now, _id_of(raw), "too_large", "The frame is larger than allowed")
    try:
        frame = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return _refuse(state, now, None, "bad_json", "The frame is not valid JSON")
    if not isinstance(frame, dict):
        return _refuse(state, now, None, "bad_frame", "A frame is a JSON object")
    frame_id = frame.get("id")
    if not isinstance(frame_id, str | int | None) or isinstance(frame_id, bool):
        return _refuse(state, now, None, "bad_frame", "id must be a string or a number")
    kind = frame.get("type")
    if not isinstance(kind, str) or kind not in FRAME_TYPES:
        return _refuse(state, now, frame_id, "unknown_type", f"Unknown frame type {kind!r}")
    schema, roles = FRAME_TYPES[kind]
    data = frame.get("data", {})
    try:
        parsed = schema.model_validate(data if data is not None else {})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "data"
        return _refuse(state, now, frame_id, "invalid", f"{where}: {first['msg']}")
    if state.role not in roles:
        return _refuse(state, now, frame_id, "forbidden", f"A {state.role} may not send {kind}")
    if kind == "ping":
        assert state.allowance is not None
        if not state.allowance.pings.take(now):
            return _refuse(state, now, frame_id, "rate_limited", "Too many pings; slow down")
        return Reply((ack(frame_id, {"pong": True}),))
    if kind == "question.ask" and not state.questions.take(now):
        return _refuse(state, now, frame_id, "rate_limited", "Too many questions; wait a minute")
    if kind in ("question.vote", "poll.vote") and not state.votes.take(now):
        return _refuse(state, now, frame_id, "rate_limited", "Too many votes; slow down")
    return Command(kind, frame_id, parsed)


def _refuse(state: ClientState, now: float, frame_id: Any, code: str, message: str) -> Reply:
    frame = error(frame_id, code, message)
    if state.strike(now):
        return Reply((frame,), close=CLOSE_POLICY)
    return Reply((frame,))


def _id_of(raw: str | bytes) -> Any:
    try:
        frame = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    found = frame.get("id") if isinstance(frame, dict) else None
    return found if isinstance(found, str | int) and not isinstance(found, bool) else None
