"""QR images of a ticket payload (PNG and SVG), and the attendee's ticket image."""

from __future__ import annotations

import io
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from festival.auth import Principal
from tickets import attendees, issuing, queries
from tickets.errors import NotConfirmed

ImageFormat = Literal["png", "svg"]


def render(payload: str, image_format: ImageFormat) -> bytes:
    """The payload as a QR code: error correction M, a 4-module quiet zone."""
    import qrcode
    import qrcode.constants

    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=8, border=4)
    code.add_data(payload, optimize=0)
    code.make(fit=True)
    out = io.BytesIO()
    if image_format == "svg":
        from qrcode.image.svg import SvgPathImage

        code.make_image(image_factory=SvgPathImage).save(out)
    else:
        code.make_image().save(out)
    return out.getvalue()


async def ticket_image(
    session: AsyncSession, principal: Principal, image_format: ImageFormat
) -> bytes:
    """The attendee's current ticket as a QR image; no ticket is ``NotConfirmed``."""
    me = await attendees.attendee(session, principal)
    ticket = await session.scalar(queries.ticket_of(me.registration.id))
    if ticket is None or ticket.revoked_at is not None:
        raise NotConfirmed(f"The registration is {me.registration.status}: no ticket")
    return render(await issuing.payload(session, ticket), image_format)
