"""Programme routes: tracks, rooms, speakers, sessions, the programme, changes, feeds, import."""

import uuid
from collections.abc import Callable
from datetime import date, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import JSONResponse

from api.http.deps import (
    CursorQuery,
    LimitQuery,
    MaybeReaderDep,
    OrganiserDep,
    ReadSessionDep,
    SessionDep,
    SettingsDep,
)
from api.http.idempotency import IdempotencyDep
from api.http.problems import ERROR_RESPONSES
from api.http.routing import JSONRoute
from festival.schemas import Page
from schedule import catalogue, feeds, imports, programme, publishing
from schedule.models import Room, Speaker, Track
from schedule.schemas import (
    ChangeRead,
    ImportSummary,
    ProgrammeItem,
    ProgrammePrivateItem,
    RoomCreate,
    RoomPrivateRead,
    RoomRead,
    RoomUpdate,
    SessionCreate,
    SessionPrivateRead,
    SessionRead,
    SessionUpdate,
    SpeakerCreate,
    SpeakerPrivateRead,
    SpeakerRead,
    SpeakerUpdate,
    TrackCreate,
    TrackRead,
    TrackUpdate,
    session_read,
)

PREFIX = "/api/v1/festivals/{slug}"
MAX_IMPORT_BYTES = 20 * 1024 * 1024
router = APIRouter(
    route_class=JSONRoute, prefix=PREFIX, tags=["programme"], responses=ERROR_RESPONSES
)

TrackQuery = Annotated[uuid.UUID | None, Query(description="Only this track")]
RoomQuery = Annotated[uuid.UUID | None, Query(description="Only this room")]
SpeakerQuery = Annotated[uuid.UUID | None, Query(description="Only this speaker's sessions")]
DayQuery = Annotated[date | None, Query(description="A day in the festival's time zone")]
IfNoneMatch = Annotated[str | None, Header(max_length=2000)]
IfModifiedSince = Annotated[str | None, Header(max_length=200)]


def _catalogue(
    path: str,
    model: type[Any],
    create: type[Any],
    update: type[Any],
    read: Any,
    shape: Callable[[Any, bool], Any],
) -> None:
    """Register create/list/read/update/delete of tracks, rooms or speakers."""
    noun = path.rstrip("s")

    @router.post(f"/{path}", status_code=201, response_model=read, summary=f"Add a {noun}")
    async def create_(
        slug: str,
        body: create,  # type: ignore[valid-type]
        session: SessionDep,
        who: OrganiserDep,
        idem: IdempotencyDep,
    ) -> JSONResponse:
        async def _create() -> Any:
            return shape(await catalogue.create_item(session, who, slug, model, body), True)

        return await idem.once(201, _create)

    @router.get(f"/{path}", response_model=Page[read], summary=f"List {path} by name")
    async def list_(
        slug: str,
        session: ReadSessionDep,
        who: MaybeReaderDep,
        limit: LimitQuery = 50,
        cursor: CursorQuery = None,
    ) -> Any:
        rows, next_cursor, private = await catalogue.list_items(
            session, who, slug, model, limit=limit, cursor=cursor
        )
        return Page[Any](items=[shape(r, private) for r in rows], next_cursor=next_cursor)

    @router.get(f"/{path}/{{item_id}}", response_model=read, summary=f"One {noun}")
    async def read_(
        slug: str, item_id: uuid.UUID, session: ReadSessionDep, who: MaybeReaderDep
    ) -> Any:
        item, private = await catalogue.get_item(session, who, slug, model, item_id)
        return shape(item, private)

    @router.patch(f"/{path}/{{item_id}}", response_model=read, summary=f"Change a {noun}")
    async def update_(
        slug: str,
        item_id: uuid.UUID,
        body: update,  # type: ignore[valid-type]
        session: SessionDep,
        who: OrganiserDep,
    ) -> Any:
        return shape(await catalogue.update_item(session, who, slug, model, item_id, body), True)

    @router.delete(f"/{path}/{{item_id}}", status_code=204, summary=f"Delete a {noun}")
    async def delete_(
        slug: str, item_id: uuid.UUID, session: SessionDep, who: OrganiserDep
    ) -> Response:
        await catalogue.delete_item(session, who, slug, model, item_id)
        return Response(status_code=204)


def _speaker(item: Speaker, private: bool) -> SpeakerRead:
    return (SpeakerPrivateRead if private else SpeakerRead).model_validate(item)


