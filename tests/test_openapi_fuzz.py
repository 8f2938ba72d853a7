"""Schemathesis over every operation of /openapi.json: no 5xx, replies match the schema.

It runs the schemathesis CLI as a subprocess against the app served by a real
uvicorn (in this event loop), with an organiser token, on each backend. The
example count is bounded so the run stays short; the seed is fixed so a
failure reproduces.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import httpx

from tests.conftest import Backend, LiveServer
from tests.factories.festival import festival, organiser

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"


async def test_no_operation_answers_5xx_or_breaks_its_schema(
    live_server: LiveServer, backend: Backend, tmp_path: Path
) -> None:
    _, token = await organiser(backend.engine)
    async with httpx.AsyncClient(base_url=live_server.url) as client:
        await festival(client, token, slug="fuzzed")
    process = await asyncio.create_subprocess_exec(
        str(SCHEMATHESIS),
        "run",
        f"{live_server.url}/openapi.json",
        "--checks",
        "not_a_server_error,response_schema_conformance,content_type_conformance",
        "--max-examples",
        "8",
        "--seed",
        "20261122",
        "--phases",
        "examples,fuzzing",
        "--max-time",
        "15",
        "--request-timeout",
        "10",
        "--header",
        f"Authorization: Bearer {token}",
        "--report-dir",
        str(tmp_path),
        "--no-color",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=tmp_path,
    )
    output, _ = await process.communicate()
    text = output.decode(errors="replace")
    assert process.returncode == 0, text[-6000:]
    assert "No issues found" in text or "passed" in text.lower(), text[-3000:]
