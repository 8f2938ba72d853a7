"""aiosqlite under SQLAlchemy with one trip to its thread per statement.

aiosqlite runs every call on a thread of its own; SQLAlchemy's adapter makes
four such calls for one statement (open a cursor, execute, fetch the rows,
close the cursor), and each is a hand-off between threads and a wake-up of the
event loop: on a shared two-core machine, 100 to 350 µs apiece. A moderator's
approve, read-lock-write-audit-commit, took 15 of them, more time than the fan-out
to a thousand sockets spends writing.

Here a statement is one function run on aiosqlite's thread: it opens the
cursor, executes, fetches every row, reads the counts and closes the cursor,
and the cursor SQLAlchemy holds keeps the answer. The ``BEGIN`` of the SQLite
recipe (:mod:`festival.db`) rides on the unit of work's first statement, and a
commit or rollback with no transaction open costs no trip at all (the pool's
reset of every connection it takes back, most often).

Server-side cursors (``stream()``) keep SQLAlchemy's own adapter: they fetch in
steps by design, and a deferred ``BEGIN`` goes on a trip of its own before them.
What this leans on of aiosqlite beyond its public API is what SQLAlchemy's own
adapter already leans on: the queue of calls for its thread
(``Connection._execute``) and the sqlite3 connection behind it; the versions
are pinned in the lock file, and ``tests/test_sqlite_driver.py`` holds them to it.
"""

from __future__ import annotations

import collections
import sqlite3
from types import ModuleType
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

# What one trip brings back: the rows (None for a statement without any), the
# cursor's description, rowcount and lastrowid, and whether a transaction is open.
Answer = tuple[list[Any] | None, Any, int, int | None, bool]


def _run(
    conn: sqlite3.Connection, begin: str | None, operation: str, parameters: Any, many: bool
) -> Answer:
    """On aiosqlite's thread: ``begin`` if given, then the statement, read to the end."""
    if begin is not None:
        conn.execute(begin)
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        rows = cursor.fetchall() if cursor.description else None
        return rows, cursor.description, cursor.rowcount, cursor.lastrowid, conn.in_transaction
    finally:
        cursor.close()


def _begin(conn: sqlite3.Connection, statement: str) -> None:
    conn.execute(statement)


def _finish(conn: sqlite3.Connection, commit: bool) -> None:
    conn.commit() if commit else conn.rollback()


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """A cursor whose statement, rows and counts come back in one trip."""

    __slots__ = ("_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: OneTripConnection) -> None:
        # No trip here: the cursor on the thread is opened and closed by each statement.
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._rows = collections.deque()
        self._soft_closed_memoized = EMPTY_DICT
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        return self._lastrowid  # type: ignore[return-value]

    @property
    def arraysize(self) -> int:
        return 1

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        pass

    async def _async_soft_close(self) -> None:
        pass  # nothing is open on the thread: the rows are already here

    def close(self) -> None:
        self._rows.clear()

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        self._trip(operation, parameters, many=False)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        self._trip(operation, seq_of_parameters, many=True)

    def _trip(self, operation: str, parameters: Any, many: bool) -> None:
        adapter = self._adapt_connection
        assert isinstance(adapter, OneTripConnection)
        begin, adapter.pending_begin = adapter.pending_begin, None
        # Open until this trip says otherwise: if it never says (an error, a cancelled
        # await), its BEGIN may have run, and the rollback must go to end it.
        adapter.in_transaction = True
        try:
            rows, description, rowcount, lastrowid, open_ = await_(
                self._connection._execute(
                    _run, self._connection._conn, begin, operation, parameters, many
                )
            )
        except Exception as error:
            adapter._handle_exception(error)
        adapter.in_transaction = open_
        self._rows = collections.deque(rows) if rows is not None else collections.deque()
        self._description, self._rowcount, self._lastrowid = description, rowcount, lastrowid

    def nextset(self) -> None:
        return None


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    """The connection of :class:`OneTripCursor`: knows whether a transaction is open,
    and holds a deferred ``BEGIN`` until the statement it belongs to."""

    __slots__ = ("in_transaction", "pending_begin")
    _cursor_cls: type[AsyncAdapt_aiosqlite_cursor] = OneTripCursor

    def __init__(self, dbapi: Any, connection: Any) -> None:  # an aiosqlite.Connection
        super().__init__(dbapi, connection)
        self.pending_begin: str | None = None
        # Unknown until the first trip says: assume open, so a rollback is not skipped.
        self.in_transaction = True

    def begin_with_next_statement(self, statement: str) -> None:
        """Send ``statement`` (a ``BEGIN``) on the same trip as the next statement."""
        self.pending_begin = statement

    def cursor(self, server_side: bool = False) -> Any:
        if server_side and self.pending_begin is not None:
            # SQLAlchemy's streaming cursor knows nothing of a deferred BEGIN: it goes now.
            begin, self.pending_begin = self.pending_begin, None
            self.in_transaction = True
            try:
                await_(self._connection._execute(_begin, self._connection._conn, begin))
            except Exception as error:
                self._handle_exception(error)
        return super().cursor(server_side)

    def commit(self) -> None:
        self._finish(commit=True)

    def rollback(self) -> None:
        self._finish(commit=False)

    def _finish(self, commit: bool) -> None:
        self.pending_begin = None  # a BEGIN that never went needs no end
        if not self.in_transaction or not self._connection._connection:
            return
        try:
            await_(self._connection._execute(_finish, self._connection._conn, commit))
        except Exception as error:
            self._handle_exception(error)
        self.in_transaction = False


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """SQLAlchemy's aiosqlite module, handing out :class:`OneTripConnection`."""

    def connect(self, *arg: Any, **kw: Any) -> OneTripConnection:
        plain = super().connect(*arg, **kw)
        return OneTripConnection(self, plain._connection)


def dbapi() -> ModuleType:
    """The module to give ``create_async_engine(module=...)`` for a SQLite URL."""
    return OneTripDBAPI(aiosqlite, sqlite3)  # type: ignore[return-value]
