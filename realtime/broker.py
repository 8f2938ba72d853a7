"""Brokers: where a channel's events get their sequence numbers and reach every node.

:class:`MemoryBroker` serves one process (and, shared by two hubs, is the test
double for Redis). :class:`RedisBroker` keeps each channel as a Redis Stream
whose entry ids *are* the sequence numbers (``<seq>-0``): a Lua script raises
the channel's counter and appends in one atomic step, so numbers have no gaps
and no duplicates across processes, and the stream order is the number order.
Every node reads the stream and delivers in that order; a client may resume on
any node, which answers from its own buffer or from the stream.

Coalesced values (vote counts, poll results, presence) go through
``publish_counts`` / ``publish_latest`` / ``publish_presence``, which drop a
value older (by version) than one already published, atomically, so whichever
node publishes last, the channel ends on the newest counts.

Numbers come in epochs (:mod:`realtime.channel`). Each stream entry carries its
epoch's base; a Redis that restarted (its ``run_id`` changed), with or without
persistence, gets a new epoch for each channel at the first script that touches
it, decided inside the script, so no node can number an event in a stale epoch.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from realtime.channel import ChannelLog, Stamped, fresh_base
from realtime.protocol import Event

log = logging.getLogger(__name__)
# What says Redis is away (as opposed to a refused command).
UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError, TimeoutError)
Sink = Callable[[Stamped], None]
# A node that stops saying how many sockets it holds (killed) stops counting after this;
# the hub says it every realtime.hub.PRESENCE_REFRESH seconds.
PRESENCE_TTL = 12.0


class Broker(Protocol):
    @property
    def available(self) -> bool:
        """Whether what is published now will fan out (False while Redis is away)."""
        ...

    async def start(self) -> None: ...
    async def close(self) -> None: ...
    async def attach(self, channel: str, sink: Sink) -> tuple[int, int]:
        """Deliver the channel's events after the returned number to ``sink``, in
        order; the current epoch's base, and that number."""
        ...

    async def detach(self, channel: str, sink: Sink) -> None: ...
    async def publish(self, channel: str, event: Event) -> None: ...
    async def publish_counts(self, channel: str, counts: dict[str, tuple[int, int]]) -> None: ...
    async def publish_latest(self, channel: str, key: str, version: int, event: Event) -> None: ...
    async def publish_presence(self, channel: str, node: str, count: int) -> None: ...
    async def replay(self, channel: str, since: int, upto: int) -> list[Stamped] | None:
        """Events ``since+1..upto``, or None when some are no longer kept."""
        ...


def votes_event(counts: dict[str, int]) -> Event:
    return Event("question.votes", {"counts": counts})


@dataclass
class _MemoryChannel:
    log: ChannelLog
    sinks: list[Sink] = field(default_factory=list)
    versions: dict[str, int] = field(default_factory=dict)
    presence: dict[str, int] = field(default_factory=dict)
    last_presence: int | None = None


class MemoryBroker:
    """One process: numbers and replay from an in-memory :class:`ChannelLog`."""

    available = True

    def __init__(self, buffer: int = 10_000) -> None:
        self.buffer = buffer
        self._channels: dict[str, _MemoryChannel] = {}

    def _get(self, channel: str) -> _MemoryChannel:
        found = self._channels.get(channel)
        if found is None:
            # An epoch per process: a number given out by the process before this
            # one is below the base, and a client resuming with it gets a snapshot.
            log = ChannelLog(self.buffer, base=fresh_base())
            found = self._channels[channel] = _MemoryChannel(log)
        return found

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def attach(self, channel: str, sink: Sink) -> tuple[int, int]:
        found = self._get(channel)
        found.sinks.append(sink)
        return found.log.base, found.log.last_seq

    async def detach(self, channel: str, sink: Sink) -> None:
        found = self._get(channel)
        if sink in found.sinks:
            found.sinks.remove(sink)

    def _emit(self, found: _MemoryChannel, event: Event) -> None:
        stamped = found.log.append(event)
        for sink in list(found.sinks):
            sink(stamped)

    async def publish(self, channel: str, event: Event) -> None:
        self._emit(self._get(channel), event)

    async def publish_counts(self, channel: str, counts: dict[str, tuple[int, int]]) -> None:
        found = self._get(channel)
        fresh: dict[str, int] = {}
        for key, (version, count) in counts.items():
            if version > found.versions.get("q:" + key, -1):
                found.versions["q:" + key] = version
                fresh[key] = count
        if fresh:
            self._emit(found, votes_event(fresh))

    async def publish_latest(self, channel: str, key: str, version: int, event: Event) -> None:
        found = self._get(channel)
        if version > found.versions.get(key, -1):
            found.versions[key] = version
            self._emit(found, event)

    async def publish_presence(self, channel: str, node: str, count: int) -> None:
        found = self._get(channel)
        found.presence[node] = count
        total = sum(found.presence.values())
        if total != found.last_presence:
            found.last_presence = total
            self._emit(found, Event("presence", {"count": total}))

    async def replay(self, channel: str, since: int, upto: int) -> list[Stamped] | None:
        held = self._get(channel).log.since(since)
        return None if held is None else [s for s in held if s.seq <= upto]


