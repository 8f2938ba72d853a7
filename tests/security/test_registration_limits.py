"""Registration cannot be flooded from one place (issue 16, finding 3), on a real uvicorn.

``REGISTER_ADDRESS`` registrations per client address per festival and window,
whichever door serves them (the fast lane for a plain request, the route for
one with an ``Idempotency-Key``), a ``409`` for an address already registered
included; then ``429`` with ``Retry-After``, and nothing written.
"""

from __future__ import annotations

import httpx

from festival.limits import REGISTER_ADDRESS
from festival.settings import Settings
from tests.conftest import Backend
from tests.factories.festival import auth
from tests.factories.tickets import open_festival, register
from tests.security.limited import limited, served


async def test_registrations_are_limited_per_address_and_festival_on_both_doors(
    settings: Settings, backend: Backend
) -> None:
    # Loopback is a trusted proxy here, so X-Forwarded-For stands for other addresses.
    trusting = limited(settings, trusted_proxies=("127.0.0.1/32",))
    here = {"X-Forwarded-For": "198.51.100.7"}
    async with served(trusting) as client:
        made, token = await open_festival(client, backend.engine)
        other, _ = await open_festival(client, backend.engine)
        slug = made["slug"]
        codes = [(await register(client, slug, email="ada@example.org", headers=here)).status_code]
        codes.append(
            (await register(client, slug, email="ada@example.org", headers=here)).status_code
        )
        for n in range(REGISTER_ADDRESS.limit - 2):
            door = {"Idempotency-Key": f"route-{n}"} if n % 2 else {}
            codes.append((await register(client, slug, headers=here | door)).status_code)
        assert codes == [201, 409] + [201] * (REGISTER_ADDRESS.limit - 2)

        lane = await register(client, slug, headers=here)
        route = await register(client, slug, headers=here | {"Idempotency-Key": "over"})
        for refused in (lane, route):
            assert refused.status_code == 429, refused.text
            assert refused.headers["content-type"] == "application/problem+json"
            retry_after = int(refused.headers["retry-after"])
            assert 0 < retry_after <= REGISTER_ADDRESS.window
            assert (refused.json()["code"], refused.json()["retry_after"]) == (
                "rate_limited",
                retry_after,
            )
        assert _shape(lane) == _shape(route)

        # Another festival, another address: counts of their own.
        assert (await register(client, other["slug"], headers=here)).status_code == 201
        elsewhere = {"X-Forwarded-For": "203.0.113.20"}
        assert (await register(client, slug, headers=elsewhere)).status_code == 201

        listed = await client.get(
            f"/api/v1/festivals/{slug}/registrations", params={"limit": 100}, headers=auth(token)
        )
    # limit - 1 from here (one attempt was the 409), one from elsewhere; no 429 wrote anything
    assert len(listed.json()["items"]) == REGISTER_ADDRESS.limit


def _shape(response: httpx.Response) -> dict[str, object]:
    body = dict(response.json())
    body.pop("detail")
    body.pop("retry_after")  # the seconds left may tick between the two
    return body


async def test_with_rate_limits_off_registrations_are_not_counted(
    settings: Settings, backend: Backend
) -> None:
    async with served(settings) as client:
        made, _ = await open_festival(client, backend.engine)
        codes = [
            (await register(client, made["slug"])).status_code
            for _ in range(REGISTER_ADDRESS.limit + 2)
        ]
    assert codes == [201] * (REGISTER_ADDRESS.limit + 2)
