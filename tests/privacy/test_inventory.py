"""The inventory of personal data (festival.privacy) covers every column that looks personal."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import JSON, Text, Uuid

import festival.models
import realtime.models
import schedule.models
import tickets.models
from festival.db import Base
from festival.privacy import NOT_PERSONAL, PERSONAL

_ = (festival.models, schedule.models, tickets.models, realtime.models)
ROOT = Path(__file__).resolve().parents[2]
# A name, an address, free text, what someone agreed to, a secret's hash.
LOOKS_PERSONAL = re.compile(
    r"name|e_?mail|address|phone|text|body|bio|label|organisation|country|payload|reply"
    r"|subject|description|title|question|detail|note|comment|author|gate|seal|hash"
    r"|consent|password|error|before|after|terms"
)


def _looks_personal() -> set[str]:
    found = set()
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, Uuid):
                continue  # links, not data: what they link to is judged where it lives
            free = isinstance(column.type, Text | JSON)
            if free or LOOKS_PERSONAL.search(column.name):
                found.add(f"{table.name}.{column.name}")
    return found


def test_every_column_that_looks_personal_is_in_the_inventory() -> None:
    listed = {f"{p.table}.{p.column}" for p in PERSONAL} | set(NOT_PERSONAL)
    assert sorted(_looks_personal() - listed) == []


def test_the_inventory_names_only_columns_that_exist() -> None:
    columns = {f"{t.name}.{c.name}" for t in Base.metadata.sorted_tables for c in t.columns}
    listed = {f"{p.table}.{p.column}" for p in PERSONAL} | set(NOT_PERSONAL)
    assert sorted(listed - columns) == []


def test_the_privacy_page_lists_every_personal_column() -> None:
    page = (ROOT / "docs" / "privacy.md").read_text()
    missing = [f"{p.table}.{p.column}" for p in PERSONAL if f"`{p.table}.{p.column}`" not in page]
    assert missing == []
