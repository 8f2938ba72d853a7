"""Pydantic shapes of tickets: registrations, tickets, seats, check-ins."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, EmailStr, Field

from festival.schemas import Input, Output


class ConsentGiven(Input):
    """What the attendee agrees to (tickets.consent)."""

    terms_version: str | None = Field(
        default=None, max_length=64, description="The festival's terms_version agreed to"
    )
    photo: bool = Field(default=False, description="May appear in the festival's photos")
    contact: bool = Field(default=False, description="May be contacted after the event")


class ConsentRead(BaseModel):
    terms: str | None
    terms_version: str | None
    agreed_terms_version: str | None
    photo: bool | None
    contact: bool | None
    at: datetime | None
    asks_again: bool = Field(description="No answer yet, or the terms changed since")


Participation = Literal["onsite", "online"]
QuestionKind = Literal["text", "choice", "choices", "yes_no"]
Answer = bool | str | list[str]


class QuestionCreate(Input):
    kind: QuestionKind
    label: str = Field(min_length=1, max_length=300)
    help: str | None = Field(default=None, max_length=1000)
    required: bool = False
    choices: list[Annotated[str, Field(min_length=1, max_length=200)]] | None = Field(
        default=None, max_length=50, description="For choice and choices: the options, in order"
    )
    at_door: bool = Field(default=False, description="Shown on the door screen with the name")
    position: int | None = Field(default=None, ge=0, le=1000, description="Last when left out")


class QuestionUpdate(Input):
    label: str | None = Field(default=None, min_length=1, max_length=300)
    help: str | None = Field(default=None, max_length=1000)
    required: bool | None = None
    choices: list[Annotated[str, Field(min_length=1, max_length=200)]] | None = Field(
        default=None, max_length=50
    )
    at_door: bool | None = None
    position: int | None = Field(default=None, ge=0, le=1000)


class QuestionRead(Output):
    id: uuid.UUID
    kind: str
    label: str
    help: str | None
    required: bool
    choices: list[str] | None
    at_door: bool
    position: int


class AnswerRead(BaseModel):
    question_id: uuid.UUID
    label: str = Field(description="The question as it was when answered")
    value: Answer


class RegistrationCreate(Input):
    name: str = Field(min_length=1, max_length=200)
    email: EmailStr = Field(max_length=320)
    organisation: str | None = Field(default=None, max_length=200)
    country: str | None = Field(default=None, max_length=100)
    consent: ConsentGiven | None = Field(
        default=None, description="What the attendee agreed to (optional; recorded with a time)"
    )
    participation: Participation | None = Field(
        default=None,
        description="A hybrid festival's line: onsite (the default) or online; others decide",
    )
    answers: dict[uuid.UUID, Answer] | None = Field(
        default=None, description="The festival's questions (GET …/questions) answered, by id"
    )


class TicketRead(BaseModel):
    id: uuid.UUID
    qr: str = Field(description="The QR payload text itself (see docs/tickets.md)")
    version: int


class RegistrationIssued(BaseModel):
    """The reply to a registration: the only time its secrets are shown."""

    id: uuid.UUID
    status: Literal["confirmed", "waitlisted"]
    participation: Participation = "onsite"
    waitlist_position: int | None = None
    attendee_token: str
    feed_token: str
    ticket: TicketRead | None = None


class RegistrationPending(BaseModel):
    """``202`` from a festival that confirms addresses: the same for every address."""

    status: Literal["pending"] = "pending"
    detail: str


class RegistrationConfirm(Input):
    code: str = Field(min_length=1, max_length=200, description="The code from the e-mailed link")


class AccessLinkAsk(Input):
    email: EmailStr = Field(max_length=320)


class AccessLinkSent(BaseModel):
    """``202``: the same for every address, registered or not."""

    status: Literal["sent"] = "sent"
    detail: str


class AttendeeSignIn(Input):
    code: str = Field(min_length=1, max_length=200, description="The code from the e-mailed link")
    device: str | None = Field(
        default=None, max_length=200, description="A name for this device, shown in /me/devices"
    )


class SignedIn(BaseModel):
    attendee_token: str
    feed_token: str


class AttendeeDevice(BaseModel):
    id: uuid.UUID
    label: str
    created_at: datetime
    current: bool = Field(description="The device this request came from")


class MessageCreate(Input):
    subject: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=20_000, description="Plain text")
    to: str = Field(
        max_length=60,
        description="confirmed, waitlisted, all, or session:<id> (its seat holders and "
        "those who saved it)",
    )


class MessagePreview(BaseModel):
    recipients: int
    subject: str
    body: str = Field(description="The letter each recipient gets, their name for <name>")


class MessageRead(BaseModel):
    id: uuid.UUID
    subject: str
    to: str
    recipients: int
    created_at: datetime
    sent: int
    waiting: int
    failing: int = Field(description="Not sent yet, and the last attempt failed")


class MeUpdate(Input):
    reminders: bool | None = Field(
        default=None, description="E-mail me before the sessions I saved or hold a seat for"
    )
    participation: Participation | None = Field(
        default=None, description="Switch lines (a hybrid festival): see API.md for the rule"
    )
    answers: dict[uuid.UUID, Answer] | None = Field(
        default=None, description="New answers, all of them, until the festival starts"
    )


class SpeakerInvited(BaseModel):
    speaker_id: uuid.UUID
    session_ids: list[uuid.UUID] = Field(description="The sessions the mailed links moderate")
    expires_at: datetime


class SessionOccupancy(BaseModel):
    """An on-site session with seats: how full it is (counts only)."""

    session_id: uuid.UUID
    capacity: int
    reserved: int = Field(description="Seats reserved")
    checked_in: int = Field(description="Scanned in at its door")
    waiting: int = Field(description="On its seat waiting list")


class FeedToken(BaseModel):
    feed_token: str


class SeatRead(BaseModel):
    session_id: uuid.UUID
    status: Literal["confirmed", "waitlisted"]
    waitlist_position: int | None = None


class MeRead(BaseModel):
    id: uuid.UUID
    festival: str
    festival_id: uuid.UUID
    name: str
    email: str
    organisation: str | None
    country: str | None
    status: str
    participation: Participation = "onsite"
    answers: list[AnswerRead] = []
    waitlist_position: int | None = None
    ticket: TicketRead | None = None
    seats: list[SeatRead] = []
    favourites: list[uuid.UUID] = []
    reminders: bool = Field(default=True, description="E-mails before my sessions")
    created_at: datetime


class RegistrationRead(Output):
    id: uuid.UUID
    name: str
    email: str
    organisation: str | None
    country: str | None
    status: str
    participation: str
    waitlist_seq: int | None
    created_at: datetime
    confirmed_at: datetime | None
    cancelled_at: datetime | None


class CheckinCreate(Input):
    qr: str = Field(max_length=2000)
    list: str = Field(default="festival", max_length=40, description='"festival" or a session id')
    gate: str | None = Field(default=None, max_length=100)


class CheckinReverted(BaseModel):
    id: uuid.UUID
    result: Literal["reverted"]
    reverts: uuid.UUID
    list: str
    reverted_at: datetime


class DeviceCreate(Input):
    name: str = Field(min_length=1, max_length=100, description="What the door calls it")


class DeviceRead(Output):
    id: uuid.UUID = Field(description="What an offline scan names as its device_id")
    name: str
    staff_token_id: uuid.UUID
    created_at: datetime
    revoked_at: datetime | None


class OfflineScan(Input):
    qr: str = Field(max_length=2000)
    scanned_at: AwareDatetime
    device_id: str = Field(
        min_length=1,
        max_length=100,
        description="The id POST /api/v1/festivals/{slug}/devices gave this scanner",
    )
    gate: str | None = Field(default=None, max_length=100)
    list: str = Field(default="festival", max_length=40)


class SyncRequest(Input):
    scans: list[Any] = Field(
        max_length=2000,
        description="Offline scans; each is checked on its own (see OfflineScan), "
        "so one malformed item does not spoil the rest",
    )


class SyncReply(BaseModel):
    results: list[dict[str, Any]]


class RevokedPayload(BaseModel):
    ticket_id: uuid.UUID
    version: int


class CheckinBundle(BaseModel):
    festival_id: uuid.UUID
    festival: str
    algorithm: Literal["Ed25519"] = "Ed25519"
    payload_format: int
    public_key: str = Field(description="Raw 32-byte Ed25519 public key, base64url")
    bundle_version: int
    generated_at: datetime
    revoked: list[RevokedPayload]
    revoked_ticket_ids: list[uuid.UUID]


class ListStats(BaseModel):
    list: str
    title: str
    checked_in: int
    expected: int
    capacity: int | None = Field(default=None, description="A session door's seats")
    waiting: int = Field(default=0, description="On a session's seat waiting list")


class ArrivalBucket(BaseModel):
    starts_at: datetime
    count: int


class CheckinStats(BaseModel):
    registrations: dict[str, int]
    participation: dict[str, dict[str, int]] = Field(
        default_factory=dict, description="The same counts per line (onsite, online)"
    )
    lists: list[ListStats]
    arrivals: list[ArrivalBucket]
    denied: dict[str, int]
