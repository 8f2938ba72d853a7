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
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from realtime.channel import ChannelLog, Stamped
from realtime.protocol import Event

log = logging.getLogger(__name__)
Sink = Callable[[Stamped], None]
PRESENCE_TTL = 30.0


class Broker(Protocol):
    async def start(self) -> None: ...
    async def close(self) -> None: ...
    async def attach(self, channel: str, sink: Sink) -> int:
        """Deliver the channel's events after the returned number to ``sink``, in order."""
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

    def __init__(self, buffer: int = 10_000) -> None:
        self.buffer = buffer
        self._channels: dict[str, _MemoryChannel] = {}

    def _get(self, channel: str) -> _MemoryChannel:
        found = self._channels.get(channel)
        if found is None:
            found = self._channels[channel] = _MemoryChannel(ChannelLog(self.buffer))
        return found

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def attach(self, channel: str, sink: Sink) -> int:
        found = self._get(channel)
        found.sinks.append(sink)
        return found.log.last_seq

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


_APPEND = """
local seq = redis.call('INCR', KEYS[1])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[1], seq .. '-0', 'e', ARGV[2])
return seq
"""
_PUBLISH = "local payload = ARGV[2]\n" + _APPEND.replace("ARGV[2]", "payload")
_COUNTS = """
local parts = {}
for i = 3, #ARGV, 3 do
  local cur = tonumber(redis.call('HGET', KEYS[3], 'q:' .. ARGV[i]) or '-1')
  if tonumber(ARGV[i + 1]) > cur then
    redis.call('HSET', KEYS[3], 'q:' .. ARGV[i], ARGV[i + 1])
    table.insert(parts, '"' .. ARGV[i] .. '":' .. ARGV[i + 2])
  end
end
if #parts == 0 then return 0 end
local payload = ARGV[2] .. table.concat(parts, ',') .. '}}}'
""" + _APPEND.replace("ARGV[2]", "payload")
_LATEST = """
local cur = tonumber(redis.call('HGET', KEYS[3], ARGV[3]) or '-1')
if tonumber(ARGV[4]) <= cur then return 0 end
redis.call('HSET', KEYS[3], ARGV[3], ARGV[4])
local payload = ARGV[2]
""" + _APPEND.replace("ARGV[2]", "payload")
_PRESENCE = """
local now = tonumber(ARGV[5])
redis.call('HSET', KEYS[3], ARGV[3], ARGV[4] .. ':' .. (now + tonumber(ARGV[6])))
local total = 0
local all = redis.call('HGETALL', KEYS[3])
for i = 1, #all, 2 do
  local count, expiry = string.match(all[i + 1], '^(%d+):(%d+)$')
  if tonumber(expiry) < now then
    redis.call('HDEL', KEYS[3], all[i])
  else
    total = total + tonumber(count)
  end
end
if tostring(total) == redis.call('HGET', KEYS[4], 'presence') then return 0 end
redis.call('HSET', KEYS[4], 'presence', tostring(total))
local payload = ARGV[2] .. total .. '}}'
""" + _APPEND.replace("ARGV[2]", "payload")


def _dump(event: Event) -> str:
    return json.dumps(
        {"t": event.type, "a": event.audience, "d": event.data}, separators=(",", ":")
    )


def _load(seq: int, raw: bytes | str) -> Stamped:
    """An event read back from the stream. One without an audience (every writer stores
    it; a foreign or damaged entry may not) goes to moderators only: closed, not open."""
    body = json.loads(raw)
    return Stamped(seq, Event(body["t"], body["d"], body.get("a", "moderators")))


# Well under redis-py's default socket timeout (5 s since redis-py 8): a blocking
# read as long as the timeout races it and fails with "Timeout reading".
_BLOCK_MS = 1000


class RedisBroker:
    """Several processes, one Redis: streams as the ordered, replayable, trimmed log."""

    def __init__(self, redis: Any, prefix: str = "festival", maxlen: int = 10_000) -> None:
        self._redis = redis
        self._prefix = prefix
        self._maxlen = maxlen
        self._sinks: dict[str, list[Sink]] = {}
        self._readers: dict[str, asyncio.Task[None]] = {}
        self._scripts: dict[str, Any] = {}
        self._closed = False

    def _keys(self, channel: str) -> list[str]:
        base = f"{self._prefix}:live:{channel}"
        return [f"{base}:seq", f"{base}:log", f"{base}:versions", f"{base}:presence"]

    async def start(self) -> None:
        for name, source in (
            ("publish", _PUBLISH),
            ("counts", _COUNTS),
            ("latest", _LATEST),
            ("presence", _PRESENCE),
        ):
            self._scripts[name] = self._redis.register_script(source)

    async def close(self) -> None:
        """Stop every stream reader. Bounded: a reader that swallowed its
        cancellation inside the Redis client still sees ``_closed`` and ends
        within one blocking read."""
        self._closed = True
        readers = list(self._readers.values())
        self._readers.clear()
        for task in readers:
            task.cancel()
        if readers:
            await asyncio.wait(readers, timeout=2 * _BLOCK_MS / 1000 + 1)

    async def attach(self, channel: str, sink: Sink) -> int:
        self._sinks.setdefault(channel, []).append(sink)
        seq_key, log_key, _, _ = self._keys(channel)
        last = int(await self._redis.get(seq_key) or 0)
        if channel not in self._readers:
            self._readers[channel] = asyncio.create_task(self._read(channel, log_key, last))
        return last

    async def detach(self, channel: str, sink: Sink) -> None:
        sinks = self._sinks.get(channel, [])
        if sink in sinks:
            sinks.remove(sink)
        if not sinks and channel in self._readers:
            self._readers.pop(channel).cancel()
            self._sinks.pop(channel, None)

    async def _read(self, channel: str, log_key: str, last: int) -> None:
        cursor = f"{last}-0"
        while not self._closed and channel in self._readers:
            try:
                reply = await self._redis.xread({log_key: cursor}, block=_BLOCK_MS, count=500)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("reading the stream of channel %s failed; retrying", channel)
                await asyncio.sleep(0.5)
                continue
            for _key, entries in reply or ():
                for entry_id, fields in entries:
                    cursor = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
                    stamped = _load(int(cursor.split("-")[0]), fields[b"e"])
                    for sink in list(self._sinks.get(channel, ())):
                        sink(stamped)

    async def _run(self, name: str, channel: str, *args: Any) -> None:
        await self._scripts[name](keys=self._keys(channel), args=[self._maxlen, *args])

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
        keys = self._keys(channel)
        await self._scripts["presence"](
            keys=[keys[0], keys[1], keys[3], keys[2]],
            args=[self._maxlen, head, node, count, now_ms, int(PRESENCE_TTL * 1000)],
        )

    async def replay(self, channel: str, since: int, upto: int) -> list[Stamped] | None:
        if since >= upto:
            return [] if since == upto else None
        _, log_key, _, _ = self._keys(channel)
        entries = await self._redis.xrange(log_key, f"{since + 1}-0", f"{upto}-0")
        out = [_load(int(i.decode().split("-")[0]), f[b"e"]) for i, f in entries]
        if not out or out[0].seq != since + 1 or out[-1].seq != upto:
            return None
        return out
