"""Abuse limits: how often something may happen per key (an address, an e-mail) in a window.

A :class:`Rule` names what is counted, how many are allowed and for how long;
a limiter counts hits of a rule per key in a *fixed window that opens at the
key's first hit* and ends ``window`` seconds later, when the count starts again
from nothing. No HTTP here: the API turns :class:`festival.errors.TooManyRequests`
into ``429`` with ``Retry-After``, and says which address a request comes from.

Three limiters, one interface:

- :class:`RedisLimiter` when ``FESTIVAL_REDIS_URL`` is set: every process
  behind the proxy shares the counts (one Lua script per hit, so the count and
  the window's expiry move together);
- :class:`MemoryLimiter` otherwise (one process);
- :class:`Unlimited` with ``FESTIVAL_RATE_LIMITS=off``.

What is *not* guaranteed: a fixed window lets up to twice ``limit`` through
around the moment one window ends and the next opens; a Redis that cannot be
reached lets everything through (logged), since sign-in and registration must
not fail with it; the memory limiter forgets its oldest windows beyond
:data:`MEMORY_KEYS`, so a flood of distinct keys cannot fill the process.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import ip_address, ip_network
from typing import TYPE_CHECKING, Any

from festival.errors import TooManyRequests

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger("festival.limits")

MEMORY_KEYS = 100_000


@dataclass(frozen=True, slots=True)
class Rule:
    """``limit`` hits per key in a window of ``window`` seconds; ``name`` keeps
    rules apart in the store (and in the logs)."""

    name: str
    limit: int
    window: float


# Sign-in counts failures (a success gives its own attempt back, and nothing
# else). Per account, whichever address guesses: 10 in 15 minutes is more than a
# person who forgot a password needs, and caps online guessing at ~1,000 a day,
# hopeless against any real password; the owner is locked out for at most 15
# minutes after an attack stops. Per address, whichever accounts: 20 in 15
# minutes stops spraying one password over many e-mails from one place and
# leaves room for an office of organisers behind one address.
SIGN_IN_ACCOUNT = Rule("sign_in.account", 10, 15 * 60)
SIGN_IN_ADDRESS = Rule("sign_in.address", 20, 15 * 60)
# Registrations per address per festival: 30 an hour. A family or a team
# registering from one place fits; a script filling a festival's places or
# probing who registered does not. A registration desk behind one address
# should sit behind a trusted proxy or register through the organiser.
REGISTER_ADDRESS = Rule("register.address", 30, 60 * 60)
# Letters to one e-mail address a form may cause (a festival's confirmation
# links): 5 in 15 minutes. Beyond it the form answers as ever and sends nothing,
# so it cannot be turned on someone's inbox, and the owner waits at most 15 minutes.
LETTERS_TO_ADDRESS = Rule("letters.address", 5, 15 * 60)
# Live-session joins per token, across every node: 60 a minute. Each node also
# keeps its own smoother bucket and the wait after a close for abuse (realtime).
LIVE_JOINS = Rule("live.joins", 60, 60)
# Sign-in links asked for from one client address per festival: 20 an hour.
ACCESS_LINK_ADDRESS = Rule("access_link.address", 20, 60 * 60)


@dataclass(frozen=True, slots=True)
class Count:
    """A key's hits of ``rule`` in its current window, and when that window ends."""

    rule: Rule
    count: int
    resets_in: float

    @property
    def over(self) -> bool:
        return self.count > self.rule.limit

    @property
    def retry_after(self) -> int:
        """Whole seconds until the window ends (at least 1)."""
        return max(1, math.ceil(self.resets_in))


class Limiter:
    """Counts hits per (rule, key). ``hit`` counts and returns the counts; ``undo``
    takes one hit back (for what turned out not to count, e.g. a right password)."""

    enabled = True

    async def hit(self, *hits: tuple[Rule, str]) -> tuple[Count, ...]:
        raise NotImplementedError

    async def undo(self, *hits: tuple[Rule, str]) -> None:
        raise NotImplementedError

    async def aclose(self) -> None:
        """Let go of what the limiter holds (not the Redis client, which is lent)."""

    async def take(self, detail: str, *hits: tuple[Rule, str]) -> tuple[Count, ...]:
        """Count ``hits``; :class:`TooManyRequests` (saying ``detail``) if any is over
        its rule, with the longest wait among them. The hits count either way."""
        counts = await self.hit(*hits)
        over = [count for count in counts if count.over]
        if over:
            retry_after = max(count.retry_after for count in over)
            raise TooManyRequests(
                f"{detail}; try again in {retry_after} seconds", retry_after=retry_after
            )
        return counts


class Unlimited(Limiter):
    """``FESTIVAL_RATE_LIMITS=off``: nothing is counted, everything is let through."""

    enabled = False

    async def hit(self, *hits: tuple[Rule, str]) -> tuple[Count, ...]:
        return tuple(Count(rule, 0, 0.0) for rule, _ in hits)

    async def undo(self, *hits: tuple[Rule, str]) -> None:
        return None