# Every script begins here: the channel's epoch, begun anew (with a marker entry
# numbered ``base + 1``) when there is none, when it was begun under another run
# of this Redis (it restarted: numbers may be lost or rolled back), or when the
# caller names it as the one to end (ARGV[3]). The new base is the caller's
# (ARGV[2]: the clock, in microseconds, above what the caller has seen) or just
# above the counter, whichever is higher, so numbers only ever grow.
# KEYS: seq, log, versions, presence, epoch. ARGV: maxlen, base, ending, ...
_EPOCH = """
local run = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
local held = redis.call('GET', KEYS[5])
local base, born = nil, nil
if held then base, born = string.match(held, '^(%d+):(%x+)$') end
if not base or born ~= run or base == ARGV[3] then
  local b = tonumber(ARGV[2])
  local floor = tonumber(redis.call('GET', KEYS[1]) or '0') + 1
  if floor > b then b = floor end
  base = string.format('%d', b)
  redis.call('SET', KEYS[5], base .. ':' .. run)
  redis.call('SET', KEYS[1], base)
  local m = redis.call('INCR', KEYS[1])
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[1], string.format('%d-0', m),
    'e', '{"t":"epoch","a":"nobody","d":{}}', 'b', base)
end
"""
_APPEND = """
local seq = redis.call('INCR', KEYS[1])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[1], string.format('%d-0', seq),
  'e', payload, 'b', base)
return seq
"""
_ENSURE = _EPOCH + "return {base, redis.call('GET', KEYS[1])}"
_PUBLISH = _EPOCH + "local payload = ARGV[4]\n" + _APPEND
_COUNTS = (
    _EPOCH
    + """
local parts = {}
for i = 5, #ARGV, 3 do
  local cur = tonumber(redis.call('HGET', KEYS[3], 'q:' .. ARGV[i]) or '-1')
  if tonumber(ARGV[i + 1]) > cur then
    redis.call('HSET', KEYS[3], 'q:' .. ARGV[i], ARGV[i + 1])
    table.insert(parts, '"' .. ARGV[i] .. '":' .. ARGV[i + 2])
  end
end
if #parts == 0 then return 0 end
local payload = ARGV[4] .. table.concat(parts, ',') .. '}}}'
"""
    + _APPEND
)
_LATEST = (
    _EPOCH
    + """
local cur = tonumber(redis.call('HGET', KEYS[3], ARGV[5]) or '-1')
if tonumber(ARGV[6]) <= cur then return 0 end
redis.call('HSET', KEYS[3], ARGV[5], ARGV[6])
local payload = ARGV[4]
"""
    + _APPEND
)
_PRESENCE = (
    _EPOCH
    + """
local now = tonumber(ARGV[7])
redis.call('HSET', KEYS[4], ARGV[5], ARGV[6] .. ':' .. (now + tonumber(ARGV[8])))
local total = 0
local all = redis.call('HGETALL', KEYS[4])
for i = 1, #all, 2 do
  local count, expiry = string.match(all[i + 1], '^(%d+):(%d+)$')
  if tonumber(expiry) < now then
    redis.call('HDEL', KEYS[4], all[i])
  else
    total = total + tonumber(count)
  end
end
if tostring(total) == redis.call('HGET', KEYS[3], 'presence') then return 0 end
redis.call('HSET', KEYS[3], 'presence', tostring(total))
local payload = ARGV[4] .. total .. '}}'
"""
    + _APPEND
)


