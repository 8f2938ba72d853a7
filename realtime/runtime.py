"""A live session's runtime: one participant's socket, from the door to the last frame.

:meth:`LiveRuntime.serve` does everything after the server's handshake
begins: who may join (behind the database gate), the snapshot or the missed
events, then each frame through the pure protocol (:func:`realtime.protocol.decide`)
into one unit of work, and the ack or error frame back. It talks to the socket
through :class:`Socket`, the hub's :class:`~realtime.hub.Transport` plus the
handshake and the reading, so nothing here knows of FastAPI or ASGI.

Each client frame is one unit of work, behind a gate so a storm queues for the
database instead of opening a connection per socket (on SQLite the gate is 1:
one writer, no lock waits). Votes are group-committed: the votes waiting at one
moment share a transaction (question votes as one set-based batch, poll votes
each in its own savepoint), and each voter hears its ack only after that commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from festival.auth import resolve_principal
from festival.db import unit_of_work
from festival.errors import FestivalError, TooManyRequests
from festival.limits import LIVE_JOINS, Limiter, Rule, Unlimited
from realtime import access, dispatch, recount
from realtime.hub import Client, Hub, Transport
from realtime.live import LiveContext
from realtime.protocol import (
    CLOSE_POLICY,
    Allowance,
    ClientState,
    Command,
    Limits,
    Reply,
    ack,
    decide,
    error,
)

log = logging.getLogger("festival.live")
DB_GATE = 16
BATCHED = frozenset({"question.vote", "poll.vote"})
MAX_BATCH = 256
MAX_IN_FLIGHT = 16
# PostgreSQL's deadlock and serialization failures: the batch lost a race it can
# run again from the start (a batch locks its questions in id order, but a
# moderator's highlight, for one, takes two questions in its own order).
RETRYABLE = frozenset({"40P01", "40001"})
RETRIES = 1
Waiting = tuple[LiveContext, Command, "asyncio.Future[str]"]


class Socket(Transport, Protocol):
    """One participant's socket as the runtime sees it: the hub's transport, and its door."""

    async def accept(self) -> None:
        """Let the participant in."""
        ...

    async def deny(self, exc: FestivalError) -> None:
        """Turn the participant away, saying why as the server can."""
        ...

    def receive(self) -> Awaitable[Any]:
        """Wait for the server's next message about this socket, whatever its shape.

        Read in two steps, this and :meth:`frame_of`, so that an idle socket's
        wait holds no coroutine of ours between the runtime and the server.
        """
        ...

    def frame_of(self, message: Any) -> str | bytes | None:
        """The client frame ``message`` carries, or None if it says the socket has gone."""
        ...


# How long an ended access is remembered against sockets that were joining then.
ENDED_KEPT = 60.0


@dataclass
class LiveRuntime:
    hub: Hub
    sessionmaker: async_sessionmaker[AsyncSession]
    gate: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(DB_GATE))
    limits: Limits = field(default_factory=Limits)
    allowances: dict[tuple[str, str], Allowance] = field(default_factory=dict)
    _snapshots: dict[tuple[str, str], tuple[int, asyncio.Future[dict[str, Any]]]] = field(
        default_factory=dict
    )
    _waiting: list[Waiting] = field(default_factory=list)
    _draining: asyncio.Task[None] | None = None
    _recounts: set[asyncio.Task[None]] = field(default_factory=set)
    # Joins per token across every node (festival.limits, in Redis when there is one).
    limiter: Limiter = field(default_factory=Unlimited)
    join_rule: Rule = LIVE_JOINS
    # Whose access ended lately, and when (this node's clock): a socket whose token
    # was read before its cancel committed is closed as soon as it is in the hub.
    _ended: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.hub.on_reset = self._recount_soon

    def _recount_soon(self, channel: str) -> None:
        task = asyncio.ensure_future(self.recount(uuid.UUID(channel)))
        self._recounts.add(task)
        task.add_done_callback(self._recounts.discard)

    async def recount(self, session_id: uuid.UUID) -> None:
        """Offer the session's counts as the database holds them (``realtime.recount``):
        after a reset, an older count still held here must not be the last one shown."""
        try:
            async with self.gate, unit_of_work(self.sessionmaker) as session:
                counts, tallies = await recount.current(session, session_id)
        except Exception:
            log.exception("recounting live session %s failed", session_id)
            return
        for question_id, version, votes in counts:
            self.hub.offer_votes(session_id, question_id, version, votes)
        for poll_id, version, event in tallies:
            self.hub.offer_results(session_id, poll_id, version, event)

    async def serve(
        self, socket: Socket, token: str | None, session_id: uuid.UUID, since: int | None
    ) -> None:
        """One participant in one live session (see API.md, Live sessions).

        The socket is accepted only once the token may join; else it is denied
        with the domain's error and nothing else happens. Frames are read one at
        a time; votes do not hold up the reader (:meth:`_pipeline`).
        """
        read_at = self.hub.clock()
        ctx = await self._enter(socket, token, session_id)
        if ctx is None:
            return

        async def _snapshot(seq: int) -> dict[str, Any]:
            return await self.snapshot(ctx, seq)

        hub = self.hub
        owner = str(ctx.voter_id)
        client = await hub.join(str(ctx.session_id), socket, ctx.role, since, _snapshot, owner)
        if self._ended.get(owner, -math.inf) >= read_at:  # cancelled while it was joining
            await hub.close(client, CLOSE_POLICY, "access ended")
        state = ClientState(ctx.role, self.limits, self.allowance(ctx))
        in_flight: set[asyncio.Future[str]] = set()
        clock = hub.clock
        try:
            while not client.closed:
                raw = socket.frame_of(await socket.receive())
                if raw is None:
                    break
                decision = decide(state, raw, clock())
                if isinstance(decision, Reply):
                    for frame in decision.frames:
                        client.push(frame)
                    if decision.close is not None:
                        if decision.close == CLOSE_POLICY and state.allowance is not None:
                            cooldown = clock() + self.limits.policy_cooldown
                            state.allowance.closed_until = cooldown
                        await hub.close(client, decision.close, "too many bad frames")
                        break
                    continue
                if decision.type in BATCHED:
                    await self._pipeline(ctx, decision, client, in_flight)
                    continue
                client.push(await self.execute(ctx, decision))
        finally:
            hub.leave(client)

    async def _enter(
        self, socket: Socket, token: str | None, session_id: uuid.UUID
    ) -> LiveContext | None:
        """Accept the socket of someone who may join, or deny it; who they are, or None."""
        try:
            # Behind the gate, like every frame's unit of work: a crowd joining at
            # once queues for the database instead of opening a connection each
            # (on SQLite, a thread and a page cache each).
            async with self.gate, unit_of_work(self.sessionmaker) as session:
                principal = await resolve_principal(session, token)
                ctx = await access.enter(session, principal, session_id, self.hub)
            await self.limiter.take(
                "Too many joins with this token; wait and retry",
                (self.join_rule, str(principal.token_id)),
            )
            self._admit(ctx)
        except FestivalError as exc:
            await socket.deny(exc)
            return None
        try:
            await socket.accept()
        except BaseException:
            self.hub.release(str(ctx.voter_id))
            raise
        return ctx

    def _admit(self, ctx: LiveContext) -> None:
        """Refuse a join over the token's socket cap, too soon after the last
        ones, or too soon after a policy close (``TooManyRequests``); else count
        the socket against the cap at once (:meth:`Hub.reserve`)."""
        owner = str(ctx.voter_id)
        if self.hub.sockets_of(owner) >= self.limits.max_sockets:
            raise TooManyRequests(
                f"This token already has {self.limits.max_sockets} live sockets open; "
                "close one first",
                retry_after=1,
            )
        wait = self.allowance(ctx).join_wait(self.hub.clock())
        if wait > 0:
            raise TooManyRequests(
                "Too many joins (or too soon after a close for abuse); wait and retry",
                retry_after=max(1, math.ceil(wait)),
            )
        self.hub.reserve(owner)

    def tell(self, subject_id: uuid.UUID, notice: dict[str, Any]) -> int:
        """Show ``notice`` on the attendee's open live sockets on this node (a
        ``notice`` frame, outside the numbered events); how many sockets."""
        frame = json.dumps({"type": "notice", "data": notice}, separators=(",", ":"))
        clients = list(self.hub.owners.get(str(subject_id), ()))
        for client in clients:
            client.push(frame)
        return len(clients)

    def end_access(self, subject_id: uuid.UUID) -> None:
        """Close the sockets of a registration (or token) whose access ended, on this node."""
        now = self.hub.clock()
        self._ended = {k: t for k, t in self._ended.items() if now - t < ENDED_KEPT}
        self._ended[str(subject_id)] = now
        closed = self.hub.end(str(subject_id), CLOSE_POLICY, "access ended")
        if closed:
            log.info("closed %d live sockets whose access ended", closed)

    async def _pipeline(
        self,
        ctx: LiveContext,
        command: Command,
        client: Client,
        in_flight: set[asyncio.Future[str]],
    ) -> None:
        """Votes do not hold up the reader: it keeps reading (pongs too) while they commit.

        At most ``MAX_IN_FLIGHT`` per socket; past that the reader waits for one.
        """
        future = self.submit(ctx, command)
        in_flight.add(future)

        def _done(done: asyncio.Future[str]) -> None:
            in_flight.discard(done)
            if not done.cancelled():
                client.push(done.result())

        future.add_done_callback(_done)
        if len(in_flight) >= MAX_IN_FLIGHT:
            await asyncio.wait(set(in_flight), return_when=asyncio.FIRST_COMPLETED)

    async def _read_snapshot(self, ctx: LiveContext, seq: int) -> dict[str, Any]:
        async with self.gate, unit_of_work(self.sessionmaker) as session:
            return await dispatch.snapshot(session, ctx, seq)

    def allowance(self, ctx: LiveContext) -> Allowance:
        """Rate limits are per attendee (all their sockets on this node), not per socket."""
        key = (str(ctx.session_id), str(ctx.voter_id))
        found = self.allowances.get(key)
        if found is None:
            found = self.allowances[key] = Allowance.of(self.limits)
        return found

    async def execute(self, ctx: LiveContext, command: Command) -> str:
        """One frame, one unit of work: the ack after the commit, or an error frame."""
        if command.type in BATCHED:
            return await self._batched(ctx, command)
        async with self.gate:
            try:
                async with unit_of_work(self.sessionmaker) as session:
                    data = await dispatch.run(session, ctx, command)
            except FestivalError as exc:
                return error(command.id, exc.code, exc.detail)
            except Exception:
                log.exception("live frame %s failed", command.type)
                return error(command.id, "internal_error", "Something went wrong on our side")
        return ack(command.id, data)

    async def _batched(self, ctx: LiveContext, command: Command) -> str:
        return await self.submit(ctx, command)

    def submit(self, ctx: LiveContext, command: Command) -> asyncio.Future[str]:
        """Queue a vote for the next group commit; the future holds its ack or error frame."""
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._waiting.append((ctx, command, future))
        if self._draining is None or self._draining.done():
            self._draining = asyncio.create_task(self._drain())
        return future

    async def _drain(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
            async with self.gate:
                replies = await self._commit(batch)
            for (_, _, future), reply in zip(batch, replies, strict=True):
                if not future.done():
                    future.set_result(reply)

    async def _commit(self, batch: list[Waiting]) -> list[str]:
        """Run a batch in one transaction; once more if PostgreSQL broke a deadlock with it."""
        for attempt in range(1 + RETRIES):
            try:
                return await self._run(batch)
            except DBAPIError as exc:
                if attempt < RETRIES and getattr(exc.orig, "sqlstate", None) in RETRYABLE:
                    log.warning("a batch of %d votes is retried: %s", len(batch), exc.orig)
                    continue
                log.exception("a batch of %d votes failed", len(batch))
            except Exception:
                log.exception("a batch of %d votes failed", len(batch))
            break
        message = "Something went wrong on our side"
        return [error(c.id, "internal_error", message) for _, c, _ in batch]

    async def _run(self, batch: list[Waiting]) -> list[str]:
        """Question votes as one set, then each poll vote; the replies, after the commit.

        Question votes cannot fail half-way (each is refused before anything is
        written), so they need no savepoint; a poll vote may, and gets one.
        """
        replies: dict[int, str] = {}
        ballots = [i for i, (_, c, _) in enumerate(batch) if c.type == "question.vote"]
        async with unit_of_work(self.sessionmaker) as session:
            if ballots:
                commands = [(batch[i][0], batch[i][1]) for i in ballots]
                outcomes = await dispatch.run_votes(session, commands)
                for i, outcome in zip(ballots, outcomes, strict=True):
                    replies[i] = _reply(batch[i][1], outcome)
            for i, (ctx, command, _) in enumerate(batch):
                if i in replies:
                    continue
                try:
                    async with session.begin_nested():
                        data = await dispatch.run(session, ctx, command)
                    replies[i] = ack(command.id, data)
                except FestivalError as exc:
                    replies[i] = _reply(command, exc)
        return [replies[i] for i in range(len(batch))]

    async def snapshot(self, ctx: LiveContext, seq: int) -> dict[str, Any]:
        """What a joining socket sees first; one read serves every joiner at the same seq.

        A snapshot depends only on the role and the channel's state as of ``seq``
        (later changes arrive as events with higher numbers and are idempotent),
        so when a thousand people join at once they share one database read.
        """
        key = (str(ctx.session_id), ctx.role)
        held = self._snapshots.get(key)
        if held is None or held[0] != seq or (held[1].done() and held[1].exception()):
            held = (seq, asyncio.ensure_future(self._read_snapshot(ctx, seq)))
            self._snapshots[key] = held
        data = dict(await asyncio.shield(held[1]))
        channel = self.hub.channels.get(str(ctx.session_id))
        size = channel.size if channel else 0
        shown = channel.presence if channel and channel.presence is not None else 0
        data["presence"] = {"count": max(shown, size)}
        return data


def _reply(command: Command, outcome: dict[str, Any] | FestivalError) -> str:
    if isinstance(outcome, FestivalError):
        return error(command.id, outcome.code, outcome.detail)
    return ack(command.id, outcome)


class AccessEndings:
    """Closes the sockets of a subject whose access ended, on every node.

    This node's at once; with Redis, every other node's too: the subject's id is
    published on ``<prefix>:access-ended`` and each node closes its own sockets
    of it. Redis that cannot be reached is logged and retried: the token is
    refused at the next join whatever happens here.
    """

    def __init__(self, runtime: LiveRuntime, redis: Any = None, prefix: str = "festival") -> None:
        self.runtime, self.redis = runtime, redis
        self.channel = f"{prefix}:access-ended"
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def start(self) -> None:
        if self.redis is not None:
            self._task = asyncio.create_task(self._listen(), name="access-endings")
            with contextlib.suppress(TimeoutError):  # Redis away: the loop keeps trying
                await asyncio.wait_for(self._ready.wait(), 5)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def ended(self, subject_id: uuid.UUID) -> None:
        self.runtime.end_access(subject_id)
        await self._publish(str(subject_id))

    async def told(self, subject_id: uuid.UUID, notice: dict[str, Any]) -> None:
        """A notice for one attendee: this node's sockets, and every other node's."""
        self.runtime.tell(subject_id, notice)
        await self._publish(json.dumps({"tell": str(subject_id), "notice": notice}))

    async def _publish(self, message: str) -> None:
        if self.redis is not None:
            try:
                await self.redis.publish(self.channel, message)
            except Exception as exc:
                log.warning("access-ended not published to other nodes: %s", exc)

    async def _listen(self) -> None:
        lost = False
        while True:
            try:
                async with self.redis.pubsub() as pubsub:
                    await pubsub.subscribe(self.channel)
                    self._ready.set()
                    if lost:
                        log.info("access-ended subscription back")
                        lost = False
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self._end(message["data"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not lost:  # once per loss, not once per retry
                    log.warning("access-ended subscription lost, retrying: %s", exc)
                    lost = True
                await asyncio.sleep(1)

    def _end(self, data: bytes | str) -> None:
        raw = data.decode() if isinstance(data, bytes) else data
        if raw.startswith("{"):  # a notice for one attendee (told), not an ending
            with contextlib.suppress(ValueError, KeyError, TypeError):
                message = json.loads(raw)
                self.runtime.tell(uuid.UUID(message["tell"]), dict(message["notice"]))
            return
        try:
            subject_id = uuid.UUID(raw)
        except ValueError:
            return
        self.runtime.end_access(subject_id)
