"""The abuse limits at the HTTP edge: the app's limiter (:mod:`festival.limits`,
made in :mod:`api.lifespan`) and how a limited route documents its ``429``.
Which address a request comes from is :mod:`api.http.client_address`'s."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.types import Scope

from api.http.problems import PROBLEM, Problem
from festival.limits import Limiter


def limiter(request: Request) -> Limiter:
    found: Limiter = request.app.state.limiter
    return found


def edge(scope: Scope) -> tuple[Limiter, str]:
    """The app's limiter and the client's address, for a request served without
    FastAPI's dependencies (the fast lane); routes take ``LimiterDep`` and
    ``ClientAddressDep``."""
    state = scope["app"].state
    return state.limiter, state.client_address(scope)


LimiterDep = Annotated[Limiter, Depends(limiter)]


def too_many(what: str) -> dict[int | str, dict[str, Any]]:
    """The ``429`` of a limited route, for its ``responses=``."""
    header = {"description": "Seconds until the limit lifts", "schema": {"type": "integer"}}
    return {
        429: {
            "model": Problem,
            "description": f"{what}; wait the seconds in Retry-After",
            "content": {PROBLEM: {}},
            "headers": {"Retry-After": header},
        }
    }
