"""The hub: channels of sockets, fan-out, coalescing and back-pressure.

It does the I/O the pure core leaves out, through a three-method
:class:`Transport`, so nothing here knows of FastAPI. Each socket has one
bounded queue and at most one writer; fan-out writes what a socket takes at
once and queues the rest, but never awaits a socket, so a slow client cannot
slow the others. A socket whose queue
overflows is evicted (closed with 1013, "try again later": it may resume with
``since=``). There is no other back-pressure: a client that reads slowly but
within its queue is served late, not dropped.

When a channel's numbering starts again (a new epoch: the broker lost or may
have rolled back its numbers) or jumps over numbers that never came, the hub
does not drop or guess: every socket on the channel gets a fresh snapshot with
``reason: "reset"`` and then the events after it (:meth:`Hub.reset`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any, Protocol

from realtime.broker import Broker, MemoryBroker
from realtime.channel import ChannelLog, Recorded, Stamped
from realtime.coalesce import Coalescer
from realtime.protocol import CLOSE_RESTART, CLOSE_TOO_SLOW, Event, encode_event, sees

log = logging.getLogger(__name__)
SnapshotFn = Callable[[int], Awaitable[dict[str, Any]]]
# Coalesced frames x sockets per second, per channel. Every count frame to every
# socket costs the event loop a write, and past some rate a vote storm's votes
# wait behind the count frames (bench/RESULTS.md). So a channel's counts go out
# every ``interval`` up to FANOUT_BUDGET x interval sockets (1,000 by default),
# and more rarely above it (1/s at 10,000 sockets): fresh enough for a tally
# that always ends exact.
FANOUT_BUDGET = 10_000
# Presence, how many are in the room, moves with every join and leave and goes
# to every socket, yet nobody reads it to the second: a frame of it costs a
# 10,000-socket room ~200 ms of server CPU, and each ordinary client (a browser,
# the websockets library) a turn of its loop, the same as a question does. So it
# has a cadence of its own, slower than the votes': within PRESENCE_BUDGET
# frames x sockets per second (every 0.1 s up to 250 sockets, every 4 s from
# 10,000), so joins and leaves in between cancel out. Never slower than
# PRESENCE_SLOWEST, so a node still says its count well within the broker's TTL.
PRESENCE_BUDGET = 2_500
PRESENCE_SLOWEST = 4.0
# How often a node says again how many sockets it holds (the broker forgets a node
# that has not said so for PRESENCE_TTL, so a killed node's sockets stop counting).
PRESENCE_REFRESH = 4.0


def cadences(size: int, interval: float) -> tuple[float, float]:
    """How often a channel of ``size`` sockets may send its counts, and its presence
    (seconds; ``interval`` at the least)."""
    presence = min(PRESENCE_SLOWEST, size / PRESENCE_BUDGET)
    return max(interval, size / FANOUT_BUDGET), max(interval, presence)


class Transport(Protocol):
    def write_now(self, text: str) -> bool:
        """Write ``text`` at once if the socket can take it now, without waiting; else False."""
        ...

    async def send_text(self, text: str) -> None: ...
    async def close(self, code: int, reason: str = "") -> None: ...


class Client:
    """One socket: its role, its bounded queue and its writer.

    A frame is written at once when the socket can take it (``write_now``), as
    ``websockets.broadcast`` writes: no task, no coroutine, no turn of the
    loop. Only a socket that cannot take its frame now queues it, and a writer
    task drains its queue in order while the others carry on; an idle socket
    costs no task and an empty list.

    ``fast`` is the transport's ``write_now`` while nothing waits ahead of a new
    frame (joined, open, nothing queued, no writer), and None otherwise: a
    fan-out's whole path to a socket is then one load and one call. At 10,000
    sockets each object touched on that path is a cache miss, and the fan-out
    time is the kernel's sends plus these.
    """

    __slots__ = (
        "channel",
        "closed",
        "fast",
        "held",
        "hub",
        "joined",
        "owner",
        "queue",
        "role",
        "snapshot",
        "stale",
        "transport",
        "writer",
    )

    def __init__(
        self,
        hub: Hub,
        channel: Channel,
        transport: Transport,
        role: str,
        owner: str | None = None,
        snapshot: SnapshotFn | None = None,
    ) -> None:
        self.hub, self.channel, self.transport, self.role = hub, channel, transport, role
        self.owner, self.snapshot = owner, snapshot
        # joined: its first frames are queued; stale: a reset snapshot is owed to it.
        self.joined = self.stale = False
        self.queue: list[str] = []  # an empty deque holds far more, on every idle socket
        self.held: list[Stamped] | None = []
        self.closed = False
        self.writer: asyncio.Task[None] | None = None
        self.fast: Callable[[str], bool] | None = None

    def push(self, text: str) -> None:
        """Write a frame now or queue it behind the others; evict a client too far behind."""
        fast = self.fast
        if fast is None or not fast(text):
            self.enqueue(text)

    def enqueue(self, text: str) -> None:
        """Queue a frame the socket cannot take now; evict a client too far behind."""
        if self.closed:
            return
        if len(self.queue) >= self.hub.queue_size:
            self.hub.evict(self, CLOSE_TOO_SLOW, "too slow; resume with since=")
            return
        self.queue.append(text)
        self.start()

    def start(self) -> None:
        """Write what is queued: at once while the socket takes it, then by one writer task."""
        if self.writer is not None:
            return
        while self.queue and self.transport.write_now(self.queue[0]):
            del self.queue[0]
        if self.queue:
            self.writer = asyncio.ensure_future(self._write())
        self._open_fast()

    def _open_fast(self) -> None:
        idle = self.writer is None and not self.queue and self.held is None and not self.closed
        self.fast = self.transport.write_now if idle else None

    async def _write(self) -> None:
        try:
            while self.queue:
                await self.transport.send_text(self.queue.pop(0))
        except Exception:  # the peer went away: the reader will notice too
            self.hub.drop(self)
        finally:
            self.writer = None
            self._open_fast()

    async def stop(self) -> None:
        writer = self.writer
        if writer is not None and writer is not asyncio.current_task():
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await writer


class Channel:
    """The local side of one live session: its sockets, log mirror and coalescer."""

    def __init__(
        self,
        name: str,
        base: int,
        last_seq: int,
        interval: float,
        buffer: int,
        on_reset: Callable[[Channel], None] | None = None,
    ) -> None:
        self.name = name
        self.log = ChannelLog(buffer, last_seq, base)
        self.on_reset = on_reset
        self.generation = 0  # raised by each reset
        # Each role's sockets in the order they joined (a dict used as an ordered set):
        # a fan-out writes to them in that order, as `websockets.broadcast` does.
        self.clients: dict[str, dict[Client, None]] = {"attendee": {}, "moderator": {}}
        self.clients["projector"] = {}
        self.coalescer = Coalescer(interval)
        self.headcount = Coalescer(interval)  # presence alone, on its own cadence
        self.presence_version = 0
        self.presence: int | None = None

    @property
    def size(self) -> int:
        return sum(len(group) for group in self.clients.values())

    def deliver(self, stamped: Stamped) -> None:
        recorded = self.log.record(stamped)
        if recorded is Recorded.SEEN:
            return
        if recorded is not Recorded.KEPT and self.on_reset is not None:
            self.on_reset(self)  # holds every socket: what follows waits for its snapshot
        if stamped.event.type == "presence":
            self.presence = int(stamped.event.data["count"])
        text: str | None = None
        for role, group in self.clients.items():
            if not group or not sees(role, stamped.event.audience):
                continue
            text = text or encode_event(stamped.seq, stamped.event)
            for client in list(group):
                fast = client.fast
                if fast is not None and fast(text):
                    continue
                if client.held is not None:
                    client.held.append(stamped)
                else:
                    client.enqueue(text)


def visible_frames(role: str, events: Iterable[Stamped]) -> Iterator[str]:
    """The frames of ``events`` that ``role`` may see, by the rule :meth:`Channel.deliver`
    applies live: a socket that resumes gets what its role was sent, no more."""
    for stamped in events:
        if sees(role, stamped.event.audience):
            yield encode_event(stamped.seq, stamped.event)


class Hub:
    """Many channels, many sockets each; one broker behind them."""

    def __init__(
        self,
        broker: Broker | None = None,
        *,
        queue_size: int = 1024,
        interval: float = 0.1,
        buffer: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.broker: Broker = broker or MemoryBroker()
        self.queue_size = queue_size
        self.interval = interval
        self.buffer = buffer
        self.clock = clock
        self.node = uuid.uuid4().hex
        self.channels: dict[str, Channel] = {}
        self._attaching: dict[str, asyncio.Future[Channel]] = {}
        self._ticker: asyncio.Task[None] | None = None
        self._stopping = False
        self._closing: set[asyncio.Task[None]] = set()
        self.evicted = 0
        self.resets = 0  # channels brought back to the truth by a reset snapshot
        # Called with a channel's name when it resets (the runtime offers its counts again).
        self.on_reset: Callable[[str], None] | None = None
        # Open sockets by owner (whose token they joined with), on this node, and
        # those admitted but not yet joined (reserved): both count in sockets_of.
        self.owners: dict[str, set[Client]] = {}
        self.reserved: dict[str, int] = {}

    @property
    def available(self) -> bool:
        """Whether a change published now reaches every node (the broker is there)."""
        return self.broker.available

    async def start(self) -> None:
        await self.broker.start()
        self._ticker = asyncio.create_task(self._tick())

    async def stop(self) -> None:
        """Tell every client to reconnect elsewhere (1012), then let the broker go."""
        # The flag as well as the cancellation: a cancellation that lands inside a
        # Redis call can be swallowed by the client, and the ticker would go on.
        self._stopping = True
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        clients = [c for ch in self.channels.values() for g in ch.clients.values() for c in g]
        await asyncio.gather(*(self._close(c, CLOSE_RESTART, "server restart") for c in clients))
        await asyncio.gather(*self._closing, return_exceptions=True)
        await self.broker.close()

    async def channel(self, name: str) -> Channel:
        found = self.channels.get(name)
        if found is not None:
            return found
        pending = self._attaching.get(name)
        if pending is not None:
            return await pending
        future: asyncio.Future[Channel] = asyncio.get_running_loop().create_future()
        self._attaching[name] = future
        try:
            box: list[Channel] = []
            base, last = await self.broker.attach(
                name, lambda s: box[0].deliver(s) if box else None
            )
            made = Channel(name, base, last, self.interval, self.buffer, self.reset)
            box.append(made)
            self.channels[name] = made
            future.set_result(made)
            return made
        finally:
            self._attaching.pop(name, None)

    async def join(
        self,
        name: str,
        transport: Transport,
        role: str,
        since: int | None,
        snapshot: SnapshotFn,
        owner: str | None = None,
    ) -> Client:
        """Add a socket: missed events after ``since`` if still held, else a snapshot first.

        The snapshot says why (``reason``): ``initial`` (no ``since``), ``reset``
        (``since`` is of an older numbering, below the epoch's base) or ``too_old``
        (the events after it are no longer held, or it is beyond the last).
        ``owner`` names whose socket it is (see :meth:`sockets_of`, :meth:`end`);
        the socket takes the place :meth:`reserve` held for it, if any.
        """
        try:
            channel = await self.channel(name)
        except BaseException:
            self.release(owner)
            raise
        client = Client(self, channel, transport, role, owner, snapshot)
        channel.clients[role][client] = None
        if owner is not None:
            self.owners.setdefault(owner, set()).add(client)
            self.release(owner)
        last, base = channel.log.last_seq, channel.log.base
        try:
            missed = await self._missed(channel, since, last)
            if missed is None:
                data = await snapshot(last)
                reason = "reset" if since is not None and since < base else "too_old"
                data["reason"] = "initial" if since is None else reason
                client.queue.append(encode_event(last, Event("snapshot", data)))
            else:
                client.queue.extend(visible_frames(role, missed))
        except BaseException:
            channel.clients[role].pop(client, None)
            self._disown(client)
            raise
        client.joined = True
        held, client.held = client.held or [], None
        client.queue.extend(visible_frames(role, held))
        if client.stale:  # the numbering restarted while it joined: a reset snapshot follows
            client.held = []
            self._spawn(self._refresh(channel, [client], channel.generation))
        client.start()
        self._presence_changed(channel)
        return client

    async def _missed(self, channel: Channel, since: int | None, last: int) -> list[Stamped] | None:
        """The events after ``since`` up to ``last``, from this node or the stream; None
        when some are gone or ``since`` is of another epoch."""
        if since is None:
            return None
        missed = channel.log.since(since)
        base = channel.log.base
        if missed is None and base <= since < last:
            missed = await self.broker.replay(channel.name, since, last)
            if missed is not None and any(s.epoch != base for s in missed):
                return None
        return missed

    def reset(self, channel: Channel) -> None:
        """Bring every socket of ``channel`` back to the truth: hold its live events,
        then send a fresh snapshot (``reason: "reset"``) and the events after it.

        Called when the channel's numbering restarted (a new epoch) or skipped
        numbers this node never got: events it never delivered may be missing
        from what its sockets hold, and only the database knows the state.
        """
        channel.generation += 1
        self.resets += 1
        joined = []
        for group in channel.clients.values():
            for client in group:
                client.stale = True
                if client.joined:
                    client.fast = None
                    if client.held is None:
                        client.held = []
                    joined.append(client)
        log.info(
            "live channel %s: numbering restarted; %d sockets re-read", channel.name, len(joined)
        )
        self._presence_changed(channel)  # the broker may have forgotten every node's count
        if self.on_reset is not None:
            self.on_reset(channel.name)
        if joined:
            self._spawn(self._refresh(channel, joined, channel.generation))

    async def _refresh(self, channel: Channel, clients: list[Client], generation: int) -> None:
        """The reset snapshot for ``clients`` (one read per role), then the events after it."""
        pending = clients
        while pending:
            by_role: dict[str, list[Client]] = {}
            for client in pending:
                if not client.closed and client.snapshot is not None:
                    by_role.setdefault(client.role, []).append(client)
            pending = []
            for role, group in by_role.items():
                seq = channel.log.last_seq
                read = group[0].snapshot
                assert read is not None
                try:
                    data = dict(await read(seq))
                except Exception:
                    log.exception("a reset snapshot of channel %s failed", channel.name)
                    for client in group:  # it reconnects and joins afresh
                        self.evict(client, CLOSE_RESTART, "resume please")
                    continue
                if channel.generation != generation:
                    return  # a newer reset owns these sockets now
                missed = channel.log.since(seq)
                if missed is None:
                    pending += group
                    continue
                data["reason"] = "reset"
                frames = [encode_event(seq, Event("snapshot", data))]
                frames += visible_frames(role, missed)
                for client in group:
                    if client.closed:
                        continue
                    client.stale, client.held = False, None
                    client.queue.extend(frames)
                    client.start()

    def leave(self, client: Client) -> None:
        self.drop(client)

    def sockets_of(self, owner: str) -> int:
        """How many sockets ``owner`` holds open (or is joining with) on this node."""
        return len(self.owners.get(owner, ())) + self.reserved.get(owner, 0)

    def reserve(self, owner: str) -> None:
        """Count a socket of ``owner`` that was admitted and will :meth:`join` next."""
        self.reserved[owner] = self.reserved.get(owner, 0) + 1

    def release(self, owner: str | None) -> None:
        """A reserved socket joined, or never will."""
        if owner is None:
            return
        left = self.reserved.pop(owner, 0) - 1
        if left > 0:
            self.reserved[owner] = left

    def end(self, owner: str, code: int, reason: str) -> int:
        """Close every socket of ``owner`` on this node with ``code``; how many."""
        clients = list(self.owners.get(owner, ()))
        for client in clients:
            self.evict(client, code, reason)
        return len(clients)

    def _disown(self, client: Client) -> None:
        if client.owner is None:
            return
        held = self.owners.get(client.owner)
        if held is not None:
            held.discard(client)
            if not held:
                del self.owners[client.owner]

    def drop(self, client: Client, stop_writer: bool = True) -> None:
        if client.closed:
            return
        client.closed, client.fast = True, None
        client.channel.clients[client.role].pop(client, None)
        self._disown(client)
        self._presence_changed(client.channel)
        if stop_writer:
            self._spawn(client.stop())

    def evict(self, client: Client, code: int, reason: str) -> None:
        """Close a client without waiting for it; a policy close first sends what is queued."""
        if client.closed:
            return
        if code == CLOSE_TOO_SLOW:
            self.evicted += 1
            log.warning(
                "evicted a %s socket of channel %s: too slow", client.role, client.channel.name
            )
        self.drop(client, stop_writer=False)
        self._spawn(self._close(client, code, reason, drain=code != CLOSE_TOO_SLOW))

    async def close(self, client: Client, code: int, reason: str) -> None:
        """Send what is queued for ``client`` (briefly), then close it with ``code``."""
        await self._close(client, code, reason, drain=True)

    async def _close(self, client: Client, code: int, reason: str, drain: bool = False) -> None:
        self.drop(client, stop_writer=False)
        for _ in range(100 if drain else 0):
            if not client.queue:
                break
            await asyncio.sleep(0.01)
        await client.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.transport.close(code, reason), 5)

    def _spawn(self, work: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(work)
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def _presence_changed(self, channel: Channel) -> None:
        channel.presence_version += 1
        channel.headcount.offer("presence", channel.presence_version, channel.size)

    # The Outbox the domain services publish through, after their commit.
    async def publish(self, session_id: uuid.UUID, event: Event) -> None:
        await self.broker.publish(str(session_id), event)

    def offer_votes(
        self, session_id: uuid.UUID, question_id: uuid.UUID, version: int, n: int
    ) -> None:
        self._coalescer(session_id).offer(f"q:{question_id}", version, n)

    def offer_results(
        self, session_id: uuid.UUID, poll_id: uuid.UUID, version: int, e: Event
    ) -> None:
        self._coalescer(session_id).offer(f"p:{poll_id}", version, e)

    def _coalescer(self, session_id: uuid.UUID) -> Coalescer:
        name = str(session_id)
        found = self.channels.get(name)
        if found is None:  # a REST call on a session nobody watches here yet
            found = Channel(name, 0, 0, self.interval, self.buffer, self.reset)
            self.channels[name] = found
            self._spawn(self._attach_late(found))
        return found.coalescer

    async def _attach_late(self, channel: Channel) -> None:
        base, last = await self.broker.attach(channel.name, channel.deliver)
        channel.log = ChannelLog(self.buffer, max(last, channel.log.last_seq), base)

    async def _tick(self) -> None:
        refresh_at = self.clock() + PRESENCE_REFRESH
        while not self._stopping:
            await asyncio.sleep(self.interval / 2)
            now = self.clock()
            refresh = now >= refresh_at
            if refresh:
                refresh_at = now + PRESENCE_REFRESH
            for channel in list(self.channels.values()):
                if refresh and channel.size:
                    self._presence_changed(channel)
                # Big channels get fewer count frames: frames x sockets stays within a budget.
                counts, presence = cadences(channel.size, self.interval)
                channel.coalescer.interval, channel.headcount.interval = counts, presence
                taken = {}
                if self.available:
                    taken = channel.coalescer.take(now) | channel.headcount.take(now)
                try:
                    await self._flush(channel, now, taken)
                except Exception:
                    # Said once by the broker; the counts go out again once it is back.
                    log.debug("flushing channel %s failed", channel.name, exc_info=True)
                    channel.coalescer.again(taken)
                    channel.headcount.again(taken)

    async def _flush(self, channel: Channel, now: float, taken: dict[str, tuple[int, Any]]) -> None:
        if not taken:
            return
        counts = {k[2:]: (v, n) for k, (v, n) in taken.items() if k.startswith("q:")}
        if counts:
            await self.broker.publish_counts(channel.name, counts)
        for key, (version, event) in taken.items():
            if key.startswith("p:"):
                await self.broker.publish_latest(channel.name, key, version, event)
        if "presence" in taken:
            await self.broker.publish_presence(channel.name, self.node, taken["presence"][1])
