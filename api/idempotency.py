"""``Idempotency-Key`` for mutating POSTs, as a dependency.

A route asks :meth:`Idempotency.replay` first (which claims the key) and
answers through :meth:`Idempotency.respond`, which stores the reply in the same
transaction as the change. A concurrent twin collides on the claimed key, its
whole unit of work rolls back, and it is answered with the first reply.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError

from api.deps import SessionDep
from festival import idempotency
from festival.errors import Conflict


class IdempotencyCollision(Conflict):
    code = "idempotency_in_flight"
    title = "The same request is being processed"

    def __init__(self, hashed: str) -> None:
        super().__init__("A request with this Idempotency-Key was just processed")
        self.hashed = hashed


class Idempotency:
    def __init__(self, request: Request, session: Any, key: str | None) -> None:
        self.session = session
        self.hashed: str | None = None
        if key:
            auth = request.headers.get("authorization", "")
            scope = f"{request.method} {request.url.path} {auth}"
            self.hashed = idempotency.key_hash(scope, key)

    async def replay(self) -> JSONResponse | None:
        if self.hashed is None:
            return None
        found = await idempotency.remembered(self.session, self.hashed)
        if found is not None:
            status, body = found
            return JSONResponse(body, status_code=status, headers={"Idempotent-Replay": "true"})
        try:
            async with self.session.begin_nested():
                await idempotency.claim(self.session, self.hashed)
        except IntegrityError as exc:
            raise IdempotencyCollision(self.hashed) from exc
        return None

    async def respond(self, status: int, reply: BaseModel | dict[str, Any]) -> JSONResponse:
        body = jsonable_encoder(reply)
        if self.hashed is not None:
            await idempotency.remember(self.session, self.hashed, status, body)
        return JSONResponse(body, status_code=status)


async def _idempotency(
    request: Request,
    session: SessionDep,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Idempotency:
    return Idempotency(request, session, idempotency_key)


IdempotencyDep = Annotated[Idempotency, Depends(_idempotency)]


async def replay_after_collision(request: Request, exc: IdempotencyCollision) -> JSONResponse:
    """The first reply, read in a fresh unit of work once the twin rolled back."""
    async with request.app.state.sessionmaker() as session:
        found = await idempotency.remembered(session, exc.hashed)
    if found is None:
        return JSONResponse(
            {"type": "about:blank", "title": exc.title, "status": 409, "detail": exc.detail},
            status_code=409,
            media_type="application/problem+json",
        )
    status, body = found
    return JSONResponse(body, status_code=status, headers={"Idempotent-Replay": "true"})
