"""A festival's registration questions (:mod:`tickets.questions`)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from api.http.deps import MaybeReaderDep, OrganiserDep, ReadSessionDep, SessionDep
from api.http.problems import ERROR_RESPONSES
from api.http.routing import JSONRoute
from tickets import questions
from tickets.schemas import QuestionCreate, QuestionRead, QuestionUpdate

router = APIRouter(
    route_class=JSONRoute,
    prefix="/api/v1/festivals/{slug}/questions",
    tags=["registration"],
    responses=ERROR_RESPONSES,
)


@router.get("", summary="The registration form's questions, in order")
async def listed(slug: str, session: ReadSessionDep, who: MaybeReaderDep) -> list[QuestionRead]:
    return await questions.listed(session, who, slug)


@router.post("", status_code=201, summary="Add a question to the registration form")
async def create(
    slug: str, body: QuestionCreate, session: SessionDep, who: OrganiserDep
) -> QuestionRead:
    return await questions.create(session, who, slug, body)


@router.patch("/{question_id}", summary="Change a question (answers given stay as given)")
async def update(
    slug: str, question_id: uuid.UUID, body: QuestionUpdate, session: SessionDep, who: OrganiserDep
) -> QuestionRead:
    return await questions.update(session, who, slug, question_id, body)


@router.delete("/{question_id}", status_code=204, summary="Take a question off the form")
async def archive(
    slug: str, question_id: uuid.UUID, session: SessionDep, who: OrganiserDep
) -> Response:
    await questions.archive(session, who, slug, question_id)
    return Response(status_code=204)
