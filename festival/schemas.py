"""Pydantic shapes of the core: festivals, auth and staff tokens."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from typing import Any, Generic, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

T = TypeVar("T")
Slug = str
SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Unicode's bidirectional embeddings, overrides and isolates: a name holding U+202E
# shows reversed on the door screen and in CSVs ("Trojan source"). The plain marks
# (U+200E, U+200F, U+061C) cannot reorder text and stay allowed.
BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_BIDI = re.compile(f"[{BIDI_CONTROLS}]")


def _control_path(value: Any, path: str = "") -> tuple[str, str] | None:
    """Where in ``value`` a string holds a control character, and which kind, if anywhere."""
    if isinstance(value, str):
        if _CONTROL.search(value):
            return path, "control characters are not allowed"
        if _BIDI.search(value):
            return path, "bidirectional control characters (U+202A-E, U+2066-9) are not allowed"
        return None
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list | tuple):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = _control_path(item, f"{path}.{key}" if path else str(key))
        if found is not None:
            return found
    return None


class Input(BaseModel):
    """Inputs refuse fields they do not know, and text with control characters
    other than tab and newlines (PostgreSQL cannot store NUL, XML and iCal
    exports cannot carry the others, and no person types one) or with
    bidirectional overrides (they make a name read differently from what it is)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _no_control_characters(cls, data: Any) -> Any:
        found = _control_path(data)
        if found is not None:
            where, problem = found
            raise ValueError(f"{where}: {problem}" if where else problem)
        return data


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {value!r}") from exc
    return value


MAX_DAYS = 366  # a festival lasts days, at most a year; the feeds list every day


def check_length(starts_on: date, ends_on: date) -> None:
    if ends_on < starts_on:
        raise ValueError("ends_on is before starts_on")
    if (ends_on - starts_on).days >= MAX_DAYS:
        raise ValueError(f"a festival lasts at most {MAX_DAYS} days")


class FestivalCreate(Input):
    slug: str = Field(pattern=SLUG_PATTERN, min_length=2, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    timezone: str = Field(max_length=64)
    starts_on: date
    ends_on: date
    mode: Literal["online", "hybrid", "onsite"]
    capacity: int = Field(ge=0, le=1_000_000)
    online_capacity: int | None = Field(
        default=None,
        ge=0,
        le=1_000_000,
        description="A hybrid festival's online places (capacity is the hall's); none: no limit",
    )
    description: str | None = Field(default=None, max_length=20_000)
    registration_opens_at: AwareDatetime | None = None
    registration_closes_at: AwareDatetime | None = None
    confirm_email: bool = Field(
        default=False,
        description="Registrations wait for the link e-mailed to the address (202 for all)",
    )
    confirm_hold_minutes: int = Field(
        default=60, ge=5, le=2880, description="How long an unconfirmed place is held"
    )
    waitlisted_live: bool = Field(
        default=False,
        description="Attendees on the waiting list join live sessions (read, ask, vote)",
    )
    reminder_minutes: int = Field(
        default=15, ge=0, le=1440, description="Minutes before a session to remind; 0: none"
    )
    retention_days: int = Field(
        default=180,
        ge=0,
        le=3650,
        description="Days after the festival's end after which attendees' personal data is purged",
    )
    terms: str | None = Field(
        default=None,
        max_length=50_000,
        description="The terms attendees agree to; a changed text asks them again",
    )

    _tz = field_validator("timezone")(check_timezone)

    @field_validator("ends_on")
    @classmethod
    def _ends_after_start(cls, value: date, info: ValidationInfo) -> date:
        starts_on = info.data.get("starts_on")
        if starts_on is not None:
            check_length(starts_on, value)
        return value

    @field_validator("registration_closes_at")
    @classmethod
    def _closes_after_open(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        opens = info.data.get("registration_opens_at")
        if value is not None and opens is not None and value <= opens:
            raise ValueError("registration_closes_at is not after registration_opens_at")
        return value


class FestivalUpdate(Input):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    timezone: str | None = Field(default=None, max_length=64)
    starts_on: date | None = None
    ends_on: date | None = None
    mode: Literal["online", "hybrid", "onsite"] | None = None
    capacity: int | None = Field(default=None, ge=0, le=1_000_000)
    online_capacity: int | None = Field(default=None, ge=0, le=1_000_000)
    description: str | None = Field(default=None, max_length=20_000)
    registration_opens_at: AwareDatetime | None = None
    registration_closes_at: AwareDatetime | None = None
    confirm_email: bool | None = None
    confirm_hold_minutes: int | None = Field(default=None, ge=5, le=2880)
    waitlisted_live: bool | None = None
    reminder_minutes: int | None = Field(default=None, ge=0, le=1440)
    retention_days: int | None = Field(default=None, ge=0, le=3650)
    terms: str | None = Field(default=None, max_length=50_000)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str | None) -> str | None:
        return None if value is None else check_timezone(value)


class FestivalRead(Output):
    id: uuid.UUID
    slug: str
    name: str
    timezone: str
    starts_on: date
    ends_on: date
    mode: str
    capacity: int
    online_capacity: int | None
    description: str | None
    registration_opens_at: datetime | None
    registration_closes_at: datetime | None
    confirm_email: bool
    confirm_hold_minutes: int
    waitlisted_live: bool
    reminder_minutes: int
    published: bool = Field(validation_alias="is_published")
    published_at: datetime | None
    retention_days: int
    personal_data_purged_at: datetime | None
    terms: str | None
    terms_version: str | None


class TokenRequest(Input):
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=500)


