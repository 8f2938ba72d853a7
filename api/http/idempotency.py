"""``Idempotency-Key`` for mutating POSTs, as a dependency.

A route asks :meth:`Idempotency.replay` first (which claims the key) and
answers through :meth:`Idempotency.respond`, which stores the reply in the same
transaction as the change. A concurrent twin collides on the claimed key, its
whole unit of work rolls back, and it is answered with the first reply.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError

from api.http.deps import SessionDep
from api.http.problems import problem
from festival import idempotency
from festival.errors import Conflict

Reply = BaseModel | dict[str, Any]


class IdempotencyCollision(Conflict):
    code = "idempotency_in_flight"
    title = "The same request is being processed"

    def __init__(self, hashed: str, digest: str) -> None:
        super().__init__("A request with this Idempotency-Key was just processed")
        self.hashed = hashed
        self.digest = digest


class Idempotency:
    def __init__(self, request: Request, session: Any, key: str | None, body: bytes) -> None:
        self.session = session
        self.hashed: str | None = None
        # The body's digest is kept with the reply: the same key with another body
        # is a 422, so a reply (which may hold a token) is only ever replayed to
        # the very request that earned it, never to someone who guessed the key.
        self.digest = hashlib.sha256(body).hexdigest()
        if key:
            auth = request.headers.get("authorization", "")
            scope = f"{request.method} {request.url.path} {auth}"
            self.hashed = idempotency.key_hash(scope, key)

    async def replay(self) -> JSONResponse | None:
        if self.hashed is None:
            return None
        found = await idempotency.remembered(self.session, self.hashed, self.digest)
        if found is not None:
            status, body = found
            return JSONResponse(body, status_code=status, headers={"Idempotent-Replay": "true"})
        try:
            async with self.session.begin_nested():
                await idempotency.claim(self.session, self.hashed, self.digest)
        except IntegrityError as exc:
            raise IdempotencyCollision(self.hashed, self.digest) from exc
        return None

    async def once(self, status: int, work: Callable[[], Awaitable[Reply]]) -> JSONResponse:
        """Replay the reply first given under this key, or do ``work`` and remember its reply."""
        if (replay := await self.replay()) is not None:
            return replay
        return await self.respond(status, await work())

    async def respond(self, status: int, reply: Reply) -> JSONResponse:
        body = jsonable_encoder(reply)
        if self.hashed is not None:
            await idempotency.remember(self.session, self.hashed, status, body)
        return JSONResponse(body, status_code=status)


async def _idempotency(
    request: Request,
    session: SessionDep,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Idempotency:
    body = await request.body() if idempotency_key else b""
    return Idempotency(request, session, idempotency_key, body)


IdempotencyDep = Annotated[Idempotency, Depends(_idempotency)]


async def replay_after_collision(request: Request, exc: IdempotencyCollision) -> JSONResponse:
    """The first reply, read in a fresh unit of work once the twin rolled back."""
    async with request.app.state.sessionmaker() as session:
        try:
            found = await idempotency.remembered(session, exc.hashed, exc.digest)
        except idempotency.KeyReused as reused:
            return problem(reused.status, reused.code, reused.title, reused.detail, **reused.extras)
    if found is None:
        return JSONResponse(
            {"type": "about:blank", "title": exc.title, "status": 409, "detail": exc.detail},
            status_code=409,
            media_type="application/problem+json",
        )
    status, body = found
    return JSONResponse(body, status_code=status, headers={"Idempotent-Replay": "true"})
