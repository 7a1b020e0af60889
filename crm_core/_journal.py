"""A crash-safe journal of a bulk job's rows (SQLite, standard library).

Each row's state is written **before** its request is sent (``sending``, with the send time)
and again after its outcome (``created`` with the record ID, ``failed`` with the error, or
``maybe`` when the write may have landed). Running the job again reads the journal:

* ``created`` rows are not sent again (their IDs are reported and claimed, so identical rows
  are never merged with them);
* ``sending`` and ``maybe`` rows are reconciled first (looked up, and re-sent only if absent);
* ``failed`` rows are tried again (a fixed input error fails again, a transient one may pass).

Each commit is durable against a killed process (WAL mode); a row fingerprint detects a journal
that belongs to a different input.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Iterator, Mapping
from typing import Any

import attrs

__all__ = ["Journal", "JournalEntry", "JournalMismatchError", "row_fingerprint"]

SENDING = "sending"
CREATED = "created"
FAILED = "failed"
MAYBE = "maybe"


def row_fingerprint(row: Mapping[str, Any]) -> str:
    """A stable hash of a row's fields (order-independent)."""
    text = json.dumps(dict(row), sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class JournalMismatchError(Exception):
    """The journal was written for a different input (a row's fields changed)."""


@attrs.frozen(kw_only=True)
class JournalEntry:
    """One row's last known state.

    Attributes:
        row_number: 1-based data row.
        fingerprint: Hash of the row's fields.
        state: ``sending``, ``created``, ``failed`` or ``maybe``.
        record_id: The created record's ID (as text), when ``created``.
        error: The last error message, when ``failed`` or ``maybe``.
        sent_at: When the row was first sent, UTC epoch seconds.
    """

    row_number: int
    fingerprint: str
    state: str
    record_id: str | None
    error: str | None
    sent_at: float | None


class Journal:
    """The SQLite journal of one job.

    Args:
        path: Database file (created if missing).
        job: A name for the job (e.g. the API and the input path); a journal written for
            another job is refused.

    Raises:
        JournalMismatchError: the file belongs to another job.
    """

    def __init__(self, path: str | os.PathLike[str], *, job: str) -> None:
        self.path = os.fspath(path)
        self._db = sqlite3.connect(self.path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(
            """
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS rows (
                row_number INTEGER PRIMARY KEY,
                fingerprint TEXT NOT NULL,
                state TEXT NOT NULL,
                record_id TEXT,
                error TEXT,
                sent_at REAL
            );
            """
        )
        found = self._db.execute("SELECT value FROM meta WHERE key = 'job'").fetchone()
        if found is None:
            self._db.execute("INSERT INTO meta (key, value) VALUES ('job', ?)", (job,))
        elif found[0] != job:
            self.close()
            raise JournalMismatchError(
                f"{self.path} is the journal of another job ({found[0]!r}, not {job!r}); "
                "pass another --journal or --fresh"
            )

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def get(self, row_number: int) -> JournalEntry | None:
        """The row's entry, or ``None`` if it was never started."""
        found = self._db.execute(
            "SELECT row_number, fingerprint, state, record_id, error, sent_at FROM rows WHERE row_number = ?",
            (row_number,),
        ).fetchone()
        if found is None:
            return None
        return JournalEntry(
            row_number=found[0],
            fingerprint=found[1],
            state=found[2],
            record_id=found[3],
            error=found[4],
            sent_at=found[5],
        )

    def check(self, row_number: int, fingerprint: str) -> JournalEntry | None:
        """The row's entry, after checking it was written for the same fields.

        Raises:
            JournalMismatchError: the row's fields changed since the journal was written.
        """
        entry = self.get(row_number)
        if entry is not None and entry.fingerprint != fingerprint:
            raise JournalMismatchError(
                f"row {row_number} differs from the row recorded in {self.path}; the input "
                "changed since the last run (use --fresh to start over)"
            )
        return entry

    def sending(self, row_number: int, fingerprint: str, sent_at: float) -> None:
        """Record that the row is about to be sent (kept: the first send time)."""
        self._db.execute(
            """
            INSERT INTO rows (row_number, fingerprint, state, sent_at) VALUES (?, ?, 'sending', ?)
            ON CONFLICT (row_number) DO UPDATE SET state = 'sending',
                sent_at = COALESCE(rows.sent_at, excluded.sent_at)
            """,
            (row_number, fingerprint, sent_at),
        )

    def finish(
        self, row_number: int, fingerprint: str, state: str, *, record_id: str | None = None, error: str | None = None
    ) -> None:
        """Record the row's outcome (``created``, ``failed`` or ``maybe``)."""
        self._db.execute(
            """
            INSERT INTO rows (row_number, fingerprint, state, record_id, error) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (row_number) DO UPDATE SET state = excluded.state,
                record_id = excluded.record_id, error = excluded.error
            """,
            (row_number, fingerprint, state, record_id, error),
        )

    def created_ids(self) -> Iterator[str]:
        """IDs of every record this job created so far."""
        for (record_id,) in self._db.execute("SELECT record_id FROM rows WHERE state = 'created'"):
            if record_id is not None:
                yield record_id

    def counts(self) -> dict[str, int]:
        """Rows by state."""
        return dict(self._db.execute("SELECT state, COUNT(*) FROM rows GROUP BY state").fetchall())
