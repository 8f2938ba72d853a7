"""Which address a request comes from, for the abuse limits (it grants nothing).

The socket's peer is the client, unless that peer is one of the proxies in
``FESTIVAL_TRUSTED_PROXIES``: then ``X-Forwarded-For`` is read from its right
end (the hop the trusted proxy itself added) leftwards, past every trusted
proxy, and the first address that is not one is the client. What a client
writes into the header itself sits further left and is never reached unless
every hop after it is trusted. A hop that is not an address stops the walk at
the last trusted one.

``festival serve`` gives uvicorn the same list (:func:`uvicorn_options`), so the
access log names the same client; without trusted proxies uvicorn reads no
forwarding header at all. Read the address with :func:`client_address` (or
``ClientAddressDep`` in a route) wherever a limit needs it.
"""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.types import Scope

Address = IPv4Address | IPv6Address
UNKNOWN = "unknown"


def parse_address(text: str) -> Address | None:
    """``text`` as an IP address (``[v6]:port`` and ``v4:port`` too, as some proxies
    write them; an IPv4-mapped IPv6 address as the IPv4 one), else None."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        found = ip_address(text)
    except ValueError:
        return None
    if isinstance(found, IPv6Address) and found.ipv4_mapped is not None:
        return found.ipv4_mapped
    return found


class ClientAddress:
    """The client's address of a request (an ASGI scope), given the trusted proxies."""

    def __init__(self, trusted: Iterable[str] = ()) -> None:
        self.trusted = tuple(ip_network(t, strict=False) for t in trusted)

    def trusts(self, address: Address) -> bool:
        return any(address in network for network in self.trusted)

    def __call__(self, scope: Scope) -> str:
        client = scope.get("client")
        peer_text = str(client[0]) if client else ""
        peer = parse_address(peer_text)
        if peer is None:  # a Unix socket, a test transport
            return peer_text or UNKNOWN
        if not self.trusted or not self.trusts(peer):
            return str(peer)
        found = peer
        for hop in reversed(_forwarded(scope)):
            address = parse_address(hop)
            if address is None:
                break
            found = address
            if not self.trusts(address):
                break
        return str(found)


def _forwarded(scope: Scope) -> list[str]:
    """Every ``X-Forwarded-For`` hop, left to right, over all such headers."""
    hops: list[str] = []
    for name, value in scope.get("headers", ()):
        if name == b"x-forwarded-for":
            hops += value.decode("latin-1").split(",")
    return hops


def uvicorn_options(trusted: Iterable[str]) -> dict[str, Any]:
    """uvicorn's forwarding-header options for the same trusted proxies: none read
    without any (uvicorn would otherwise trust 127.0.0.1 by default)."""
    networks = ",".join(trusted)
    if not networks:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": networks}


def client_address(request: Request) -> str:
    """The client's address of ``request``, by the app's :class:`ClientAddress`."""
    address: ClientAddress = request.app.state.client_address
    return address(request.scope)


ClientAddressDep = Annotated[str, Depends(client_address)]
