"""Use cases of tracks, rooms and speakers: the things sessions refer to.

The three behave alike (organisers create, change and delete them; anybody
reads them once the programme is published), so they share one set of use
cases parametrised by the model. A room or speaker that a session uses cannot
be deleted: the session would silently lose its place or its person.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from festival.auth import Principal
from festival.errors import Conflict, Invalid, NotFound
from festival.models import Festival
from festival.pagination import keyset_page
from festival.queries import festival_by_slug, visible_festivals
from festival.roles import Permission
from festival.service import get_festival, get_managed_festival
from schedule.models import Room, Session, Speaker, Track, session_speakers
from schedule.queries import lock_festival, may_manage, stamp_columns

Item = TypeVar("Item", Track, Room, Speaker)
_NOUN = {Track: "track", Room: "room", Speaker: "speaker"}
_REQUIRED = {"name", "kind"}


async def managed_festival(session: AsyncSession, principal: Principal, slug: str) -> Festival:
    """The festival, checked as the principal's own and locked for programme writes."""
    festival = await get_managed_festival(session, principal, slug, Permission.PROGRAMME)
    await session.execute(lock_festival(festival.id))
    return festival


async def readable_festival(
    session: AsyncSession, principal: Principal | None, slug: str
) -> tuple[Festival, bool]:
    """The festival whose programme the principal may read, and whether they manage it.

    An unpublished programme is ``NotFound`` for everybody but its organisers.
    """
    festival = await get_festival(session, principal, slug)
    manages = may_manage(principal, festival)
    if festival.published_at is None and not may_manage(principal, festival, Permission.READ):
        raise NotFound(f"The programme of {slug!r} is not published yet")
    return festival, manages


async def readable_festival_stamped(
    session: AsyncSession, principal: Principal | None, slug: str
) -> tuple[Festival, tuple[Any, ...]]:
    """:func:`readable_festival` with the programme's change stamp, in one query.

    Feeds ask this on every poll, so it is one round trip, not two.
    """
    stmt = festival_by_slug(slug, visible_festivals(principal)).add_columns(*stamp_columns())
    row = (await session.execute(stmt)).first()
    if row is None:
        raise NotFound(f"No festival {slug!r}")
    festival, *stamp = row
    if festival.published_at is None and not may_manage(principal, festival, Permission.READ):
        raise NotFound(f"The programme of {slug!r} is not published yet")
    return festival, tuple(stamp)


async def create_item(
    session: AsyncSession, principal: Principal, slug: str, model: type[Item], data: BaseModel
) -> Item:
    """Create a track, room or speaker in the principal's festival."""
    festival = await managed_festival(session, principal, slug)
    item = model(id=uuid.uuid4(), festival_id=festival.id, **data.model_dump())
    session.add(item)
    await _flush_unique(session, model, data.model_dump().get("name"))
    return item


async def list_items(
    session: AsyncSession,
    principal: Principal | None,
    slug: str,
    model: type[Item],
    *,
    limit: int,
    cursor: str | None,
) -> tuple[Sequence[Item], str | None, bool]:
    """A page of tracks, rooms or speakers by name, and whether the caller manages them."""
    festival, manages = await readable_festival(session, principal, slug)
    stmt = select(model).where(model.festival_id == festival.id)
    rows, next_cursor = await keyset_page(
        session, stmt, model.name, model.id, limit=limit, cursor=cursor
    )
    return rows, next_cursor, manages


async def get_item(
    session: AsyncSession,
    principal: Principal | None,
    slug: str,
    model: type[Item],
    item_id: uuid.UUID,
) -> tuple[Item, bool]:
    festival, manages = await readable_festival(session, principal, slug)
    return await _item(session, festival, model, item_id), manages


async def update_item(
    session: AsyncSession,
    principal: Principal,
    slug: str,
    model: type[Item],
    item_id: uuid.UUID,
    data: BaseModel,
) -> Item:
    """Apply the fields that were set; ``name`` and ``kind`` cannot be null."""
    festival = await managed_festival(session, principal, slug)
    item = await _item(session, festival, model, item_id)
    changes: dict[str, Any] = data.model_dump(exclude_unset=True)
    for name, value in changes.items():
        if value is None and name in _REQUIRED:
            raise Invalid(f"{name} cannot be null", field=name)
        setattr(item, name, value)
    await _flush_unique(session, model, changes.get("name"))
    return item


async def delete_item(
    session: AsyncSession, principal: Principal, slug: str, model: type[Item], item_id: uuid.UUID
) -> None:
    """Delete a track (its sessions keep no track), or an unused room or speaker."""
    festival = await managed_festival(session, principal, slug)
    item = await _item(session, festival, model, item_id)
    if model is Room:
        used = exists().where(Session.room_id == item.id)
    elif model is Speaker:
        used = exists().where(session_speakers.c.speaker_id == item.id)
    else:
        used = None
    if used is not None and await session.scalar(select(used)):
        raise Conflict(f"The {_NOUN[model]} is used by sessions; move them first", field="id")
    await session.delete(item)
    await session.flush()


async def _item(
    session: AsyncSession, festival: Festival, model: type[Item], item_id: uuid.UUID
) -> Item:
    item = await session.get(model, item_id)
    if item is None or item.festival_id != festival.id:
        raise NotFound(f"No {_NOUN[model]} {item_id}")
    return item


async def _flush_unique(session: AsyncSession, model: type[Item], name: str | None) -> None:
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"A {_NOUN[model]} named {name!r} already exists", field="name") from exc
