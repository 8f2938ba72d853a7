"""The organiser's messages to attendees (:mod:`tickets.messages`)."""

from __future__ import annotations

from fastapi import APIRouter

from api.http.deps import OrganiserDep, ReadSessionDep, SessionDep
from api.http.problems import ERROR_RESPONSES
from api.http.routing import JSONRoute
from tickets import messages
from tickets.schemas import MessageCreate, MessagePreview, MessageRead

router = APIRouter(
    route_class=JSONRoute,
    prefix="/api/v1/festivals/{slug}/messages",
    tags=["messages"],
    responses=ERROR_RESPONSES,
)


@router.post("/preview", summary="How many a message reaches, and its first letter")
async def preview(
    slug: str, body: MessageCreate, session: ReadSessionDep, who: OrganiserDep
) -> MessagePreview:
    return await messages.preview(session, who, slug, body)


@router.post("", status_code=201, summary="Send a message (one letter per person)")
async def send(
    slug: str, body: MessageCreate, session: SessionDep, who: OrganiserDep
) -> MessageRead:
    return await messages.send(session, who, slug, body)


@router.get("", summary="Messages sent, newest first, with delivery counts")
async def list_messages(slug: str, session: ReadSessionDep, who: OrganiserDep) -> list[MessageRead]:
    return await messages.list_messages(session, who, slug)