class TokenReply(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"


class StaffTokenCreate(Input):
    role: Literal["moderator", "checkin"]
    # A scope is a stage's or a moderator's handful of sessions (no list: all of
    # them). The bound keeps the check that each is the festival's to one
    # statement of bounded size, and the list stored on the token, which is read
    # on every request the token makes, small.
    session_ids: list[uuid.UUID] | None = Field(
        default=None,
        max_length=500,
        description="Sessions of this festival the token is limited to (none: all of them)",
    )
    label: str = Field(default="", max_length=200)
    expires_at: AwareDatetime | None = None


class StaffTokenRead(Output):
    id: uuid.UUID
    role: str
    session_ids: list[str] | None
    label: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class StaffTokenIssued(StaffTokenRead):
    token: str


TeamRole = Literal["owner", "editor", "registrations", "viewer"]


class MemberInvite(Input):
    email: EmailStr = Field(max_length=320)
    role: TeamRole


class MemberUpdate(Input):
    role: TeamRole


class MemberRead(BaseModel):
    """A member of a festival's team, or an invitation not accepted yet."""

    id: uuid.UUID = Field(description="The member's (or, while invited, the invitation's) id")
    email: str
    name: str | None = None
    role: TeamRole
    status: Literal["active", "invited"]
    created_at: datetime
    expires_at: datetime | None = Field(default=None, description="When an invitation lapses")


class InvitationAccept(Input):
    code: str = Field(min_length=1, max_length=200, description="The code from the e-mailed link")
    password: str = Field(
        min_length=10,
        max_length=500,
        description="The new account's password; for an e-mail that has an account, its password",
    )
    name: str | None = Field(default=None, max_length=200)


class InvitationAccepted(TokenReply):
    festival: str = Field(description="The slug of the festival whose team this joined")
    role: TeamRole


class PasswordResetAsk(Input):
    email: EmailStr = Field(max_length=320)


class PasswordResetAsked(BaseModel):
    """``202``: the same for every address, with an account or not."""

    status: Literal["sent"] = "sent"
    detail: str


class PasswordSet(Input):
    code: str = Field(min_length=1, max_length=200, description="The code from the e-mailed link")
    password: str = Field(min_length=10, max_length=500)
