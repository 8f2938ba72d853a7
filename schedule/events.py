"""Events the schedule announces inside the unit of work that changed it.

Upper packages subscribe with :func:`festival.events.subscribe`; the tickets
package, for one, tells attendees that a session they reserved has moved or
been cancelled. Events are only announced for a *published* programme: drafts
change freely and nobody outside the organisers has seen them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

ChangeKind = Literal["added", "moved", "retitled", "cancelled", "speakers"]


@dataclass(frozen=True, slots=True)
class SessionChanged:
    """A change to a published session that matters to its participants.

    ``before`` and ``after`` hold the changed fields only (ISO times, ids as
    strings), exactly as recorded in the change log at ``/changes``.
    """

    festival_id: uuid.UUID
    session_id: uuid.UUID
    kind: ChangeKind
    title: str
    before: dict[str, Any] | None = field(default=None, hash=False, compare=False)
    after: dict[str, Any] | None = field(default=None, hash=False, compare=False)
    sequence: int = 0
