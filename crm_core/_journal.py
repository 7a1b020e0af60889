"""A crash-safe journal of a bulk job's rows (SQLite, standard library).

Before a row's request is sent, the journal durably records ``sending`` with the row's
fingerprint and first send time, and after its outcome it records ``created`` with the record
ID, ``failed`` with the error, or ``maybe`` when the write may have landed. The ``sending``
records of new and ``failed`` rows are written as the rows are read, ahead of the workers (up
to ``read_ahead`` rows), so one commit covers many rows instead of one commit per row; a
``sending`` or ``maybe`` row (its record must outlive a run that does not send it) gets its
``sending`` record when it is about to be sent.

Running the job again reads the journal:

* ``created`` rows are not sent again (their IDs are reported and claimed, so identical rows
  are never merged with them);
* ``sending`` and ``maybe`` rows are reconciled first (looked up, and re-sent only if absent,
  once the settle period after the last moment the earlier run could have sent them has
  passed: see :attr:`Journal.earlier_sends_until`);
* ``failed`` rows are tried again (a fixed input error fails again, a transient one may pass).

A run that ends (even early, with rows left untried) drops the ``sending`` records of rows it
read ahead but never sent. Each commit is durable against a killed process (WAL mode); the
fingerprint detects a journal that belongs to a different input: a row recorded ``sending``,
``maybe`` or ``created`` whose fields changed is refused (:meth:`Journal.check`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import sqlite3
import sys
import time
from collections.abc import Callable, Coroutine, Iterator, Mapping
from typing import Any

import attrs

try:  # CPython: the row fingerprint writes the row in one C call
    import orjson
except ImportError:  # pragma: no cover - orjson is installed wherever it is built (CPython)
    orjson = None  # type: ignore[assignment]

__all__ = [
    "Destination",
    "Journal",
    "JournalDestinationError",
    "JournalEntry",
    "JournalMismatchError",
    "credential_digest",
    "row_fingerprint",
    "row_fingerprint_v2",
    "row_fingerprint_v3",
]

_FINGERPRINT_OPTIONS = (
    0
    if orjson is None
    else orjson.OPT_SORT_KEYS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
)
_CURRENT_VERSION = "v3" if orjson is None else "v4"
"""The fingerprint version new journals record (v4 needs orjson; without it, v3's encoding)."""

MIN_LEASE = 0.1
"""The shortest :attr:`Journal.lease`, seconds (a shorter one would renew, and commit, almost
continuously)."""

SENDING = "sending"
CREATED = "created"
FAILED = "failed"
MAYBE = "maybe"


def row_fingerprint(row: Mapping[str, Any]) -> str:
    """A stable hash of a row's fields and their types (order-independent); 32 hex digits.

    The row is written as compact JSON with its keys sorted (by orjson, in one C call): ``5``,
    ``"5"``, ``5.0`` and ``true`` differ there. A row JSON cannot tell apart exactly goes
    through :func:`row_fingerprint_v3`'s encoding instead, behind a NUL so the two never meet:
    one with a ``null`` (``None`` and a non-finite float both write as ``null``), a subclass of
    a JSON type, a datetime, date or time, a dataclass, an integer beyond 64 bits, or a value
    orjson cannot write. A row holding the text ``null`` takes that road too (slower, equally
    exact). What orjson writes as a JSON value fingerprints as that value: a tuple as its
    list, an ``Enum`` member as its value, a ``UUID`` as its text.

    Journals record this version as ``v4``. Without orjson (not CPython) new journals record
    ``v3`` and use :func:`row_fingerprint_v3`, and a ``v4`` journal cannot be resumed.
    """
    if orjson is not None:
        try:  # any Mapping as the plain dict of its fields (an OrderedDict, a proxy, a UserDict)
            text = orjson.dumps(
                row if row.__class__ is dict else dict(row), option=_FINGERPRINT_OPTIONS, default=_not_plain
            )
        except TypeError:  # orjson.JSONEncodeError: something JSON cannot hold exactly
            pass
        else:
            if b"null" not in text:
                return hashlib.blake2b(text, digest_size=16).hexdigest()
    return hashlib.blake2b(b"\0" + _v3_text(row), digest_size=16).hexdigest()


def _not_plain(value: Any) -> Any:
    raise TypeError(type(value).__name__)


def _v3_text(row: Mapping[str, Any]) -> bytes:
    parts = []
    for name in sorted(row):
        value = row[name]
        kind = value.__class__
        if "\0" in name:
            name = repr(name)
        if kind is str and "\0" not in value:
            parts.append(f"{name}\0s\0{value}")
        elif kind is int:
            parts.append(f"{name}\0i\0{value}")
        else:
            parts.append(f"{name}\0r\0{value!r}")
    # A lone surrogate (from JSON's "\\ud800") is encoded as itself rather than refused: the row
    # then fails on its own check (text that UTF-8 cannot carry), not the whole job.
    return "\0\0".join(parts).encode("utf-8", "surrogatepass")


def row_fingerprint_v3(row: Mapping[str, Any]) -> str:
    """The fingerprint of journals that record version ``v3`` (before ``v4``); the row's fields by name, each
    ``name NUL tag NUL value``: ``s`` and the text for a string, ``i`` and the digits for an
    integer, ``r`` and the ``repr`` for anything else (``bool``, ``float``, ``None``, lists;
    and a string or name holding NUL, which ``repr`` escapes), so ``5`` and ``"5"`` differ."""
    return hashlib.blake2b(_v3_text(row), digest_size=16).hexdigest()


def row_fingerprint_v2(row: Mapping[str, Any]) -> str:
    """The fingerprint journals written by 0.4 hold (``repr`` of the sorted fields; slower)."""
    return hashlib.blake2b(repr(sorted(row.items())).encode(), digest_size=16).hexdigest()


def row_fingerprint_v1(row: Mapping[str, Any]) -> str:
    """The fingerprint journals written before 0.4 hold (JSON and SHA-256; slower)."""
    text = json.dumps(dict(row), sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class JournalMismatchError(Exception):
    """The journal was written for a different input (a row's fields changed)."""


class JournalLockedError(JournalMismatchError):
    """Another process (another run of the same job) has the journal open."""


class JournalDestinationError(JournalMismatchError):
    """The journal holds the outcomes of a run against another destination (API, sandbox, account)."""


def credential_digest(secret: str) -> str:
    """A short, one-way digest naming a credential without revealing it (12 hex digits)."""
    return hashlib.sha256(b"crm-async credential identity\0" + secret.encode()).hexdigest()[:12]


@attrs.frozen(kw_only=True)
class Destination:
    """Where a job's rows go; a journal belongs to exactly one.

    Attributes:
        base_url: The API root (``"https://api.lofty.com"``), or for the sandbox the path of
            its state file (the sandbox's port changes from run to run, its state does not).
        sandbox: The SDK's local emulator rather than a real server.
        credential: :func:`credential_digest` of the credential (never the secret itself).
    """

    base_url: str
    sandbox: bool
    credential: str

    def describe(self) -> str:
        """A one-line name for messages (``"the sandbox (state tasks.csv.sandbox-state.jsonl)"``)."""
        if self.sandbox:
            return f"the sandbox (state {self.base_url}, credential {self.credential})"
        return f"{self.base_url} (credential {self.credential})"

    def to_json(self) -> str:
        """The form stored in the journal's ``meta`` table."""
        return json.dumps(attrs.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Destination:
        """Inverse of :meth:`to_json`."""
        data = json.loads(text)
        return cls(base_url=str(data["base_url"]), sandbox=bool(data["sandbox"]), credential=str(data["credential"]))


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
        destination: Where the rows go. A new journal records it; a journal recorded for
            another destination (or for none) is refused, so one destination's outcomes are
            never taken for another's. ``None`` skips the check.

    Attributes:
        read_ahead: Rows :func:`~crm_core.bulk_create` may read, and record ``sending``, ahead
            of the rows being sent (default 128; it raises it to twice the job's concurrency).
            Their records share one commit. Larger means fewer commits while the job runs, and
            more look-ups in the run after a crash (every row recorded ``sending``: at most
            this many plus the rows in flight).
        commit_interval: Seconds an outcome may wait in memory for a commit (default 0.2). An
            outcome lost to a crash only costs the next run a look-up of that row.
        lease: Seconds (default 5.0, at least :data:`MIN_LEASE`). While a job runs (:meth:`start`
            to :meth:`release`), the journal records, and renews every ``lease / 2`` seconds, a
            time ``lease`` seconds ahead (``sends_until``, UTC epoch seconds) after which the
            run sends nothing without renewing it first. A run after a crash knows from it
            when the crashed run's last request can have left (a request waiting for a
            rate-limit token or a retry leaves long after its row was recorded). Longer means
            fewer renewals (each one a small commit) and a longer wait in the run after a crash.
        settle: Seconds after a send during which this job's write may still land (its
            reconciliation settle period; set by :meth:`start`), recorded so that a re-run
            with a shorter one still waits this long for this run's writes.
        earlier_settle: Set by :meth:`start`: the earlier run's recorded ``settle`` (0.0 when
            none was recorded).
        earlier_sends_until: Set by :meth:`start`: the latest time (UTC epoch seconds) at which
            an earlier run of this journal can have sent a request: its recorded
            ``sends_until`` (the time it ended, for a run that ended normally), but no later
            than :meth:`start` (the earlier run held the journal's lock until it ended; a
            journal without the record, written by an older version, gets the start time).
            The ``sending`` and ``maybe`` rows of earlier runs are looked up until the settle
            period after it has passed before they are sent again, so a write of the earlier
            run that lands late is found, not duplicated.

    Raises:
        JournalMismatchError: the file belongs to another job.
        JournalDestinationError: the file belongs to another destination.
        JournalLockedError: another process has the journal open (two runs of one job at once
            would each send the rows the other has not journaled yet). The lock is an OS file
            lock (``flock``) on the journal, released when the process ends, even by ``kill -9``.
            Within a process, :meth:`start` refuses a second job on a journal object whose
            job is still running.
    """

    def __init__(self, path: str | os.PathLike[str], *, job: str, destination: Destination | None = None) -> None:
        self.path = os.fspath(path)
        self._lock_fd = _lock(self.path)
        self.commit_interval = 0.2
        self.read_ahead = 128
        self.lease = 5.0
        self.settle = 0.0
        self.earlier_settle = 0.0
        self.earlier_sends_until: float | None = None
        self._running = False
        self._time: Callable[[], float] = time.time
        self._renewal: asyncio.TimerHandle | None = None
        self.commits = 0
        self._fresh = False
        self._reading: list[int] = []  # rows read ahead: "sending" written, not committed yet
        self._unsent: set[int] = set()  # rows read ahead: "sending" committed, not sent yet
        self._waiters: list[asyncio.Future[None]] | None = None
        self._in_flight: set[int] = set()  # rows recorded "sending" and not finished yet
        self._ops: dict[str, list[tuple[Any, ...]]] = {}  # statement -> its rows, in order
        self._finishing: set[int] = set()  # rows with an outcome in ``_ops``
        self._timer: asyncio.TimerHandle | None = None
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
            self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('fingerprint', ?)", (_CURRENT_VERSION,))
        elif found[0] != job:
            self.close()
            raise JournalMismatchError(
                f"{self.path} is the journal of another job ({found[0]!r}, not {job!r}); "
                "pass another --journal or --fresh"
            )
        version = self._db.execute("SELECT value FROM meta WHERE key = 'fingerprint'").fetchone()
        if version is not None and version[0] == "v4" and orjson is None:
            self.close()
            raise JournalMismatchError(
                f"{self.path} was written with orjson installed, and its row fingerprints need it; "
                "install orjson (pip install orjson) to resume this job"
            )
        versions = {"v4": row_fingerprint, "v3": row_fingerprint_v3, "v2": row_fingerprint_v2}
        self.fingerprint = row_fingerprint_v1 if version is None else versions.get(version[0], row_fingerprint)
        """``row -> fingerprint`` in this journal's version (use it for :meth:`check` and writes)."""
        if destination is not None:
            self._check_destination(destination)

    def _check_destination(self, destination: Destination) -> None:
        found = self._db.execute("SELECT value FROM meta WHERE key = 'destination'").fetchone()
        # A journal holding no outcome that could be mistaken (empty, or only rows that failed,
        # so created nothing) may be taken over, e.g. after fixing a wrong key.
        harmless = self._db.execute("SELECT 1 FROM rows WHERE state != 'failed' LIMIT 1").fetchone() is None
        if harmless:
            self._db.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('destination', ?)", (destination.to_json(),)
            )
            return
        theirs = "an unrecorded destination (written by an older version)"
        if found is not None:
            recorded = Destination.from_json(found[0])
            if recorded == destination:
                return
            theirs = recorded.describe()
        created = self._db.execute("SELECT COUNT(*) FROM rows WHERE state = 'created'").fetchone()[0]
        self.close()
        raise JournalDestinationError(
            f"{self.path} holds the outcomes of a run against {theirs}, but this run goes to "
            f"{destination.describe()}; nothing was sent. Pass --journal with another file for a new "
            f"destination, or --fresh to start this journal over (its {created} created row(s) would be "
            "sent again: do that only if they were not created where this run goes)"
        )

    def close(self) -> None:
        """Commit what is pending and close the database."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._stop_renewal()
        self._running = False
        with contextlib.suppress(sqlite3.ProgrammingError):
            self._commit()
        self._db.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the flock
            self._lock_fd = None

    # Group commit. Writes are buffered and committed together. A row's "sending" record must
    # be on disk before its request leaves: rows read ahead (:meth:`read`) share the commit made
    # before they are handed out (:meth:`flush`); other rows wait in :meth:`before_send` for a
    # commit that every row getting there in the same event-loop turn shares. Outcomes
    # (:meth:`finish`) ride along with the next commit, or a timer's (``commit_interval``):
    # losing one to a crash only means the next run looks the row up instead of skipping it.

    def _write(self, sql: str, params: tuple[Any, ...]) -> None:
        # Buffered: the writes of one kind go to SQLite in one executemany at commit, in the
        # order they were made. Kinds need no order between them: a row's "sending" record is
        # committed before its request leaves, so its outcome lands in a later batch (and a
        # "sending" record for a row whose outcome is still buffered commits that first).
        batch = self._ops.get(sql)
        if batch is None:
            self._ops[sql] = [params]
        else:
            batch.append(params)

    def _commit(self) -> None:
        if not self._ops:
            return
        ops, self._ops = self._ops, {}
        self._finishing.clear()
        self._db.execute("BEGIN")
        try:
            for sql, params in ops.items():
                self._db.executemany(sql, params)
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
        self.commits += 1
        if self._reading:
            self._unsent.update(self._reading)
            self._reading.clear()

    def _commit_waiters(self) -> None:
        waiters, self._waiters = self._waiters, None
        try:
            self._commit()
        except BaseException as exc:  # pragma: no cover - disk full, I/O error
            for waiter in waiters or ():
                if not waiter.done():
                    waiter.set_exception(exc)
            raise
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    def _schedule_timer(self) -> None:
        if self._timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self._commit()
                return
            self._timer = loop.call_later(self.commit_interval, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if self._waiters is None:
            self._commit()

    def start(self, time: Callable[[], float] | None = None, *, settle: float = 0.0) -> None:
        """A job starts: commit pending writes, note whether the journal is empty (a fresh job
        skips look-ups), read :attr:`earlier_sends_until` and :attr:`earlier_settle`, record this
        job's ``settle``, and take the send lease (see ``lease``), renewed until :meth:`release`.

        Args:
            time: The job's clock, UTC epoch seconds (default :func:`time.time`).
            settle: This job's settle period, seconds (see ``settle``).

        Raises:
            JournalLockedError: a job on this journal object is still running (two jobs at
                once would each send the rows the other has not journaled yet).
            ValueError: ``lease`` is under :data:`MIN_LEASE` seconds (or not a number), or
                ``settle`` is negative.
        """
        if self._running:
            raise JournalLockedError(
                f"{self.path} is in use by another job of this process that has not ended; nothing was "
                "sent. Run the jobs one after the other, or give each its own journal file"
            )
        if not self.lease >= MIN_LEASE:
            raise ValueError(f"lease={self.lease!r} is not valid: expected seconds >= {MIN_LEASE}")
        if not settle >= 0:
            raise ValueError(f"settle={settle!r} is not valid: expected seconds >= 0")
        self._commit()
        self._fresh = self._db.execute("SELECT 1 FROM rows LIMIT 1").fetchone() is None
        if time is not None:
            self._time = time
        now = self._time()
        found = dict(self._db.execute("SELECT key, value FROM meta WHERE key IN ('sends_until', 'settle')").fetchall())
        self.earlier_sends_until = min(float(found["sends_until"]), now) if "sends_until" in found else now
        self.earlier_settle = float(found.get("settle", 0.0))
        # A re-run that crashes before the writes of the run before it can have landed must
        # leave the longer settle period for the run after it.
        still_landing = self.earlier_sends_until + self.earlier_settle > now
        self.settle = max(settle, self.earlier_settle) if still_landing else settle
        self._write(self._SETTLE_SQL, (repr(self.settle),))
        self._running = True
        self._renew()

    _SETTLE_SQL = "INSERT OR REPLACE INTO meta (key, value) VALUES ('settle', ?)"

    _SENDS_UNTIL_SQL = "INSERT OR REPLACE INTO meta (key, value) VALUES ('sends_until', ?)"

    def _renew(self) -> None:
        """Record (durably) that this run sends nothing after ``lease`` seconds from now without
        renewing; renew after half of it."""
        self._write(self._SENDS_UNTIL_SQL, (repr(self._time() + self.lease),))
        self._commit()
        self._stop_renewal()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no job runs outside a loop: nothing is sent
        self._renewal = loop.call_later(self.lease / 2, self._renew)

    def _stop_renewal(self) -> None:
        if self._renewal is not None:
            self._renewal.cancel()
            self._renewal = None

    def get(self, row_number: int) -> JournalEntry | None:
        """The row's entry, or ``None`` if it was never started."""
        self._commit()
        return self._select(row_number)

    def _select(self, row_number: int) -> JournalEntry | None:
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

        A row that ``failed`` (nothing was created) may have changed: the fix of a bad row is
        accepted, and the old entry is ignored (``None``: the row is new).

        Raises:
            JournalMismatchError: the fields of a row that was (or may have been) sent changed
                since the journal was written.
        """
        if self._fresh:
            return None
        # No commit first: nothing of this row is buffered before it is checked (rows are
        # checked as they are read), so a resumed job does not commit once per row read.
        entry = self._select(row_number)
        if entry is not None and entry.fingerprint != fingerprint:
            if entry.state == FAILED:
                return None
            raise JournalMismatchError(
                f"row {row_number} differs from the row recorded ({entry.state}) in {self.path}; the "
                "input changed since the last run. Restore the row, or use --fresh to start over (rows "
                "recorded created or sending would then be sent again)"
            )
        return entry

    _SENDING_SQL = """
        INSERT INTO rows (row_number, fingerprint, state, sent_at) VALUES (?, ?, 'sending', ?)
        ON CONFLICT (row_number) DO UPDATE SET state = 'sending', fingerprint = excluded.fingerprint,
            sent_at = COALESCE(rows.sent_at, excluded.sent_at)
        """

    def _write_sending(self, row_number: int, fingerprint: str, sent_at: float) -> None:
        if row_number in self._finishing:
            self._commit()  # its buffered outcome goes first: the batch is grouped by kind
        self._write(self._SENDING_SQL, (row_number, fingerprint, sent_at))

    def sending(self, row_number: int, fingerprint: str, sent_at: float) -> None:
        """Record that the row is about to be sent (kept: the first send time); durable on return."""
        self._write_sending(row_number, fingerprint, sent_at)
        self._commit()

    async def sending_durable(self, row_number: int, fingerprint: str, sent_at: float) -> None:
        """Like :meth:`sending`, sharing one commit with every row that gets here in the same loop turn.

        Returns once the record is committed (durable against a killed process), so the
        request may be sent.
        """
        self._write_sending(row_number, fingerprint, sent_at)
        self._in_flight.add(row_number)
        await self._durable()

    def read(self, row_number: int, fingerprint: str, sent_at: float) -> None:
        """Record ``sending`` for a row :meth:`check` found new or ``failed``, as it is read ahead
        of the sends (not for a ``sending`` or ``maybe`` row: its record must outlive a run
        that does not send it).

        Buffered: the record is durable after the next commit (:meth:`flush`), which must come
        before the row is handed out to be sent. Rows read but never sent lose it again (:meth:`not_sent`,
        :meth:`release`).
        """
        self._write(self._SENDING_SQL, (row_number, fingerprint, sent_at))
        self._reading.append(row_number)

    def before_send(
        self, row_number: int, fingerprint: str, sent_at: float, *, known: bool
    ) -> Coroutine[Any, Any, None] | None:
        """Make the row's ``sending`` record durable; await the result, if any, before sending.

        Args:
            row_number: The row.
            fingerprint: Its fingerprint.
            sent_at: Its first send time, UTC epoch seconds (an earlier run's, if any).
            known: :meth:`check` returned an entry for it (the journal holds the row already).

        Returns:
            ``None`` when the row's record from :meth:`read` is committed already (nothing to
            wait for), else a coroutine that returns once its ``sending`` record is committed
            (``known`` is kept for callers; the record decides).
        """
        self._in_flight.add(row_number)
        if row_number in self._unsent:
            self._unsent.discard(row_number)
            return None
        self._write_sending(row_number, fingerprint, sent_at)
        return self._durable()

    _NOT_SENT_SQL = "DELETE FROM rows WHERE row_number = ? AND state = 'sending'"

    def not_sent(self, row_number: int) -> None:
        """A row read ahead ends without being sent (skipped): drop its ``sending`` record, so
        the next run does not look it up. Committed with the next batch."""
        if row_number in self._unsent:
            self._unsent.discard(row_number)
            self._write(self._NOT_SENT_SQL, (row_number,))
            self._schedule_timer()

    async def _durable(self) -> None:
        """Return once every write made so far is committed, sharing the commit (see above)."""
        if self._waiters is None and len(self._in_flight) == 1:
            # No other row is between "sending" and its outcome, so none can join this
            # commit: commit now rather than a loop turn later (one job at concurrency 1).
            self._commit()
            return
        if self._waiters is None:
            self._waiters = []
            # Commit after the loop's next turn too: rows whose responses arrive in that turn
            # reach this point and share the commit (fewer commits per row at concurrency).
            loop = asyncio.get_running_loop()
            loop.call_soon(loop.call_soon, self._commit_waiters)
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        await waiter

    def note_sending(self, row_number: int, fingerprint: str, sent_at: float) -> None:
        """Record that a row this run may have sent ends without an outcome (it stays ``sending``,
        so the next run looks it up); committed with the next batch."""
        self._write_sending(row_number, fingerprint, sent_at)
        self._in_flight.discard(row_number)
        self._schedule_timer()

    def release(self) -> None:
        """The run ends: commit every write, drop the ``sending`` records of rows read ahead but
        never sent (a row that may have been sent keeps its record), and record the end as the
        time after which this run sent nothing (``sends_until``)."""
        self._commit()
        unsent, self._unsent = self._unsent, set()
        for row_number in unsent:
            self._write(self._NOT_SENT_SQL, (row_number,))
        self._stop_renewal()
        self._running = False
        self._write(self._SENDS_UNTIL_SQL, (repr(self._time()),))
        self._commit()

    _FINISH_SQL = """
        INSERT INTO rows (row_number, fingerprint, state, record_id, error) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (row_number) DO UPDATE SET state = excluded.state,
            record_id = excluded.record_id, error = excluded.error
        """

    def finish(
        self, row_number: int, fingerprint: str, state: str, *, record_id: str | None = None, error: str | None = None
    ) -> None:
        """Record the row's outcome (``created``, ``failed`` or ``maybe``); committed with the next batch."""
        self._write(self._FINISH_SQL, (row_number, fingerprint, state, record_id, error))
        self._finishing.add(row_number)
        self._in_flight.discard(row_number)
        self._schedule_timer()

    async def flush(self) -> None:
        """Commit everything written so far (durable against a killed process on return)."""
        self._commit()

    def created_ids(self) -> Iterator[str]:
        """IDs of every record this job created so far."""
        self._commit()
        for (record_id,) in self._db.execute("SELECT record_id FROM rows WHERE state = 'created'"):
            if record_id is not None:
                yield record_id

    def counts(self) -> dict[str, int]:
        """Rows by state."""
        self._commit()
        return dict(self._db.execute("SELECT state, COUNT(*) FROM rows GROUP BY state").fetchall())


def _lock(path: str) -> int | None:
    """An exclusive, non-blocking OS lock on ``path`` (POSIX ``flock``), or ``None`` where the
    platform has none (Windows: the journal is then not guarded against a second run).

    Raises:
        JournalLockedError: another process holds it.
    """
    if sys.platform == "win32":
        return None
    import fcntl

    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise JournalLockedError(
            f"{path} is in use by another run of this job; nothing was sent. Wait for it to finish "
            "(two runs at once would send the same rows twice), or pass --journal with another file "
            "for an unrelated run"
        ) from None
    return fd
