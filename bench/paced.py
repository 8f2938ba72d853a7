"""Scanners at a set pace: latency at a given rate, not at saturation.

wrk keeps every connection busy, so its latency is the server's queue at full
load (mean = connections / throughput, by Little's law). A door is not run
flat out: 32 scanners each scan when someone steps up. Here ``scanners``
keep-alive connections share ``rate`` requests per second evenly (scanner i
sends at t0 + (k * scanners + i) / rate), one request in flight each, like a
handheld scanner. Latency is measured from the time a scan was due, not from
when it was sent, so a reply that comes late also makes the scans queued behind
it late (no "coordinated omission", as in wrk2).

Used by ``bench.checkin --rate``; runs in its own process (uvloop when
installed) so that its CPU is not the server's. That process is spawned, so
call :func:`paced` from a script whose work sits under
``if __name__ == "__main__":``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing import get_context


@dataclass
class PacedResult:
    rate: float
    requests: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    non_2xx: int

    def line(self) -> str:
        return (
            f"{self.rate:,.0f} req/s achieved ({self.requests:,} requests), latency from the "
            f"time each was due: p50 {self.p50_ms:.1f} ms, p90 {self.p90_ms:.1f} ms, "
            f"p99 {self.p99_ms:.1f} ms, max {self.max_ms:.1f} ms, non-2xx {self.non_2xx}"
        )


def paced(
    port: int,
    requests: Sequence[bytes],
    *,
    rate: float,
    scanners: int,
    seconds: float,
) -> PacedResult:
    """Send ``requests`` (whole HTTP/1.1 requests, in order) to 127.0.0.1:``port``."""
    with get_context("spawn").Pool(1) as pool:
        result: PacedResult = pool.apply(_run, (port, list(requests), rate, scanners, seconds))
    return result


def _run(
    port: int, requests: list[bytes], rate: float, scanners: int, seconds: float
) -> PacedResult:
    try:
        import uvloop

        return uvloop.run(_drive(port, requests, rate, scanners, seconds))
    except ImportError:
        return asyncio.run(_drive(port, requests, rate, scanners, seconds))


async def _drive(
    port: int, requests: list[bytes], rate: float, scanners: int, seconds: float
) -> PacedResult:
    total = min(len(requests), int(rate * seconds))
    latencies: list[float] = []
    statuses: list[int] = []
    start = time.perf_counter() + 0.2

    async def scanner(i: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for k in range(i, total, scanners):
                due = start + k / rate
                wait = due - time.perf_counter()
                if wait > 0:
                    await asyncio.sleep(wait)
                writer.write(requests[k])
                statuses.append(await _reply(reader))
                latencies.append(time.perf_counter() - due)
        finally:
            writer.close()

    await asyncio.wait_for(asyncio.gather(*(scanner(i) for i in range(scanners))), seconds * 3 + 30)
    elapsed = time.perf_counter() - start
    ordered = sorted(latencies)

    def pct(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return PacedResult(
        rate=len(ordered) / elapsed,
        requests=len(ordered),
        p50_ms=pct(0.50),
        p90_ms=pct(0.90),
        p99_ms=pct(0.99),
        max_ms=ordered[-1] * 1000,
        non_2xx=sum(1 for s in statuses if not 200 <= s < 300),
    )


async def _reply(reader: asyncio.StreamReader) -> int:
    """Read one response (Content-Length framed); its status code."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return status


def post(path: str, body: bytes, headers: dict[str, str]) -> bytes:
    """A whole HTTP/1.1 POST of ``body`` to ``path`` on 127.0.0.1."""
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body
