"""CSV exports for moderators: pure functions of loaded data."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from realtime.models import Question

QUESTION_COLUMNS = [
    "id",
    "created_at",
    "status",
    "highlighted",
    "votes",
    "anonymous",
    "author",
    "text",
]
POLL_COLUMNS = ["poll_id", "question", "kind", "status", "answer", "count", "total", "average"]


def _safe(value: Any) -> Any:
    """Keep spreadsheets from running a cell as a formula."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def questions_csv(questions: Sequence[Question]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(QUESTION_COLUMNS)
    for q in questions:
        author = "" if q.anonymous else (q.author_name or "")
        row = [q.id, q.created_at.isoformat(), q.status, q.highlighted, q.votes, q.anonymous]
        writer.writerow([_safe(v) for v in [*row, author, q.text]])
    return out.getvalue()


def polls_csv(polls: Sequence[dict[str, Any]]) -> str:
    """One row per option, rating value or word of every poll (views with results)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(POLL_COLUMNS)
    for poll in polls:
        results = poll.get("results") or {}
        head = [poll["id"], poll["question"], poll["kind"], poll["status"]]
        total, average = results.get("total", 0), results.get("average")
        if "options" in results:
            answers = [(o["text"], o["count"]) for o in results["options"]]
        elif "histogram" in results:
            answers = list(results["histogram"].items())
        else:
            answers = list(results.get("words", {}).items())
        for answer, count in answers or [("", 0)]:
            writer.writerow([_safe(v) for v in [*head, answer, count, total, average]])
    return out.getvalue()
