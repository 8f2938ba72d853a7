"""What a participant's screen shows, kept from its socket as the pages keep it,
and what the database says it should show.

A :class:`Viewer` applies frames as ``api/static/js/socket.js`` does: a
snapshot replaces everything (whatever its number, so a ``reset`` snapshot
with a lower number than before is taken), an event at or below the last
number is skipped, any other event is applied. :func:`truth` reads the same
things from the database, so a test can say "every screen equals the database".
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from websockets.exceptions import ConnectionClosed

from realtime.models import Question, QuestionVote
from tests.factories.festival import auth
from tests.realtime.clients import LiveClient

PUBLIC = ("approved", "answered")
Screen = dict[str, Any]


@dataclass
class Viewer:
    client: LiveClient
    role: str
    token: str
    seq: int | None = None
    questions: dict[str, dict[str, Any]] = field(default_factory=dict)
    results: dict[str, dict[str, int]] = field(default_factory=dict)
    presence: int | None = None
    reasons: list[str] = field(default_factory=list)
    seen_at: dict[str, float] = field(default_factory=dict)  # question id: when first shown

    @classmethod
    async def join(
        cls, ws_url: str, session_id: uuid.UUID, token: str, role: str, since: int | None = None
    ) -> Viewer:
        viewer = cls(await LiveClient.open(ws_url, session_id, token, since=since), role, token)
        await viewer.until(lambda v: v.seq is not None)
        return viewer

    async def resume(self, ws_url: str, session_id: uuid.UUID) -> None:
        """Reconnect (to ``ws_url``) with ``since=`` the last number applied, keeping
        what the screen shows, as the pages do after a drop."""
        self.client = await LiveClient.open(ws_url, session_id, self.token, since=self.seq)

    def apply(self, frame: dict[str, Any]) -> None:
        kind, data = frame.get("type"), frame.get("data", {})
        if "seq" not in frame:
            return
        if kind == "snapshot":
            self.seq = frame["seq"]
            self.reasons.append(data["reason"])
            self.questions = {}
            for question in data["questions"]:
                self._question(question)
            self.results = {
                p["id"]: _counts(p["results"]) for p in data["polls"] if p.get("results")
            }
            self.presence = data["presence"]["count"]
            return
        if self.seq is not None and frame["seq"] <= self.seq:
            return
        self.seq = frame["seq"]
        if kind in ("question.added", "question.updated"):
            self._question(data)
        elif kind == "question.votes":
            for qid, n in data["counts"].items():
                if qid in self.questions:
                    self.questions[qid]["votes"] = n
        elif kind == "poll.results":
            self.results[data["poll_id"]] = _counts(data)
        elif kind == "presence":
            self.presence = data["count"]

    def _question(self, view: dict[str, Any]) -> None:
        self.questions[view["id"]] = dict(view)
        if view["status"] in PUBLIC or self.role == "moderator":
            self.seen_at.setdefault(view["id"], time.monotonic())

    def screen(self) -> Screen:
        """What the page shows: the questions this role sees (status, text, votes),
        the poll results, the number of people here."""
        shown = {
            qid: (q["status"], q["text"], q["votes"])
            for qid, q in self.questions.items()
            if self.role == "moderator" or q["status"] in PUBLIC
        }
        return {"questions": shown, "results": self.results, "presence": self.presence}

    async def read(self, within: float) -> bool:
        """Apply the next frame if one comes within ``within`` seconds; whether one came."""
        try:
            frame = await asyncio.wait_for(self.client.ws.recv(), within)
        except TimeoutError:
            return False
        parsed = json.loads(frame)
        if "seq" in parsed:
            self.client.events.append(parsed)
        elif "id" in parsed:
            self.client.replies[parsed["id"]] = parsed
        self.apply(parsed)
        return True

    async def until(self, check: Callable[[Viewer], bool], within: float = 30) -> None:
        deadline = time.monotonic() + within
        while not check(self):
            left = deadline - time.monotonic()
            assert left > 0, f"a {self.role} screen never got there: {self.screen()}"
            await self.read(left)

    async def request(self, kind: str, data: dict[str, Any]) -> dict[str, Any]:
        """Send a frame; its ack or error, applying the events read meanwhile."""
        frame_id = await self.client.send(kind, data)
        while frame_id not in self.client.replies:
            await self.read(30)
        return self.client.replies.pop(frame_id)

    async def close(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            await self.client.close()


def _counts(results: dict[str, Any]) -> dict[str, int]:
    counts = {o["id"]: o["count"] for o in results.get("options", [])}
    counts["total"] = results["total"]
    return counts


async def truth(
    engine: AsyncEngine, http: httpx.AsyncClient, session_id: uuid.UUID, moderator: str
) -> dict[str, Screen]:
    """What each role's screen should show, read from the database: the questions
    (and their vote counts, checked against the vote rows: no vote counted twice)
    and every open or closed poll's results."""
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                select(Question.id, Question.status, Question.text, Question.votes).where(
                    Question.session_id == session_id
                )
            )
        ).all()
        cast = dict(
            (
                await connection.execute(
                    select(QuestionVote.question_id, func.count()).group_by(
                        QuestionVote.question_id
                    )
                )
            ).all()
        )
    for qid, _, _, votes in rows:
        assert votes == cast.get(qid, 0), "a question's count is not its votes"
    everything = {str(q): (s, t, n) for q, s, t, n in rows}
    public = {q: v for q, v in everything.items() if v[0] in PUBLIC}
    polls = (
        await http.get(f"/api/v1/sessions/{session_id}/polls", headers=auth(moderator))
    ).json()["items"]
    results = {}
    for poll in polls:
        if poll["status"] == "draft":
            continue
        got = await http.get(
            f"/api/v1/sessions/{session_id}/polls/{poll['id']}/results", headers=auth(moderator)
        )
        results[poll["id"]] = _counts(got.json())
    return {
        "attendee": {"questions": public, "results": results},
        "moderator": {"questions": everything, "results": results},
    }


async def converge(viewers: list[Viewer], expected: Callable[[], Any], within: float = 30) -> None:
    """Read every screen until each equals what ``expected()`` (re-read as needed) says."""
    deadline = time.monotonic() + within
    want: dict[str, Screen] = await expected()
    for viewer in viewers:
        while True:
            screen = viewer.screen()
            goal = want[viewer.role]
            if {k: screen[k] for k in goal} == goal:
                break
            left = deadline - time.monotonic()
            assert left > 0, f"a {viewer.role} screen differs from the database:\n{screen}\n{goal}"
            if not await viewer.read(min(left, 1.0)):
                want = await expected()
