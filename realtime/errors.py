"""Errors of live sessions."""

from __future__ import annotations

from festival.errors import Conflict, Forbidden, NotFound, Unavailable


class LiveSessionNotFound(NotFound):
    code = "session_not_found"


class LiveQaOff(Forbidden):
    code = "live_qa_off"
    title = "Live Q&A is off for this session"


class NotAParticipant(Forbidden):
    code = "not_a_participant"


class QuestionNotFound(NotFound):
    code = "question_not_found"


class PollNotFound(NotFound):
    code = "poll_not_found"


class PollNotOpen(Conflict):
    code = "poll_not_open"
    title = "The poll is not open"


class LiveUnavailable(Unavailable):
    """The broker is away: a change now would be saved but reach only some sockets."""

    title = "Live session unavailable"
