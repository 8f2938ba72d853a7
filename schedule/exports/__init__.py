"""Exports of the programme: pure functions from loaded data to bytes.

Each takes the festival and its sessions with ``speakers``, ``room`` and
``track`` loaded (:func:`schedule.queries.sessions_with_details`) and touches
no database. Output is deterministic for given data, so a feed's ETag can be
computed from a change stamp before anything is rendered.
"""

from __future__ import annotations

import uuid

from schedule.models import Room, Session, Speaker


def stream_url_of(session: Session) -> str | None:
    """The session's own stream URL, else its virtual room's (``room`` loaded).

    Never written into a public output: the stream is for the festival's
    participants, who reach it through :func:`join_url` (see :mod:`schedule.stage`).
    """
    if session.stream_url:
        return session.stream_url
    room: Room | None = session.room
    if room is not None and room.kind == "virtual":
        return room.stream_url
    return None


def join_url(base_url: str, session_id: uuid.UUID) -> str:
    """The live page of a session: where its stream and its Q&A are, for those let in."""
    return f"{base_url.rstrip('/')}/live/{session_id}"


def public_join_url(base_url: str, session: Session) -> str | None:
    """What public outputs carry in place of a stream URL: the live page of a
    session that has a stream, else None (``room`` loaded)."""
    return join_url(base_url, session.id) if stream_url_of(session) else None


def guid_of(item: Session | Speaker | Room) -> str:
    """The frab guid: the imported guid when it is a UUID, else our own id.

    Keeping the imported guid lets a re-export match the source system's events.
    """
    if item.external_id:
        try:
            return str(uuid.UUID(item.external_id))
        except ValueError:
            pass
    return str(item.id)


def session_url_prefix(base_url: str, festival_slug: str) -> str:
    """A session's public URL is this prefix followed by its id."""
    return f"{base_url.rstrip('/')}/f/{festival_slug}#session-"


def session_url(base_url: str, festival_slug: str, session: Session) -> str:
    return f"{session_url_prefix(base_url, festival_slug)}{session.id}"
