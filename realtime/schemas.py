"""Pydantic shapes of the REST mirrors (the websocket frames live in ``protocol``)."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel, Field

from festival.schemas import Input


class QuestionCreate(Input):
    text: str = Field(min_length=1, max_length=2000)
    anonymous: bool = False


class QuestionVoteCreate(Input):
    up: bool = True


class QuestionUpdate(Input):
    """A moderator's change: an action, or new ``text`` alone (an edit)."""

    action: (
        Literal["approve", "dismiss", "highlight", "unhighlight", "answer", "reopen", "edit"] | None
    ) = None
    text: str | None = Field(default=None, min_length=1, max_length=2000)


class BallotCreate(Input):
    option_ids: list[uuid.UUID] | None = Field(default=None, max_length=20)
    rating: int | None = None
    text: str | None = Field(default=None, max_length=500)


class LiveSettingsUpdate(Input):
    pre_moderation: bool


class LiveSettingsRead(BaseModel):
    pre_moderation: bool


class QuestionRead(BaseModel):
    id: str
    text: str
    anonymous: bool
    author: str | None
    status: str
    highlighted: bool
    votes: int
    rev: int
    created_at: str


class QuestionPage(BaseModel):
    items: list[QuestionRead]
    next_cursor: str | None = None


class VoteRead(BaseModel):
    question_id: str
    votes: int
    up: bool


class OptionRead(BaseModel):
    id: str
    text: str


class PollRead(BaseModel):
    id: str
    question: str
    kind: str
    options: list[OptionRead]
    max_choices: int | None
    scale: int | None
    hide_results: bool
    status: str
    results: dict[str, Any] | None = None


class PollPage(BaseModel):
    items: list[PollRead]
    next_cursor: str | None = None


class ProjectorLink(BaseModel):
    token: str
    url: str
