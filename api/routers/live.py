"""REST mirrors of live sessions for clients without sockets, projector links, CSV exports.

They go through the same domain code as the websocket, so events reach the
sockets exactly as if the action came from one.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse

from api.http.deps import PrincipalDep, SessionDep, SettingsDep
from api.http.idempotency import IdempotencyDep
from api.http.problems import ERROR_RESPONSES
from api.http.routing import JSONRoute
from festival.errors import TooManyRequests
from realtime import access, polls, projector, qa, reports
from realtime.live import LiveContext
from realtime.protocol import PollCreate
from realtime.schemas import (
    BallotCreate,
    LiveSettingsRead,
    LiveSettingsUpdate,
    PollPage,
    PollRead,
    ProjectorLink,
    QuestionCreate,
    QuestionPage,
    QuestionRead,
    QuestionUpdate,
    QuestionVoteCreate,
    VoteRead,
)
from realtime.views import poll_view, question_view

router = APIRouter(
    route_class=JSONRoute, prefix="/api/v1/sessions", tags=["live"], responses=ERROR_RESPONSES
)
CSV = "text/csv; charset=utf-8"


async def _context(
    session_id: uuid.UUID, request: Request, session: SessionDep, who: PrincipalDep
) -> LiveContext:
    return await access.enter(session, who, session_id, request.app.state.live.hub)


LiveDep = Annotated[LiveContext, Depends(_context)]


def _within_limit(kind: str) -> Callable[[Request, LiveContext], Awaitable[LiveContext]]:
    """The socket's per-attendee limits hold for the REST mirrors too (shared buckets)."""

    async def check(request: Request, ctx: LiveDep) -> LiveContext:
        runtime = request.app.state.live
        allowance = runtime.allowance(ctx)
        bucket = allowance.questions if kind == "questions" else allowance.votes
        if ctx.role == "attendee" and not bucket.take(runtime.hub.clock()):
            wait = (1 - bucket.tokens) / bucket.rate  # until the bucket holds one again
            raise TooManyRequests(
                f"Too many {kind}; slow down", retry_after=max(1, math.ceil(wait))
            )
        return ctx

    return check


AskerDep = Annotated[LiveContext, Depends(_within_limit("questions"))]
VoterDep = Annotated[LiveContext, Depends(_within_limit("votes"))]


@router.post(
    "/{session_id}/projector-links",
    status_code=201,
    response_model=ProjectorLink,
    summary="A projector link",
)
async def projector_link(
    session: SessionDep, ctx: LiveDep, settings: SettingsDep, idem: IdempotencyDep
) -> JSONResponse:
    async def _link() -> ProjectorLink:
        token, url = await projector.issue_projector_link(session, ctx, settings.base_url)
        return ProjectorLink(token=token, url=url)

    return await idem.once(201, _link)


@router.get("/{session_id}/live", summary="Live settings of a session")
async def live_settings(session: SessionDep, ctx: LiveDep) -> LiveSettingsRead:
    return LiveSettingsRead(pre_moderation=await access.pre_moderation(session, ctx))


@router.patch("/{session_id}/live", summary="Switch pre-moderation (moderator)")
async def update_live_settings(
    body: LiveSettingsUpdate, session: SessionDep, ctx: LiveDep
) -> LiveSettingsRead:
    on = await qa.set_pre_moderation(session, ctx, body.pre_moderation)
    return LiveSettingsRead(pre_moderation=on)


@router.get("/{session_id}/questions", summary="Questions this caller may see")
async def list_questions(
    session: SessionDep,
    ctx: LiveDep,
    sort: Literal["votes", "time"] = "votes",
    limit: Annotated[int, Query(ge=1, le=500)] = 500,
) -> QuestionPage:
    rows = await qa.list_questions(session, ctx, sort, limit)
    return QuestionPage(items=[QuestionRead(**question_view(q)) for q in rows])


