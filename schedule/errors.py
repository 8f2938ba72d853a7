"""Errors of the programme, each a family member from :mod:`festival.errors`."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from festival.errors import Conflict, FestivalError, Forbidden, Invalid, NotFound


class ScheduleClash(Conflict):
    """A room or a speaker would be in two places at once.

    Carries the clashing session (id, title, times) so a client can show it.
    """

    code = "schedule_clash"
    title = "Schedule clash"

    def __init__(
        self,
        detail: str,
        *,
        field: str,
        session_id: uuid.UUID,
        session_title: str,
        starts_at: datetime,
        ends_at: datetime,
    ) -> None:
        clashing: dict[str, Any] = {
            "id": str(session_id),
            "title": session_title,
            "starts_at": starts_at.isoformat(),
            "ends_at": ends_at.isoformat(),
        }
        super().__init__(detail, field=field, clashing_session=clashing)
        self.session_id = session_id


class OutsideFestival(Conflict):
    """A session that does not lie within the festival's dates (in its zone)."""

    code = "outside_festival"
    title = "Outside the festival's dates"


class PublishedSessionDelete(Conflict):
    code = "published_session"
    title = "Published sessions are cancelled, not deleted"


class ImportFailed(Invalid):
    """An import that wrote nothing; ``errors`` name each row or event and field."""

    code = "import_failed"
    title = "The file could not be imported"

    def __init__(self, errors: list[dict[str, str]]) -> None:
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"{first['field']}: {first['message']}{more}", errors=errors)


class ImportTooLarge(FestivalError):
    status = 413
    code = "import_too_large"
    title = "The file is too large"


class NotAParticipant(Forbidden):
    """A token with no place in the festival's live sessions (the code the live socket uses)."""

    code = "not_a_participant"
    title = "Not a participant"


class NoStream(NotFound):
    code = "no_stream"
    title = "This session has no stream"


class SessionCancelled(Conflict):
    code = "session_cancelled"
    title = "The session is cancelled"


class JoinNotOpen(Conflict):
    """Too early for the stream; ``opens_at`` (ISO, the festival's zone) says when."""

    code = "join_not_open"
    title = "The stream is not open yet"