def _room(item: Room, private: bool) -> RoomRead:
    """A room's stream URL is for its organisers: others reach it by a session's join_url."""
    return (RoomPrivateRead if private else RoomRead).model_validate(item)


_catalogue(
    "tracks", Track, TrackCreate, TrackUpdate, TrackRead, lambda t, _: TrackRead.model_validate(t)
)
_catalogue("rooms", Room, RoomCreate, RoomUpdate, RoomPrivateRead | RoomRead, _room)
_catalogue(
    "speakers", Speaker, SpeakerCreate, SpeakerUpdate, SpeakerPrivateRead | SpeakerRead, _speaker
)


@router.post(
    "/sessions", status_code=201, response_model=SessionPrivateRead, summary="Add a session"
)
async def create_session(
    slug: str,
    body: SessionCreate,
    session: SessionDep,
    who: OrganiserDep,
    idem: IdempotencyDep,
    settings: SettingsDep,
) -> JSONResponse:
    async def _create() -> SessionRead:
        item, zone = await programme.create_session(session, who, slug, body)
        return session_read(item, zone, settings.base_url, private=True)

    return await idem.once(201, _create)


@router.get(
    "/sessions",
    summary="List sessions by start time",
    response_model=Page[SessionPrivateRead | SessionRead],
)
async def list_sessions(
    slug: str,
    session: ReadSessionDep,
    who: MaybeReaderDep,
    settings: SettingsDep,
    track: TrackQuery = None,
    room: RoomQuery = None,
    speaker: SpeakerQuery = None,
    day: DayQuery = None,
    status: Literal["scheduled", "cancelled"] | None = None,
    format: Literal["keynote", "talk", "workshop", "panel", "hackathon", "break", "other"]
    | None = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Any:
    filters = programme.SessionFilters(track, room, speaker, status, format, day)
    rows, next_cursor, zone, private = await programme.list_sessions(
        session, who, slug, filters, limit=limit, cursor=cursor
    )
    items = [session_read(r, zone, settings.base_url, private) for r in rows]
    return Page[Any](items=items, next_cursor=next_cursor)


@router.get(
    "/sessions/{session_id}",
    summary="One session",
    response_model=SessionPrivateRead | SessionRead,
)
async def read_session(
    slug: str,
    session_id: uuid.UUID,
    session: ReadSessionDep,
    who: MaybeReaderDep,
    settings: SettingsDep,
) -> Any:
    item, zone, private = await programme.get_session(session, who, slug, session_id)
    return session_read(item, zone, settings.base_url, private)


@router.patch(
    "/sessions/{session_id}",
    summary="Change, move or cancel a session",
    response_model=SessionPrivateRead,
)
async def update_session(
    slug: str,
    session_id: uuid.UUID,
    body: SessionUpdate,
    session: SessionDep,
    who: OrganiserDep,
    settings: SettingsDep,
) -> Any:
    item, zone = await programme.update_session(session, who, slug, session_id, body)
    return session_read(item, zone, settings.base_url, private=True)


@router.delete("/sessions/{session_id}", status_code=204, summary="Delete a draft session")
async def delete_session(
    slug: str, session_id: uuid.UUID, session: SessionDep, who: OrganiserDep
) -> Response:
    await programme.delete_session(session, who, slug, session_id)
    return Response(status_code=204)


@router.get(
    "/programme",
    summary="The programme in the festival's time zone",
    response_model=Page[ProgrammePrivateItem | ProgrammeItem],
    responses={304: {"description": "Not modified"}},
)
async def read_programme(
    slug: str,
    session: ReadSessionDep,
    who: MaybeReaderDep,
    settings: SettingsDep,
    day: DayQuery = None,
    track: TrackQuery = None,
    room: RoomQuery = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
    if_none_match: IfNoneMatch = None,
) -> Response:
    filters = programme.SessionFilters(track_id=track, room_id=room, day=day)
    feed = await feeds.programme_page(
        session,
        who,
        slug,
        filters,
        base_url=settings.base_url,
        limit=limit,
        cursor=cursor,
        if_none_match=if_none_match,
    )
    return _feed_response(feed)


@router.get("/changes", summary="Changes since publication, newest first")
async def list_changes(
    slug: str,
    session: ReadSessionDep,
    who: MaybeReaderDep,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[ChangeRead]:
    rows, next_cursor, zone = await publishing.list_changes(
        session, who, slug, limit=limit, cursor=cursor
    )
    items = [
        ChangeRead(
            session_id=c.session_id,
            title=c.title,
            kind=c.kind,
            at=c.at.astimezone(zone),
            before=c.before,
            after=c.after,
        )
        for c in rows
    ]
    return Page(items=items, next_cursor=next_cursor)


def _since(value: str | None) -> datetime | None:
    try:
        return parsedate_to_datetime(value) if value else None
    except (TypeError, ValueError):
        return None


def _feed_response(feed: feeds.Feed) -> Response:
    headers = {
        "ETag": feed.etag,
        "Last-Modified": format_datetime(feed.last_modified, usegmt=True),
        "Cache-Control": "public, no-cache" if feed.public else "private, no-cache",
        # An organiser's token gets stream URLs, a draft or nothing: never another's copy.
        "Vary": "Authorization",
    }
    if feed.body is None:
        return Response(status_code=304, headers=headers)
    if feed.media_type != "application/json":
        headers["Content-Disposition"] = f'inline; filename="{feed.filename}"'
    headers["Server-Timing"] = f"render;dur={feed.render_ms:.1f}"
    return Response(feed.body, media_type=feed.media_type, headers=headers)


async def _feed(
    request: Request,
    session: ReadSessionDep,
    who: MaybeReaderDep,
    slug: str,
    kind: feeds.FeedKind,
    if_none_match: str | None,
    if_modified_since: str | None,
    filters: feeds.CalendarFilter = feeds.CalendarFilter(),
) -> Response:
    feed = await feeds.export_feed(
        session,
        who,
        slug,
        kind,
        base_url=request.app.state.settings.base_url,
        filters=filters,
        if_none_match=if_none_match,
        if_modified_since=_since(if_modified_since),
    )
    return _feed_response(feed)


def _feed_doc(media: str, what: str) -> dict[str, Any]:
    """OpenAPI for a feed route: its media type, and the 304 it gives to a fresh copy."""
    kind = "object" if media == "application/json" else "string"
    return {
        "response_class": Response,
        "responses": {
            200: {"description": what, "content": {media: {"schema": {"type": kind}}}},
            304: {"description": "Not modified (If-None-Match or If-Modified-Since)"},
        },
    }


@router.get(
    "/calendar.ics",
    summary="iCalendar of the programme",
    **_feed_doc("text/calendar", "RFC 5545 calendar"),
)
async def calendar(
    slug: str,
    request: Request,
    session: ReadSessionDep,
    who: MaybeReaderDep,
    track: TrackQuery = None,
    room: RoomQuery = None,
    speaker: SpeakerQuery = None,
    if_none_match: IfNoneMatch = None,
    if_modified_since: IfModifiedSince = None,
) -> Response:
    filters = feeds.CalendarFilter(track, room, speaker)
    return await _feed(
        request, session, who, slug, "ics", if_none_match, if_modified_since, filters
    )


def _plain_feed(path: str, kind: feeds.FeedKind, summary: str, media: str, what: str) -> None:
    """Register a feed route that takes no filters (frab XML/JSON, CSV)."""

    @router.get(path, summary=summary, name=f"feed_{kind}", **_feed_doc(media, what))
    async def feed(
        slug: str,
        request: Request,
        session: ReadSessionDep,
        who: MaybeReaderDep,
        if_none_match: IfNoneMatch = None,
        if_modified_since: IfModifiedSince = None,
    ) -> Response:
        return await _feed(request, session, who, slug, kind, if_none_match, if_modified_since)


_plain_feed("/schedule.xml", "xml", "frab/C3VOC schedule.xml", "application/xml", "frab XML")
_plain_feed("/schedule.json", "json", "frab/C3VOC schedule.json", "application/json", "frab JSON")
_plain_feed("/programme.csv", "csv", "The programme as CSV", "text/csv", "CSV, a header row")


@router.post(
    "/programme/import",
    summary="Import a programme (CSV or frab JSON): all or nothing",
    response_model=ImportSummary,
    description=imports.__doc__ or "",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/json": {"schema": {"type": "object"}},
            },
        }
    },
)
async def import_programme(
    slug: str, request: Request, session: SessionDep, who: OrganiserDep, idem: IdempotencyDep
) -> JSONResponse:
    async def _import() -> ImportSummary:
        body = await imports.read_limited(request.stream(), MAX_IMPORT_BYTES)
        content_type = request.headers.get("content-type", "")
        return await imports.import_programme(session, who, slug, body, content_type)

    return await idem.once(200, _import)