@router.post(
    "/{session_id}/questions",
    status_code=201,
    response_model=QuestionRead,
    summary="Ask a question",
)
async def ask(
    body: QuestionCreate, session: SessionDep, ctx: AskerDep, idem: IdempotencyDep
) -> JSONResponse:
    async def _ask() -> QuestionRead:
        return QuestionRead(**question_view(await qa.ask(session, ctx, body.text, body.anonymous)))

    return await idem.once(201, _ask)


@router.post("/{session_id}/questions/{question_id}/vote", summary="Upvote or take back")
async def vote(
    question_id: uuid.UUID, body: QuestionVoteCreate, session: SessionDep, ctx: VoterDep
) -> VoteRead:
    count = await qa.vote(session, ctx, question_id, body.up)
    return VoteRead(question_id=str(question_id), votes=count, up=body.up)


@router.patch("/{session_id}/questions/{question_id}", summary="Moderate a question")
async def moderate(
    question_id: uuid.UUID, body: QuestionUpdate, session: SessionDep, ctx: LiveDep
) -> QuestionRead:
    question = await qa.update_question(session, ctx, question_id, body.action, body.text)
    return QuestionRead(**question_view(question))


@router.get("/{session_id}/questions.csv", summary="All questions as CSV (moderator)")
async def questions_csv(session: SessionDep, ctx: LiveDep) -> Response:
    return Response(await reports.questions_csv(session, ctx), media_type=CSV)


@router.get("/{session_id}/polls.csv", summary="All polls and results as CSV (moderator)")
async def polls_csv(session: SessionDep, ctx: LiveDep) -> Response:
    return Response(await reports.polls_csv(session, ctx), media_type=CSV)


@router.get("/{session_id}/polls", summary="Polls this caller may see")
async def list_polls(session: SessionDep, ctx: LiveDep) -> PollPage:
    return PollPage(items=[PollRead(**p) for p in await polls.list_polls(session, ctx)])


@router.post(
    "/{session_id}/polls",
    status_code=201,
    response_model=PollRead,
    summary="Create a poll (moderator)",
)
async def create_poll(
    body: PollCreate, session: SessionDep, ctx: LiveDep, idem: IdempotencyDep
) -> JSONResponse:
    async def _create() -> PollRead:
        return PollRead(**poll_view(*await polls.create(session, ctx, body)))

    return await idem.once(201, _create)


@router.post(
    "/{session_id}/polls/{poll_id}/open", summary="Open a poll (moderator)", response_model=PollRead
)
async def open_poll(
    poll_id: uuid.UUID, session: SessionDep, ctx: LiveDep, idem: IdempotencyDep
) -> JSONResponse:
    async def _open() -> PollRead:
        return PollRead(**poll_view(*await polls.open_poll(session, ctx, poll_id)))

    return await idem.once(200, _open)


@router.post(
    "/{session_id}/polls/{poll_id}/close",
    summary="Close a poll (moderator)",
    response_model=PollRead,
)
async def close_poll(
    poll_id: uuid.UUID, session: SessionDep, ctx: LiveDep, idem: IdempotencyDep
) -> JSONResponse:
    async def _close() -> PollRead:
        return PollRead(**poll_view(*await polls.close_poll(session, ctx, poll_id)))

    return await idem.once(200, _close)


@router.post("/{session_id}/polls/{poll_id}/votes", summary="Cast or change a ballot")
async def vote_poll(
    poll_id: uuid.UUID, body: BallotCreate, session: SessionDep, ctx: VoterDep
) -> dict[str, Any]:
    return await polls.vote(
        session, ctx, poll_id, option_ids=body.option_ids, rating=body.rating, text=body.text
    )


@router.get("/{session_id}/polls/{poll_id}/results", summary="A poll's results")
async def poll_results(poll_id: uuid.UUID, session: SessionDep, ctx: LiveDep) -> dict[str, Any]:
    return await polls.poll_results(session, ctx, poll_id)
