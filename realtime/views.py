"""What clients are shown: pure functions from rows to JSON-ready dicts.

The identity of an anonymous question's author is not here to leak: the row
holds no name for it, and these views never show ``author_id`` to anyone.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from realtime.models import Poll, PollOption, Question
from realtime.protocol import Event

WORD = re.compile(r"[^\W\d_][\w'-]*", re.UNICODE)
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "from",
        "has",
        "have",
        "i",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "so",
        "that",
        "the",
        "this",
        "to",
        "was",
        "we",
        "were",
        "will",
        "with",
        "de",
        "het",
        "een",
        "en",
        "van",
    ]
)
MAX_WORDS = 60


def question_view(question: Question) -> dict[str, Any]:
    return {
        "id": str(question.id),
        "text": question.text,
        "anonymous": question.anonymous,
        "author": None if question.anonymous else question.author_name,
        "status": question.status,
        "highlighted": question.highlighted,
        "votes": question.votes,
        "rev": question.revision,
        "created_at": question.created_at.isoformat(),
    }


def poll_view(poll: Poll, options: Sequence[PollOption]) -> dict[str, Any]:
    return {
        "id": str(poll.id),
        "question": poll.question,
        "kind": poll.kind,
        "options": [{"id": str(o.id), "text": o.text} for o in options],
        "max_choices": poll.max_choices,
        "scale": poll.scale,
        "hide_results": poll.hide_results,
        "status": poll.status,
    }


def results_shown_to(poll: Poll, role: str) -> bool:
    return role != "attendee" or not poll.hide_results or poll.status == "closed"


def results_audience(poll: Poll) -> str:
    return "staff" if poll.hide_results and poll.status != "closed" else "all"


def option_results(
    poll: Poll, options: Sequence[PollOption], counts: dict[Any, int], total: int
) -> dict[str, Any]:
    return {
        "poll_id": str(poll.id),
        "total": total,
        "options": [
            {"id": str(o.id), "text": o.text, "count": counts.get(o.id, 0)} for o in options
        ],
    }


def rating_results(poll: Poll, counts: dict[int, int]) -> dict[str, Any]:
    total = sum(counts.values())
    weighted = sum(value * n for value, n in counts.items())
    scale = poll.scale or 5
    return {
        "poll_id": str(poll.id),
        "total": total,
        "average": round(weighted / total, 2) if total else None,
        "histogram": {str(v): counts.get(v, 0) for v in range(1, scale + 1)},
    }


def text_results(poll: Poll, texts: Iterable[str | None]) -> dict[str, Any]:
    words: Counter[str] = Counter()
    total = 0
    for text in texts:
        total += 1
        seen = {w.lower() for w in WORD.findall(text or "")}
        words.update(w for w in seen if len(w) > 1 and w not in STOPWORDS)
    top = sorted(words.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_WORDS]
    return {"poll_id": str(poll.id), "total": total, "words": dict(top)}


def results_event(poll: Poll, results: dict[str, Any]) -> Event:
    return Event("poll.results", results, audience=results_audience(poll))  # type: ignore[arg-type]