@dataclass(slots=True)
class _Window:
    count: int
    ends: float


class MemoryLimiter(Limiter):
    """Counts in this process. ``clock`` (monotonic seconds) may be injected."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._windows: dict[tuple[str, str], _Window] = {}
        self._next_sweep = 0.0

    async def hit(self, *hits: tuple[Rule, str]) -> tuple[Count, ...]:
        now = self.clock()
        self._sweep(now)
        counts = []
        for rule, key in hits:
            window = self._windows.get((rule.name, key))
            if window is None or window.ends <= now:
                window = self._windows[(rule.name, key)] = _Window(0, now + rule.window)
            window.count += 1
            counts.append(Count(rule, window.count, window.ends - now))
        return tuple(counts)

    async def undo(self, *hits: tuple[Rule, str]) -> None:
        now = self.clock()
        for rule, key in hits:
            window = self._windows.get((rule.name, key))
            if window is not None and window.ends > now and window.count > 0:
                window.count -= 1

    def _sweep(self, now: float) -> None:
        """Drop ended windows once a minute, and the oldest beyond ``MEMORY_KEYS``."""
        if now >= self._next_sweep:
            self._next_sweep = now + 60
            for key in [k for k, w in self._windows.items() if w.ends <= now]:
                del self._windows[key]
        while len(self._windows) >= MEMORY_KEYS:
            del self._windows[next(iter(self._windows))]


# KEYS: one per hit; ARGV: each one's window in ms. A key's first hit opens its
# window (PEXPIRE); the count and the expiry are set in one atomic step, so no
# key can be left counting without an end.
_HIT = """
local out = {}
for i, key in ipairs(KEYS) do
  local n = redis.call('INCR', key)
  local ttl = redis.call('PTTL', key)
  if ttl < 0 then
    ttl = tonumber(ARGV[i])
    redis.call('PEXPIRE', key, ttl)
  end
  out[#out + 1] = n
  out[#out + 1] = ttl
end
return out
"""
_UNDO = """
for _, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') > 0 then redis.call('DECR', key) end
end
return 0
"""


class RedisLimiter(Limiter):
    """Counts in Redis, shared by every process that uses the same ``prefix``.

    Keys are ``<prefix>:limit:<rule>:<digest of the key>``: addresses and e-mails
    are not written to Redis in clear, and every key has the same short length.
    """

    def __init__(self, redis: Redis[Any], prefix: str) -> None:
        from redis.exceptions import RedisError

        self.prefix = prefix
        self._failures = (RedisError, OSError)
        self._hit = redis.register_script(_HIT)
        self._undo = redis.register_script(_UNDO)
        self._warned_at = -math.inf

    def key(self, rule: Rule, key: str) -> str:
        digest = hashlib.blake2b(key.encode(), digest_size=16).hexdigest()
        return f"{self.prefix}:limit:{rule.name}:{digest}"

    async def hit(self, *hits: tuple[Rule, str]) -> tuple[Count, ...]:
        keys = [self.key(rule, key) for rule, key in hits]
        windows = [int(rule.window * 1000) for rule, _ in hits]
        try:
            out: list[Any] = await self._hit(keys=keys, args=windows)
        except self._failures as exc:  # a limit must not break the call it guards
            self._warn(exc)
            return tuple(Count(rule, 0, 0.0) for rule, _ in hits)
        return tuple(
            Count(rule, int(out[2 * i]), int(out[2 * i + 1]) / 1000)
            for i, (rule, _) in enumerate(hits)
        )

    async def undo(self, *hits: tuple[Rule, str]) -> None:
        try:
            await self._undo(keys=[self.key(rule, key) for rule, key in hits])
        except self._failures as exc:
            self._warn(exc)

    def _warn(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._warned_at >= 60:  # a Redis outage would log on every request
            self._warned_at = now
            log.warning("abuse limits not applied, Redis failed: %r", exc)


def make_limiter(enabled: bool, redis: Redis[Any] | None, prefix: str) -> Limiter:
    """The limiter for a process: off, in Redis (shared) or in memory."""
    if not enabled:
        return Unlimited()
    if redis is not None:
        return RedisLimiter(redis, prefix)
    return MemoryLimiter()


def address_key(address: str) -> str:
    """What an address is limited by: an IPv4 address itself, an IPv6 address its
    /64 (what one subscriber holds, and can hop around in at will)."""
    try:
        found = ip_address(address)
    except ValueError:
        return address
    if found.version == 6:
        return str(ip_network(f"{found}/64", strict=False))
    return str(found)


def email_key(email: str) -> str:
    """What an e-mail address is limited by: a hash, so no address sits in Redis."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
