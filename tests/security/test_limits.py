"""The limiter (``festival.limits``) and the client's address (``api.http.client_address``).

The memory limiter runs on an injected clock; the Redis one against the real
Redis of ``FESTIVAL_TEST_REDIS_URL``, each test under a prefix of its own.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from redis.asyncio import Redis

from api.http.client_address import ClientAddress, parse_address, uvicorn_options
from festival import limits
from festival.errors import TooManyRequests
from festival.limits import (
    MemoryLimiter,
    RedisLimiter,
    Rule,
    Unlimited,
    address_key,
    make_limiter,
)
from festival.settings import Settings
from realtime.protocol import Limits
from tests.conftest import Backend, free_port
from tests.factories.festival import auth
from tests.factories.realtime import live_session
from tests.security.limited import cheap_account, limited, served, sign_in

RULE = Rule("test.rule", 3, 60)
OTHER = Rule("test.other", 1, 60)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_memory_limiter_counts_per_key_in_a_window_opened_by_the_first_hit() -> None:
    clock = Clock()
    limiter = MemoryLimiter(clock)
    counts = [(await limiter.hit((RULE, "a")))[0] for _ in range(4)]
    assert [c.count for c in counts] == [1, 2, 3, 4]
    assert [c.over for c in counts] == [False, False, False, True]
    assert (await limiter.hit((RULE, "b")))[0].count == 1  # another key, its own count
    assert (await limiter.hit((OTHER, "a")))[0].count == 1  # another rule, its own count
    clock.now += 45
    late = (await limiter.hit((RULE, "a")))[0]
    assert (late.count, late.resets_in, late.retry_after) == (5, 15.0, 15)
    clock.now += 15  # the window opened by the first hit has ended
    assert (await limiter.hit((RULE, "a")))[0].count == 1


async def test_take_raises_with_the_longest_wait_of_the_rules_over() -> None:
    clock = Clock()
    limiter = MemoryLimiter(clock)
    short, long = Rule("test.short", 1, 10), Rule("test.long", 1, 100)
    await limiter.take("Too many", (short, "k"), (long, "k"))
    clock.now += 5
    with pytest.raises(TooManyRequests) as refused:
        await limiter.take("Too many", (short, "k"), (long, "k"))
    assert refused.value.retry_after == 95
    assert refused.value.status == 429
    assert refused.value.extras["retry_after"] == 95
    assert refused.value.detail == "Too many; try again in 95 seconds"


async def test_undo_gives_back_one_hit_and_never_goes_below_nothing() -> None:
    limiter = MemoryLimiter(Clock())
    await limiter.hit((RULE, "a"), (RULE, "a"))
    await limiter.undo((RULE, "a"))
    assert (await limiter.hit((RULE, "a")))[0].count == 2
    for _ in range(5):
        await limiter.undo((RULE, "a"))
    assert (await limiter.hit((RULE, "a")))[0].count == 1


async def test_memory_limiter_forgets_its_oldest_windows_beyond_its_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(limits, "MEMORY_KEYS", 3)
    limiter = MemoryLimiter(Clock())
    for key in ("a", "b", "c", "d"):
        await limiter.hit((RULE, key))
    assert (await limiter.hit((RULE, "d")))[0].count == 2
    assert (await limiter.hit((RULE, "a")))[0].count == 1  # forgotten, counts afresh


async def test_unlimited_counts_nothing() -> None:
    limiter = make_limiter(False, None, "festival")
    assert isinstance(limiter, Unlimited)
    for _ in range(10):
        await limiter.take("never", (OTHER, "a"))


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client: Redis = Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def prefix() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.mark.redis
async def test_redis_limiters_share_counts_and_windows(
    redis: Redis, redis_url: str, prefix: str
) -> None:
    other: Redis = Redis.from_url(redis_url)  # as another process would hold it
    try:
        one, two = RedisLimiter(redis, prefix), RedisLimiter(other, prefix)
        assert (await one.hit((RULE, "a")))[0].count == 1
        assert (await two.hit((RULE, "a")))[0].count == 2
        await two.undo((RULE, "a"))
        counted = await one.hit((RULE, "a"), (OTHER, "a"))
        assert [c.count for c in counted] == [2, 1]
        assert 59 < counted[0].resets_in <= 60
        assert [c.count for c in await RedisLimiter(redis, prefix + "x").hit((RULE, "a"))] == [1]
        key = one.key(RULE, "a")
        assert key.startswith(f"{prefix}:limit:test.rule:")
        assert 0 < await redis.pttl(key) <= 60_000
    finally:
        await other.aclose()


@pytest.mark.redis
async def test_redis_window_ends_when_its_key_expires(redis: Redis, prefix: str) -> None:
    limiter = RedisLimiter(redis, prefix)
    brief = Rule("test.brief", 1, 0.2)
    assert [c.over for c in await limiter.hit((brief, "k"), (brief, "k"))] == [False, True]
    await asyncio.sleep(0.3)
    assert (await limiter.hit((brief, "k")))[0].count == 1


@pytest.mark.redis
async def test_redis_keys_hold_no_address_or_email_in_clear(redis: Redis, prefix: str) -> None:
    limiter = RedisLimiter(redis, prefix)
    await limiter.hit((RULE, "ada@example.org"), (RULE, "203.0.113.9"))
    # What follows the test's own random prefix (whose hex may spell "ada" by chance).
    keys = [k.decode().removeprefix(prefix) for k in await redis.keys(f"{prefix}:*")]
    assert len(keys) == 2
    assert not [k for k in keys if "ada" in k or "203.0" in k]


async def test_redis_limiter_lets_calls_through_when_redis_is_unreachable() -> None:
    down: Redis = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0")
    try:
        limiter = RedisLimiter(down, "festival")
        for _ in range(3):
            await limiter.take("never", (OTHER, "a"))
        await limiter.undo((OTHER, "a"))
    finally:
        await down.aclose()


@pytest.mark.redis
async def test_two_app_instances_share_the_sign_in_limits_through_redis(
    settings: Settings, backend: Backend, redis_url: str, prefix: str
) -> None:
    shared = limited(settings, redis_url=redis_url, redis_prefix=prefix)
    email = await cheap_account(backend.engine)
    async with served(shared) as a, served(shared) as b:
        codes = [(await sign_in(a if i % 2 else b, email)).status_code for i in range(10)]
        assert codes == [401] * 10
        assert (await sign_in(a, email)).status_code == 429
        assert (await sign_in(b, email)).status_code == 429


# --- the client's address --------------------------------------------------------


def _scope(peer: str | None, *forwarded: str) -> dict[str, object]:
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    return {"type": "http", "client": (peer, 50000) if peer else None, "headers": headers}


def test_without_trusted_proxies_the_socket_peer_is_the_client() -> None:
    address = ClientAddress()
    assert address(_scope("198.51.100.7", "203.0.113.1")) == "198.51.100.7"
    assert address(_scope("::ffff:198.51.100.7")) == "198.51.100.7"
    assert address(_scope(None)) == "unknown"
    assert uvicorn_options(()) == {"proxy_headers": False}


def test_a_trusted_proxy_names_the_client_and_nobody_else_does() -> None:
    address = ClientAddress(["10.0.0.0/8", "192.0.2.1"])
    # an untrusted peer's header is ignored
    assert address(_scope("198.51.100.7", "203.0.113.1")) == "198.51.100.7"
    # the hop the trusted proxy added wins over what the client wrote before it
    assert address(_scope("10.0.0.2", "203.0.113.66, 198.51.100.7")) == "198.51.100.7"
    # past a chain of trusted proxies, over several headers
    assert address(_scope("10.0.0.2", "198.51.100.7, 192.0.2.1", "10.1.1.1")) == "198.51.100.7"
    # a hop that is no address stops the walk at the last trusted one
    assert address(_scope("10.0.0.2", "198.51.100.7, nonsense")) == "10.0.0.2"
    # ports and brackets, as some proxies write them
    assert address(_scope("10.0.0.2", "[2001:db8::5]:443")) == "2001:db8::5"
    assert address(_scope("10.0.0.2", "198.51.100.7:1234")) == "198.51.100.7"
    # a trusted proxy with no header is the client
    assert address(_scope("10.0.0.2")) == "10.0.0.2"
    assert uvicorn_options(("10.0.0.0/8", "192.0.2.1/32")) == {
        "proxy_headers": True,
        "forwarded_allow_ips": "10.0.0.0/8,192.0.2.1/32",
    }


def test_addresses_are_limited_by_ipv4_address_and_ipv6_64() -> None:
    assert address_key("198.51.100.7") == "198.51.100.7"
    assert address_key("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64"
    assert address_key("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert address_key("unknown") == "unknown"
    assert parse_address("not an address") is None


def test_rate_limits_are_on_by_default_and_read_on_and_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("FESTIVAL_RATE_LIMITS", raising=False)
    monkeypatch.delenv("FESTIVAL_TRUSTED_PROXIES", raising=False)
    secret = "s" * 40
    assert Settings(secret_key=secret).rate_limits is True
    assert Settings(secret_key=secret).trusted_proxies == ()
    monkeypatch.setenv("FESTIVAL_RATE_LIMITS", "off")
    monkeypatch.setenv("FESTIVAL_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8 ,::1")
    read = Settings(secret_key=secret)
    assert read.rate_limits is False
    assert read.trusted_proxies == ("127.0.0.1/32", "10.0.0.0/8", "::1/128")
    monkeypatch.setenv("FESTIVAL_TRUSTED_PROXIES", "10.0.0.0/8,proxy.internal")
    with pytest.raises(ValueError, match=r"'proxy\.internal' is not an address or a network"):
        Settings(secret_key=secret)


async def test_the_rest_mirrors_429_says_when_the_next_question_may_come(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    """The REST mirrors share the attendee's live allowance (tests/realtime); beyond
    it, their 429 carries Retry-After like every other."""
    live = await live_session(backend.engine)
    path = f"/api/v1/sessions/{live.session_id}/questions"
    ada = auth(await live.attendee())
    replies = [await client.post(path, json={"text": f"Q{i}?"}, headers=ada) for i in range(4)]
    assert [r.status_code for r in replies] == [201, 201, 201, 429]
    limits = Limits()
    wait = int(replies[-1].headers["retry-after"])
    assert 0 < wait <= 60 / limits.questions_per_minute + 1
    assert replies[-1].json()["retry_after"] == wait
