"""The import-linter contracts of STYLE.md hold: arrows point down, no HTTP in domains."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOMAINS = ("festival", "schedule", "tickets", "realtime")


def test_import_contracts_are_kept() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


# What only the HTTP edge should know: the problem type URLs and media type.
PROBLEM_MARKERS = ("festival.invalid/problems", "application/problem+json")

# Modules below api/ still allowed an HTTP status, and why. An entry that no
# longer finds one fails (so the list only shrinks).
KNOWN = {
    # FestivalError's families carry the status api/http/problems.py answers with
    # (problem_for); api/live/endpoint.py and api/http/idempotency.py read
    # ``exc.status`` as well. Moving the numbers into api/ moves those readers too.
    "festival/errors.py": "FestivalError families",
    # ImportTooLarge sets 413 on a FestivalError: it needs a family of its own first.
    "schedule/errors.py": "ImportTooLarge",
}


def _is_status(value: ast.AST) -> bool:
    """An int literal in HTTP's status range (not a bool)."""
    return (
        isinstance(value, ast.Constant) and type(value.value) is int and 100 <= value.value <= 599
    )


def _literals(value: ast.AST) -> Iterator[ast.AST]:
    """``value`` and, through literal containers only (a dict's values, a tuple's
    items), the literals in it: ``String(200)`` or ``Field(max_length=200)`` is no status."""
    yield value
    if isinstance(value, ast.Dict):
        for item in value.values:
            yield from _literals(item)
    elif isinstance(value, ast.Tuple | ast.List | ast.Set):
        for item in value.elts:
            yield from _literals(item)


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return ""


def _says_status(node: ast.AST) -> bool:
    return "status" in _name(node).lower()


def _speaks_problem(value: object) -> bool:
    return isinstance(value, str) and any(marker in value for marker in PROBLEM_MARKERS)


def http_in(source: str) -> list[str]:
    """Where ``source`` uses an HTTP status as a status, or a problem's type URL.

    A status is a number from 100 to 599 given to something named for a status:
    assigned (``status = 409``, ``STATUS = {"ok": 201}``), passed
    (``status=422``), keyed (``{"status": 422}``) or compared (``x.status >= 400``);
    or anything of the standard library's ``http`` module. Other numbers in that
    range (lengths, limits, ports) are not statuses, and prose is not read.
    """
    found: list[str] = []

    def hit(node: ast.AST, what: str) -> None:
        found.append(f"line {getattr(node, 'lineno', '?')}: {what}")

    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            named = [t for t in targets if _says_status(t)]
            if named and node.value is not None and any(map(_is_status, _literals(node.value))):
                hit(node, f"{_name(named[0])} = a status")
        elif isinstance(node, ast.keyword):
            if node.arg and _says_status(ast.Name(node.arg)) and _is_status(node.value):
                hit(node.value, f"{node.arg}= a status")
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if key is not None and _says_status(key) and _is_status(value):
                    hit(value, f'"{_name(key)}": a status')
        elif isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            if any(map(_says_status, operands)) and any(map(_is_status, operands)):
                hit(node, "a status compared")
        elif isinstance(node, ast.Import | ast.ImportFrom):
            modules = (
                [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
            )
            if any(m == "http" or (m or "").startswith("http.") for m in modules):
                hit(node, "the http module")
        elif isinstance(node, ast.Constant) and _speaks_problem(node.value):
            hit(node, f"a problem type: {node.value!r}")
    return found


def _domain_modules() -> Iterator[Path]:
    for package in DOMAINS:
        yield from sorted((ROOT / package).rglob("*.py"))


def test_no_module_below_api_speaks_http() -> None:
    """The domain answers in its own terms; status, title and problem JSON are api's."""
    offences = {}
    for path in _domain_modules():
        module = path.relative_to(ROOT).as_posix()
        found = http_in(path.read_text())
        if found and module not in KNOWN:
            offences[module] = found
    assert offences == {}


@pytest.mark.parametrize("module", sorted(KNOWN))
def test_each_known_exception_still_is_one(module: str) -> None:
    assert http_in((ROOT / module).read_text()), f"{module} is clean: take it off KNOWN"


@pytest.mark.parametrize(
    "source",
    [
        "status = 409",
        "class E:\n    status = 404",
        'STATUS = {"ok": 201, "gone": 410}',
        "self.status_code = 503",
        "raise Refusal('x', status=422)",
        'body = {"type": "t", "status": 415}',
        "if outcome.status >= 400:\n    pass",
        "from http import HTTPStatus",
        'TYPE = "https://festival.invalid/problems/invalid"',
        'media = "application/problem+json"',
    ],
)
def test_the_http_check_finds_statuses(source: str) -> None:
    assert http_in(source), source


@pytest.mark.parametrize(
    "source",
    [
        "name: Mapped[str] = mapped_column(String(200))",
        "status: Mapped[str] = mapped_column(String(200))",
        "text: str = Field(max_length=500)",
        "MAX_TEXT = 500",
        "limit = 404",
        'if registration.status == "confirmed":\n    pass',
        "reply = await redis.xread({}, block=100, count=500)",
        "port = url.port or (465 if secure else 25)",
        'doc = "a 404 in prose is not read"',
        "if len(names) > 200:\n    pass",
    ],
)
def test_the_http_check_ignores_other_numbers(source: str) -> None:
    assert http_in(source) == [], source
