"""The organisers' pages: a festival's desk (team, programme, attendees), joining a
team, and setting a password from an e-mailed link."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.routers.pages import FestivalSlug, templates

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)


@router.get("/organise/{slug}")
async def organise(request: Request, slug: FestivalSlug) -> Response:
    return templates.TemplateResponse(request, "organise.html", {"title": "Organise", "slug": slug})


@router.get("/join")
async def join(request: Request) -> Response:
    """The page of an invitation's link; the code is in the fragment, for the script."""
    return templates.TemplateResponse(request, "join.html", {"title": "Join a team"})


@router.get("/reset")
async def reset(request: Request) -> Response:
    """The page of a password e-mail's link; the code is in the fragment, for the script."""
    return templates.TemplateResponse(request, "reset.html", {"title": "Set your password"})
