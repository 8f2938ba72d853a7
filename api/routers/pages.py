"""Pages for people: server-rendered shells whose small JavaScript modules talk to the API.

Each page is a thin client of the public contract (API.md): the route renders a
template with the identifiers from the path and nothing else, so no business
rule lives here or in the page. Tokens never pass through the server-rendered
HTML: a page takes one from its magic link (``?token=``) in the browser and
keeps it in ``localStorage``. The one thing the server checks is that the
festival or session of the path exists, so that a mistyped link is a 404 page
for people, not an empty shell.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import select

from api.http.deps import ReadSessionDep
from api.http.security_headers import page_policy
from festival.models import Festival
from festival.queries import festival_by_slug
from schedule import stage
from schedule.models import Session

HERE = Path(__file__).resolve().parent.parent
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)

_SLUG = re.compile(r"[A-Za-z0-9_-]{1,100}")


class PageNotFound(Exception):
    """A page's link leads nowhere: answered with the missing page, not problem JSON."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


async def _festival_slug(slug: str, session: ReadSessionDep) -> str:
    """The slug of a festival that exists, published or not: whether its data may be
    seen is for the API to say to the page's token, which the server never sees."""
    if not _SLUG.fullmatch(slug) or await session.scalar(festival_by_slug(slug)) is None:
        raise PageNotFound("There is no festival at this address.")
    return slug


async def _session_id(session_id: str, session: ReadSessionDep) -> uuid.UUID:
    """The id of a programme session that exists (its festival's visibility: as above)."""
    try:
        sid = uuid.UUID(session_id)
    except ValueError:
        sid = None
    if sid is None or await session.get(Session, sid) is None:
        raise PageNotFound("There is no session at this address.")
    return sid


FestivalSlug = Annotated[str, Depends(_festival_slug)]
SessionId = Annotated[uuid.UUID, Depends(_session_id)]


def install(app: FastAPI) -> None:
    """Serve ``api/static`` at ``/static`` (CSS and the pages' ES modules), and the
    missing page for a page link that leads nowhere."""
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.exception_handler(PageNotFound)
    async def _not_found(request: Request, exc: PageNotFound) -> Response:
        return _missing(request, exc.message)


def _page(request: Request, template: str, status_code: int = 200, **context: Any) -> Response:
    return templates.TemplateResponse(request, template, context, status_code=status_code)


@router.get("/")
async def home(request: Request) -> Response:
    return _page(request, "home.html", title="Festivals")


@router.get("/f/{slug}")
async def programme(request: Request, slug: FestivalSlug) -> Response:
    return _page(request, "programme.html", title="Programme", slug=slug)


@router.get("/f/{slug}/register")
async def register(request: Request, slug: FestivalSlug) -> Response:
    return _page(request, "register.html", title="Register", slug=slug)


@router.get("/f/{slug}/me")
async def sign_in(request: Request, slug: FestivalSlug) -> Response:
    return _page(request, "me.html", title="Sign in", slug=slug)


@router.get("/f/{slug}/confirm")
async def confirm(request: Request, slug: FestivalSlug) -> Response:
    return _page(request, "confirm.html", title="Confirm your registration", slug=slug)


@router.get("/f/{slug}/ticket")
async def ticket(request: Request, slug: FestivalSlug) -> Response:
    return _page(request, "ticket.html", title="Your ticket", slug=slug)


@router.get("/live/{session_id}")
async def live(request: Request, session_id: SessionId, session: ReadSessionDep) -> Response:
    slug = await session.scalar(
        select(Festival.slug)
        .join(Session, Session.festival_id == Festival.id)
        .where(Session.id == session_id)
    )
    # slug: the token form offers to e-mail a sign-in link for this festival
    page = _page(request, "live.html", title="Live Q&A", session_id=session_id, sign_in_slug=slug)
    # The stream plays above the Q&A: this page alone may frame a player, from its origin.
    origin = await stage.player_origin(session, session_id)
    page.headers["Content-Security-Policy"] = page_policy([origin] if origin else [])
    return page


@router.get("/moderate/{session_id}")
async def moderate(request: Request, session_id: SessionId) -> Response:
    return _page(request, "moderate.html", title="Moderate", session_id=session_id)


@router.get("/present/{session_id}")
async def present(request: Request, session_id: SessionId) -> Response:
    join = f"{str(request.base_url).rstrip('/')}/j/{short_code(session_id)}"
    return _page(
        request,
        "present.html",
        title="Projector",
        session_id=session_id,
        join_url=join,
        join_qr=_qr_svg(join),
    )


@router.get("/j/{code}")
async def join(request: Request, code: Annotated[str, PathParam(max_length=30)]) -> Response:
    """The projector's short join link: the session id in 22 characters, no lookup."""
    try:
        session_id = uuid.UUID(bytes=base64.urlsafe_b64decode(code + "=="))
    except (ValueError, binascii.Error):
        return _missing(request, "There is no session at this address.")
    return RedirectResponse(f"/live/{session_id}", status_code=307)


def _missing(request: Request, message: str) -> Response:
    """A page for people, not problem JSON, when a link leads nowhere."""
    return _page(request, "missing.html", title="Not found", status_code=404, message=message)


def short_code(session_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(session_id.bytes).decode().rstrip("=")


@router.get("/checkin/{slug}")
async def checkin(request: Request, slug: FestivalSlug) -> Response:
    return _page(request, "checkin.html", title="Check-in", slug=slug)


def _qr_svg(text: str) -> str:
    """An inline SVG QR code of ``text`` (a join link: public, no secret in it)."""
    import qrcode
    import qrcode.image.svg

    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, border=2)
    return str(image.to_string(encoding="unicode"))