def _dump(event: Event) -> str:
    return json.dumps(
        {"t": event.type, "a": event.audience, "d": event.data}, separators=(",", ":")
    )


def _load(seq: int, raw: bytes | str, epoch: int = 0) -> Stamped:
    """An event read back from the stream. One without an audience (every writer stores
    it; a foreign or damaged entry may not) goes to moderators only: closed, not open."""
    body = json.loads(raw)
    return Stamped(seq, Event(body["t"], body["d"], body.get("a", "moderators")), epoch)


def _entry(entry_id: bytes | str, fields: dict[bytes, bytes]) -> Stamped:
    """A stream entry as an event: its id is ``<seq>-0``; one without an epoch (written
    before epochs) is of epoch 0."""
    raw_id = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return _load(int(raw_id.split("-")[0]), fields[b"e"], int(fields.get(b"b", b"0")))


# Well under redis-py's default socket timeout (5 s since redis-py 8): a blocking
# read as long as the timeout races it and fails with "Timeout reading".
_BLOCK_MS = 1000
# How often the broker asks Redis whether it is there, and how long it waits for the answer.
WATCH_EVERY = 0.25
WATCH_TIMEOUT = 1.0


class RedisBroker:
    """Several processes, one Redis: streams as the ordered, replayable, trimmed log.

    Availability: a watch pings Redis every :data:`WATCH_EVERY` seconds; a ping or
    any call that fails marks the broker unavailable (logged once), the next ping
    that answers marks it back (logged once, with how long it was away). While it
    is unavailable the live sessions refuse what would have to fan out
    (:func:`realtime.live.require_fan_out`). A change whose publication failed
    (the broker went away between that check and the publish) marks its channel:
    once Redis is back the channel begins a new epoch, so every node brings its
    sockets back to the database's state.
    """

    def __init__(self, redis: Any, prefix: str = "festival", maxlen: int = 10_000) -> None:
        self._redis = redis
        self._prefix = prefix
        self._maxlen = maxlen
        self._sinks: dict[str, list[Sink]] = {}
        self._readers: dict[str, asyncio.Task[None]] = {}
        self._scripts: dict[str, Any] = {}
        self._closed = False
        self._watch_task: asyncio.Task[None] | None = None
        self._unsent: dict[str, int] = {}  # channel: the base its lost publication was in
        self._bases: dict[str, int] = {}  # channel: the newest epoch seen
        self._down_since: float | None = None
        self.outages = 0

    @property
    def available(self) -> bool:
        return self._down_since is None

    def _keys(self, channel: str) -> list[str]:
        base = f"{self._prefix}:live:{channel}"
        return [
            f"{base}:seq",
            f"{base}:log",
            f"{base}:versions",
            f"{base}:presence",
            f"{base}:epoch",
        ]

    async def start(self) -> None:
        for name, source in (
            ("ensure", _ENSURE),
            ("publish", _PUBLISH),
            ("counts", _COUNTS),
            ("latest", _LATEST),
            ("presence", _PRESENCE),
        ):
            self._scripts[name] = self._redis.register_script(source)
        self._watch_task = asyncio.create_task(self._watch(), name="broker-watch")

    async def close(self) -> None:
        """Stop the watch and every stream reader. Bounded: a reader that swallowed
        its cancellation inside the Redis client still sees ``_closed`` and ends
        within one blocking read."""
        self._closed = True
        tasks = list(self._readers.values())
        self._readers.clear()
        if self._watch_task is not None:
            tasks.append(self._watch_task)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=2 * _BLOCK_MS / 1000 + 1)

    def _went_away(self, exc: BaseException) -> None:
        if self._down_since is None and not self._closed:
            self._down_since = time.monotonic()
            self.outages += 1
            log.warning(
                "the live broker (Redis) is unreachable (%s): live actions are refused "
                "until it is back",
                type(exc).__name__ if not str(exc) else exc,
            )

    async def _came_back(self) -> None:
        if self._down_since is not None:
            away = time.monotonic() - self._down_since
            self._down_since = None
            log.warning("the live broker (Redis) is reachable again after %.1f s", away)
        for channel, base in list(self._unsent.items()):
            await self._script("ensure", channel, ending=base)
            self._unsent.pop(channel, None)
            log.warning("live channel %s begins a new numbering: a change missed it", channel)

    async def _watch(self) -> None:
        while not self._closed:
            try:
                await asyncio.wait_for(self._redis.ping(), WATCH_TIMEOUT)
                await self._came_back()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._went_away(exc)
            await asyncio.sleep(WATCH_EVERY)

    async def _script(self, name: str, channel: str, *args: Any, ending: int | None = None) -> Any:
        floor = self._bases.get(channel, 0) + 1
        head = [self._maxlen, fresh_base(floor), "" if ending is None else ending]
        try:
            return await self._scripts[name](keys=self._keys(channel), args=[*head, *args])
        except UNREACHABLE as exc:
            self._went_away(exc)
            raise

    async def attach(self, channel: str, sink: Sink) -> tuple[int, int]:
        self._sinks.setdefault(channel, []).append(sink)
        base, last = await self._script("ensure", channel)
        base, last = int(base), int(last)
        self._bases[channel] = max(base, self._bases.get(channel, 0))
        if channel not in self._readers:
            log_key = self._keys(channel)[1]
            self._readers[channel] = asyncio.create_task(self._read(channel, log_key, last))
        return base, last

    async def detach(self, channel: str, sink: Sink) -> None:
        sinks = self._sinks.get(channel, [])
        if sink in sinks:
            sinks.remove(sink)
        if not sinks and channel in self._readers:
            self._readers.pop(channel).cancel()
            self._sinks.pop(channel, None)

    async def _read(self, channel: str, log_key: str, last: int) -> None:
        """Deliver the stream in order. Numbers only grow, across epochs too, so a
        reader that waited out a Redis restart carries on from where it was."""
        cursor = f"{last}-0"
        while not self._closed and channel in self._readers:
            try:
                reply = await self._redis.xread({log_key: cursor}, block=_BLOCK_MS, count=500)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # said once by the watch, not once per retry
                log.debug("reading the stream of channel %s failed; retrying", channel)
                if isinstance(exc, UNREACHABLE):
                    self._went_away(exc)
                await asyncio.sleep(0.25)
                continue
            for _key, entries in reply or ():
                for entry_id, fields in entries:
                    stamped = _entry(entry_id, fields)
                    cursor = f"{stamped.seq}-0"
                    if stamped.epoch > self._bases.get(channel, 0):
                        self._bases[channel] = stamped.epoch
                    for sink in list(self._sinks.get(channel, ())):
                        sink(stamped)

    async def _run(self, name: str, channel: str, *args: Any) -> None:
        try:
            await self._script(name, channel, *args)
        except Exception:
            # The change is committed but may never reach the other nodes: once
            # Redis is back, this channel's epoch ends and every socket re-reads.
            self._unsent.setdefault(channel, self._bases.get(channel, 0))
            raise

    async def publish(self, channel: str, event: Event) -> None:
        await self._run("publish", channel, _dump(event))

    async def publish_counts(self, channel: str, counts: dict[str, tuple[int, int]]) -> None:
        flat: list[Any] = []
        for key, (version, count) in counts.items():
            flat += [key, version, count]
        head = '{"t":"question.votes","a":"all","d":{"counts":{'
        await self._run("counts", channel, head, *flat)

    async def publish_latest(self, channel: str, key: str, version: int, event: Event) -> None:
        await self._run("latest", channel, _dump(event), key, version)

    async def publish_presence(self, channel: str, node: str, count: int) -> None:
        head = '{"t":"presence","a":"all","d":{"count":'
        now_ms = int(time.time() * 1000)
        await self._script("presence", channel, head, node, count, now_ms, int(PRESENCE_TTL * 1000))

    async def replay(self, channel: str, since: int, upto: int) -> list[Stamped] | None:
        if since >= upto:
            return [] if since == upto else None
        _, log_key, _, _, _ = self._keys(channel)
        entries = await self._redis.xrange(log_key, f"{since + 1}-0", f"{upto}-0")
        out = [_entry(i, f) for i, f in entries]
        if len(out) != upto - since or out[0].seq != since + 1 or out[-1].seq != upto:
            return None
        if len({s.epoch for s in out}) != 1:
            return None
        return out
