"""Staff tokens limited to sessions: only sessions of the token's own festival."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from festival import staff
from festival.auth import Principal
from festival.errors import Invalid
from festival.models import Token
from festival.schemas import StaffTokenCreate
from festival.service import get_managed_festival
from schedule.models import Session
from schedule.queries import ids_in_festival


async def issue_staff_token(
    session: AsyncSession, principal: Principal, slug: str, data: StaffTokenCreate
) -> tuple[Token, str]:
    """Issue a staff token for the festival ``slug``, limited to ``data.session_ids``.

    Every id must be a session of this festival, whatever its state (a draft
    or a cancelled one included): otherwise ``Invalid`` naming ``session_ids``
    and nothing is issued. Another festival's session and an id of nothing
    read alike, so the answer says nothing about other festivals. Whoever may
    not manage the festival is refused before any id is looked at.
    """
    festival = await get_managed_festival(session, principal, slug)
    if data.session_ids:
        found = set(
            (await session.scalars(ids_in_festival(Session, festival.id, data.session_ids))).all()
        )
        missing = list(dict.fromkeys(str(i) for i in data.session_ids if i not in found))
        if missing:
            raise Invalid(f"No session {', '.join(missing)} in this festival", field="session_ids")
    return await staff.issue_staff_token(session, principal, festival, data)
