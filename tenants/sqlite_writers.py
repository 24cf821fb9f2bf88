"""One writer at a time per SQLite file in this process, queued on a lock instead of SQLite's
busy handler.

SQLite lets one connection write at a time. A second writer that finds the file locked is
put to sleep by SQLite's busy handler for 1, 2, 5, 10 ... 100 ms between tries, so under a
burst of writes to one file (a webhook storm, a team saving at once) most of the time goes
to sleeping, not writing. Here every connection to a file takes that file's lock before its
first write of a transaction and gives it back when the transaction ends: the next writer
wakes the moment the previous one commits. Readers never take it (WAL: they do not wait for
writers). Other processes on the same file still meet SQLite's own lock and busy handler.

The lock waits as long as SQLite's busy timeout would, then fails the same way
("database is locked"), so nothing can wait longer than before.
"""

from __future__ import annotations

import sqlite3
import threading
from contextvars import ContextVar
from typing import Any

BUSY_TIMEOUT_SECONDS = 10.0
# Set while a handler runs on the event loop (app/web/mount.py), where waiting for the lock
# would stall every request: a write there is a bug, refused at once.
on_event_loop: ContextVar[str | None] = ContextVar("on_event_loop", default=None)
# Statements that make a plain (deferred) transaction a writing one.
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER", "BEGIN IMMEDIATE")

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock_for(path: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(path, threading.Lock())


class WriteOnEventLoop(RuntimeError):
    pass


def _writes(sql: str) -> bool:
    return sql.lstrip()[:15].upper().startswith(_WRITES)


class Connection(sqlite3.Connection):
    """A sqlite3 connection that queues for its file's writer lock (pass as `factory`)."""

    def __init__(self, database: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(database, *args, **kwargs)
        self._writer_lock = _lock_for(database.split("?")[0])
        self._holding = False

    def cursor(self, factory: Any = None) -> Any:
        return super().cursor(factory or Cursor)

    def before_write(self) -> None:
        """Take the file's writer lock for this transaction, then SQLite's write lock."""
        if self._holding:
            return
        if (handler := on_event_loop.get()) is not None:
            raise WriteOnEventLoop(
                f"{handler} writes to the database, but it runs on the event loop (a GET "
                "handler on SQLite); mark it with @writes (app/web/mount.py)"
            )
        if not self._writer_lock.acquire(timeout=BUSY_TIMEOUT_SECONDS):
            raise sqlite3.OperationalError("database is locked")
        self._holding = True
        if not self.in_transaction:
            super().execute("BEGIN IMMEDIATE")

    def after_transaction(self) -> None:
        if self._holding and not self.in_transaction:
            self._holding = False
            self._writer_lock.release()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.after_transaction()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.after_transaction()

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self._holding:
                self._holding = False
                self._writer_lock.release()


class Cursor(sqlite3.Cursor):
    def execute(self, sql: str, parameters: Any = (), /) -> Cursor:
        connection = self.connection
        if isinstance(connection, Connection):
            if _writes(sql):
                connection.before_write()
                if sql.lstrip()[:5].upper() == "BEGIN":  # before_write has just begun it
                    return self
            super().execute(sql, parameters)
            connection.after_transaction()  # a COMMIT, ROLLBACK or RELEASE may have ended it
            return self
        super().execute(sql, parameters)
        return self

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> Cursor:
        connection = self.connection
        if isinstance(connection, Connection) and _writes(sql):
            connection.before_write()
        super().executemany(sql, seq_of_parameters)
        return self
