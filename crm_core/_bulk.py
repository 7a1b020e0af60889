"""Bulk execution: bounded fan-out, per-key ordering, a result for every row.

:func:`run_bulk` streams numbered rows through an async worker:

* at most ``concurrency`` rows are being worked on at once;
* with ``key``, rows that share a key run one after another in input order (a "lane"), while
  different keys run in parallel: Superfone's per-lead order;
* memory stays bounded: at most ``max_pending`` rows wait in lanes before reading pauses;
* every row ends in exactly one :class:`RowResult` (created, failed or skipped), handed to
  ``on_result`` in completion order; a failing row never stops the others;
* ``time_budget`` (seconds) bounds the job: rows not started in time are skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import inspect
from collections import deque
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Hashable,
    Iterable,
    Iterator,
    Mapping,
)
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import attrs

from ._attrs_init import direct_init
from ._bulk_policy import BulkPolicy, JobGuard, bulk_policy, cause, current_policy, refused
from ._clock import Clock, SystemClock
from ._concurrency import ConcurrencyLimiter
from ._errors import APIError, AuthenticationError, Outcome, ValidationError
from ._journal import CREATED, FAILED, MAYBE, SENDING, Journal, JournalEntry
from ._reconcile import CreateLedger

__all__ = [
    "AlreadyDone",
    "BulkPolicy",
    "BulkSummary",
    "CreateOptions",
    "Lane",
    "NotTried",
    "RowResult",
    "RowSkipped",
    "RowStatus",
    "SetAside",
    "WaitsForRow",
    "bulk_create",
    "bulk_policy",
    "numbered",
    "run_bulk",
]

R = TypeVar("R")
T = TypeVar("T")


class RowStatus(enum.Enum):
    """How a row ended.

    Attributes:
        CREATED: The write landed (``value`` holds the result, e.g. the new ID).
        FAILED: The row was refused (bad input, or the API said no); ``error`` says why.
        SKIPPED: The row was not attempted (job time budget spent, or already done earlier).
    """

    CREATED = "created"
    FAILED = "failed"
    SKIPPED = "skipped"


@direct_init
@attrs.frozen(kw_only=True, slots=False)
class RowResult(Generic[T]):
    """The end of one row.

    Attributes:
        row_number: The row's number in the input (1-based data rows).
        status: How it ended.
        value: The worker's result when ``CREATED`` (or a known earlier result when skipped).
        error: Why it failed or was skipped.
        key: The row's ordering key, when the job had one.
    """

    row_number: int
    status: RowStatus
    value: T | None = None
    error: BaseException | None = None
    key: Hashable | None = None

    @property
    def field(self) -> str | None:
        """The input field at fault, for validation failures."""
        return self.error.field if isinstance(self.error, ValidationError) else None

    @property
    def message(self) -> str:
        """The error as one line ("" when none)."""
        return "" if self.error is None else str(self.error)

    @property
    def outcome(self) -> Outcome | None:
        """For API failures, whether the write may still have landed."""
        return self.error.outcome if isinstance(self.error, APIError) else None


@attrs.define(kw_only=True)
class BulkSummary:
    """Counts for a finished job.

    Attributes:
        created: Rows whose write landed.
        failed: Rows refused.
        skipped: Rows not attempted.
        elapsed: Wall time, seconds.
        stopped: Why the job stopped early (rows not tried stay pending), or ``None``.
    """

    created: int = 0
    failed: int = 0
    skipped: int = 0
    elapsed: float = 0.0
    stopped: str | None = None

    @property
    def total(self) -> int:
        """All rows seen."""
        return self.created + self.failed + self.skipped

    def add(self, result: RowResult[Any]) -> None:
        """Count one result."""
        if result.status is RowStatus.CREATED:
            self.created += 1
        elif result.status is RowStatus.FAILED:
            self.failed += 1
        else:
            self.skipped += 1


class RowSkipped(Exception):
    """Raised by a worker for a row it did not send (the row ends ``SKIPPED``)."""


class AlreadyDone(RowSkipped):
    """Raised by a worker for a row an earlier run already completed (the row is SKIPPED).

    Attributes:
        record_id: The record the earlier run created.
    """

    def __init__(self, record_id: Hashable) -> None:
        super().__init__(f"already created by an earlier run (id {record_id})")
        self.record_id = record_id


class NotTried(RowSkipped):
    """The row was not sent because the job stopped; it stays pending for the next run."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"not tried: {reason}")


@attrs.frozen
class Lane:
    """An ordering key that names what its rows share, for messages (``Lane("dedupe_key", "k1")``).

    Any other hashable key is taken for a lead ID.
    """

    label: str
    value: Hashable


class WaitsForRow(RowSkipped):
    """An earlier row with the same key (lead) did not succeed, so this one was not sent.

    Attributes:
        blocking_row: The row it waits for.
    """

    def __init__(self, blocking_row: int, key: Hashable | None = None) -> None:
        label = key.label if isinstance(key, Lane) else "lead"
        super().__init__(
            f"not sent: waits for row {blocking_row} of the same {label} (run the job again after fixing "
            f"or settling that row; rows of a {label} are created in file order)"
        )
        self.blocking_row = blocking_row


class JobBudgetSpent(RowSkipped):
    """The job's time budget ran out before this row started."""

    def __init__(self, budget: float) -> None:
        super().__init__(f"not attempted: the job's time budget of {budget:g} s was spent")


class SetAside(Exception):
    """Raised by a worker whose row ended ambiguous: re-check it later instead of failing it now.

    Args:
        error: The ambiguous failure.
        retry: Re-checks the row (look up, re-send only if absent); its result is the row's.
        not_before: Monotonic time (the job clock's) before which the re-check must not start.
    """

    def __init__(self, error: APIError, retry: Callable[[], Awaitable[Any]], not_before: float) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry = retry
        self.not_before = not_before


_ROW_ENDINGS = (RowSkipped, SetAside, ValidationError, APIError)
"""What a worker may raise to end its row (skipped, set aside, failed); anything else is a bug."""


async def run_bulk(
    rows: Iterable[tuple[int, R]] | AsyncIterable[tuple[int, R]],
    worker: Callable[[int, R], Awaitable[T]],
    *,
    concurrency: int = 10,
    key: Callable[[R], Hashable | None] | None = None,
    on_result: Callable[[RowResult[T]], Awaitable[None] | None] | None = None,
    time_budget: float | None = None,
    max_pending: int = 1000,
    clock: Clock | None = None,
    stop: Callable[[], str | None] | None = None,
) -> BulkSummary:
    """Run ``worker`` over numbered rows; see the module docstring.

    Args:
        rows: ``(row_number, row)`` pairs, sync or async, read lazily. An error reading them
            stops the reading; once the rows in flight end, it is raised (as itself).
        worker: ``async (row_number, row) -> value``. :class:`~crm_core.ValidationError`
            and :class:`~crm_core.APIError` fail the row; :class:`RowSkipped` skips it;
            :class:`SetAside` defers it to a re-check after the other rows; any other
            exception is a bug and stops the job (after the rows in flight end).
        concurrency: Rows in progress at once, >= 1.
        key: Ordering key of a row (e.g. its lead ID); rows with the same key run in input
            order, and once one of them fails (or is set aside) the later ones are skipped
            with :class:`WaitsForRow`. ``None`` (or a key of ``None``) means no ordering.
        on_result: Called with each :class:`RowResult` (sync or async).
        time_budget: Seconds after which no new row starts (later rows are ``SKIPPED``).
        max_pending: Rows that may wait in lanes before reading pauses (bounds memory).
        clock: Time source.
        stop: Polled before each row starts; a reason (text) stops the job: the rest of the
            rows are read and ``SKIPPED`` with :class:`NotTried`, unsent.

    Returns:
        The counts. Every row read produced exactly one result.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency={concurrency!r} is not valid: expected an integer >= 1")
    clock = clock or SystemClock()
    started = clock.monotonic()
    summary = BulkSummary()
    lanes: dict[Hashable, deque[tuple[int, R]]] = {}
    blocked: dict[Hashable, int] = {}
    aside: list[tuple[int, Hashable | None, SetAside]] = []
    # Slots and the reader's turn: ConcurrencyLimiter's fast path (a counter, no future) is
    # taken inline below; only a caller that must wait goes through its coroutine.
    live = ConcurrencyLimiter(concurrency)
    room = asyncio.Event()
    room.set()
    pending = 0
    add = summary.add
    checks_start = stop is not None or time_budget is not None

    def report(result: RowResult[T]) -> Awaitable[None] | None:
        """Count ``result`` and hand it to ``on_result``; an awaitable it returned, if any."""
        add(result)
        if on_result is not None:
            maybe = on_result(result)
            if maybe is not None and inspect.isawaitable(maybe):
                return maybe
        return None

    def not_startable() -> RowSkipped | None:
        reason = stop() if stop is not None else None
        if reason is not None:
            summary.stopped = reason
            return NotTried(reason)
        if time_budget is not None and clock.monotonic() - started >= time_budget:
            return JobBudgetSpent(time_budget)
        return None

    async def ended(number: int, row_key: Hashable | None, error: BaseException) -> bool:
        """A row's worker raised ``error``: its result (``True`` when skipped as done)."""
        if isinstance(error, RowSkipped):
            status = RowStatus.SKIPPED
        elif isinstance(error, SetAside):
            aside.append((number, row_key, error))
            return False
        else:
            status = RowStatus.FAILED
        maybe = report(RowResult(row_number=number, status=status, error=error, key=row_key))
        if maybe is not None:
            await maybe
        return status is RowStatus.SKIPPED

    async def finish(number: int, row_key: Hashable | None, run: Callable[[], Awaitable[T]]) -> bool:
        """Run one row to its result; ``True`` when it succeeded (or was done earlier)."""
        try:
            value = await run()
        except _ROW_ENDINGS as error:
            return await ended(number, row_key, error)
        maybe = report(RowResult(row_number=number, status=RowStatus.CREATED, value=value, key=row_key))
        if maybe is not None:
            await maybe
        return True

    async def skip_waiting(number: int, row_key: Hashable) -> None:
        error = WaitsForRow(blocked[row_key], row_key)
        maybe = report(RowResult(row_number=number, status=RowStatus.SKIPPED, error=error, key=row_key))
        if maybe is not None:
            await maybe

    async def run_lane(row_key: Hashable | None, number: int, row: R) -> None:
        """Run a row, then the rows that joined its lane meanwhile (``finish`` inlined: the
        worker's coroutine is awaited here, one coroutine layer per row fewer)."""
        nonlocal pending
        try:
            while True:
                if row_key is not None and row_key in blocked:
                    await skip_waiting(number, row_key)
                else:
                    skip = not_startable() if checks_start else None
                    if skip is not None:
                        ok = await ended(number, row_key, skip)
                    else:
                        try:
                            value = await worker(number, row)
                        except _ROW_ENDINGS as error:
                            ok = await ended(number, row_key, error)
                        else:
                            result = RowResult(row_number=number, status=RowStatus.CREATED, value=value, key=row_key)
                            maybe = report(result)
                            if maybe is not None:
                                await maybe
                            ok = True
                    if row_key is None:
                        return
                    if not ok:
                        blocked[row_key] = number
                queue = lanes[row_key]
                if not queue:
                    del lanes[row_key]
                    return
                number, row = queue.popleft()
                pending -= 1
                if pending < max_pending:
                    room.set()
        finally:
            live._release()

    # ``concurrency`` long-lived workers take turns reading the next row (what a hand-written
    # loop does) instead of a task per row. A worker that reads a row of a new lane runs that
    # lane to its end; rows of a lane already running join its queue.
    source: AsyncIterator[tuple[int, R]] | None = None
    sync_source: Iterator[tuple[int, R]] | None = None
    if isinstance(rows, AsyncIterable):
        source = aiter(rows)
    else:
        sync_source = iter(rows)
    reading = ConcurrencyLimiter(1)  # one reader at a time (``rows`` may be any async iterable)
    source_error: list[Exception] = []

    async def pool_worker() -> None:
        nonlocal pending
        while True:
            if reading._in_flight or reading._waiters:
                await reading._acquire()
            else:
                reading._in_flight = 1
            try:
                if source_error:
                    return
                try:
                    item = await source.__anext__() if source is not None else next(sync_source, None)  # type: ignore[arg-type]
                except StopAsyncIteration:
                    return
                except Exception as error:  # reading stops; the rows in flight end first
                    source_error.append(error)
                    return
                if item is None:
                    return
                number, row = item
                row_key = key(row) if key is not None else None
                if row_key is not None and row_key in lanes:
                    lanes[row_key].append((number, row))
                    pending += 1
                    if pending >= max_pending:
                        room.clear()
                        await room.wait()
                    continue
                if row_key is not None and row_key in blocked:
                    await skip_waiting(number, row_key)
                    continue
                live._in_flight += 1  # never waits: one slot per worker
                if row_key is not None:
                    lanes[row_key] = deque()
            finally:
                reading._release()
            await run_lane(row_key, number, row)

    async with asyncio.TaskGroup() as group:
        for _ in range(concurrency):
            group.create_task(pool_worker())
    if source_error:
        raise source_error[0]
    await _recheck(aside, finish, live, clock)
    if stop is not None and summary.stopped is None:
        summary.stopped = stop()  # rows in flight may have seen the stop first
    summary.elapsed = clock.monotonic() - started
    return summary


RECHECKS = 3
"""Re-checks of a set-aside row before it fails (each looks it up, and re-sends it only if absent)."""


async def _recheck(
    aside: list[tuple[int, Hashable | None, SetAside]],
    finish: Callable[[int, Hashable | None, Callable[[], Awaitable[T]]], Awaitable[bool]],
    live: ConcurrencyLimiter,
    clock: Clock,
) -> None:
    """Re-check the set-aside rows once their settle period has passed.

    A re-check looks the row up and re-sends it only if absent; a re-send that ends ambiguous
    again is set aside again, up to :data:`RECHECKS` re-checks per row (then the row fails,
    journaled ``maybe``, for a re-run to settle).
    """

    async def once(number: int, row_key: Hashable | None, later: SetAside) -> None:
        async with live.slot():

            async def again() -> T:
                current = later
                for turn in range(RECHECKS):
                    wait = current.not_before - clock.monotonic()
                    if wait > 0:
                        await clock.sleep(wait)
                    try:
                        value: T = await current.retry()
                    except SetAside as still:
                        if turn == RECHECKS - 1:
                            raise still.error from None
                        current = still
                        continue
                    return value
                raise AssertionError("unreachable")  # pragma: no cover

            await finish(number, row_key, again)

    aside.sort(key=lambda item: item[2].not_before)
    async with asyncio.TaskGroup() as group:
        for number, row_key, later in aside:
            group.create_task(once(number, row_key, later))


async def numbered(
    rows: Iterable[Mapping[str, Any] | tuple[int, Mapping[str, Any]]]
    | AsyncIterable[Mapping[str, Any] | tuple[int, Mapping[str, Any]]],
) -> AsyncIterator[tuple[int, Mapping[str, Any]]]:
    """Pair bare rows with 1-based numbers (their position in the input); pass ``(number, row)``
    pairs through."""
    if isinstance(rows, AsyncIterable):
        count = 0
        async for item in rows:
            count += 1
            yield item if isinstance(item, tuple) else (count, item)
    else:
        for pair in _numbered_sync(rows):
            yield pair


def _numbered_sync(
    rows: Iterable[Mapping[str, Any] | tuple[int, Mapping[str, Any]]],
) -> Iterator[tuple[int, Mapping[str, Any]]]:
    """:func:`numbered` for a sync source, as a plain generator."""
    for count, item in enumerate(rows, start=1):
        yield item if isinstance(item, tuple) else (count, item)


P = TypeVar("P")


@direct_init
@attrs.frozen(kw_only=True, slots=False)
class CreateOptions:
    """How :func:`bulk_create` asks an SDK to create one row.

    Attributes:
        dedupe_key: The row's ``dedupe_key`` column, if any.
        ledger: The job's ledger of created records.
        check_first: An earlier run may have sent this row: look it up before sending.
        sent_at: When the row was first sent (aware), to ignore older look-alike records.
        last_sent_at: With ``check_first``: the latest time (aware) an earlier run can have
            sent it (:attr:`~crm_core.Journal.earlier_sends_until`); the look-ups go on until
            the settle period after it has passed. ``None``: ``sent_at``.
    """

    dedupe_key: str | None
    ledger: CreateLedger
    check_first: bool
    sent_at: datetime
    last_sent_at: datetime | None = None


def _journal_state(result: RowResult[Any]) -> str:
    if result.status is RowStatus.CREATED:
        return CREATED
    if result.outcome is Outcome.MAYBE_PROCESSED:
        return MAYBE
    return FAILED


_Read = tuple[Mapping[str, Any], str, JournalEntry | None, Any]
"""A row as :class:`_ReadAhead` hands it out: the row, its fingerprint, its journal entry, and its
payload (or the ``ValidationError`` that refused it, or :data:`_NOT_BUILT`)."""

_NOT_BUILT: Any = object()

_Rows = (
    Iterable[Mapping[str, Any] | tuple[int, Mapping[str, Any]]]
    | AsyncIterable[Mapping[str, Any] | tuple[int, Mapping[str, Any]]]
)
"""Rows as :func:`bulk_create` takes them: bare mappings (numbered from 1) or ``(number, row)`` pairs."""


class _ReadAhead:
    """Reads rows ahead of the workers and records each new row ``sending`` in the journal, with
    its fingerprint, before handing it out: the rows read in the meantime (up to
    ``journal.read_ahead``) share one commit, instead of one commit per row.

    A row is handed out only once its record is committed, so every row is on disk with its
    fingerprint before its request can leave. Rows are checked (``build``) as they are read: a row
    that fails its validation is never sent, so it gets no record (and can be fixed after a
    crash). The reading runs in its own task
    (:meth:`produce`), so a source that yields rows slowly never holds back the rows already
    read: a worker that finds none ready commits what has been read and takes it.
    """

    def __init__(
        self,
        rows: _Rows,
        journal: Journal,
        build: Callable[[Mapping[str, Any]], Any],
        clock: Clock,
        stopped: Callable[[], bool],
    ) -> None:
        self._rows = rows
        self._build = build
        self._journal = journal
        self._clock = clock
        self._stopped = stopped
        self._limit = max(1, journal.read_ahead)
        self._count = 0  # items read (a bare row's number)
        self._read: deque[tuple[int, _Read]] = deque()  # recorded, not committed yet
        self._ready: deque[tuple[int, _Read]] = deque()  # committed
        self._arrived = asyncio.Event()
        self._waiting = False  # a worker waits on ``_arrived``
        self._room = asyncio.Event()
        self._room.set()
        self._done = False
        self._error: Exception | None = None

    async def produce(self) -> None:
        """Read every row (run as a task); an error of the source or the journal is raised to
        the worker that reaches it."""
        rows, take, room = self._rows, self._take, self._room
        try:
            if isinstance(rows, AsyncIterable):
                async for item in rows:
                    if take(item):
                        room.clear()
                        await room.wait()
            else:
                for item in rows:
                    if take(item):
                        room.clear()
                        await room.wait()
        except Exception as error:
            self._error = error
        finally:
            self._done = True
            self._arrived.set()

    def _take(self, item: Mapping[str, Any] | tuple[int, Mapping[str, Any]]) -> bool:
        """Check and record one row read (numbered as :func:`numbered` does); ``True`` when the
        read-ahead is full (wait for room)."""
        self._count += 1  # every item counts, pairs too: a bare row's number is its position
        if isinstance(item, tuple):
            number, row = item
        else:
            number, row = self._count, item
        journal = self._journal
        fingerprint = journal.fingerprint(row)
        entry = journal.check(number, fingerprint)
        built = _NOT_BUILT
        if entry is None or entry.state != CREATED:
            try:
                built = self._build(row)
            except ValidationError as error:
                built = error  # the row fails as it is handed out, unsent and unrecorded
        # New and failed rows (nothing of theirs landed) are recorded here; a "sending" or
        # "maybe" row gets its record as it is sent. A stopped job sends no new row.
        if (entry is None or entry.state == FAILED) and not isinstance(built, ValidationError) and not self._stopped():
            journal.read(number, fingerprint, self._clock.time())  # an earlier first send time stays
        read = self._read
        read.append((number, (row, fingerprint, entry, built)))
        if self._waiting:
            self._arrived.set()
        return len(read) + len(self._ready) >= self._limit

    def __aiter__(self) -> _ReadAhead:
        return self

    async def __anext__(self) -> tuple[int, _Read]:
        while not self._ready:
            if self._read:
                await self._journal.flush()
                self._ready, self._read = self._read, self._ready
                break
            if self._done:
                if self._error is not None:
                    raise self._error
                raise StopAsyncIteration
            self._arrived.clear()
            self._waiting = True
            try:
                await self._arrived.wait()
            finally:
                self._waiting = False
        item = self._ready.popleft()
        if len(self._ready) + len(self._read) <= self._limit // 2:
            self._room.set()  # read the next half in one go
        return item


async def _when_durable(
    durable: Awaitable[None],
    send: Callable[[int, P, CreateOptions], Awaitable[T]],
    number: int,
    payload: P,
    options: CreateOptions,
) -> T:
    """Send once the row's ``sending`` record is committed."""
    await durable
    return await send(number, payload, options)


def _later(
    send: Callable[[int, P, CreateOptions, bool], Awaitable[T]], number: int, payload: P, options: CreateOptions
) -> Callable[[], Awaitable[T]]:
    """The re-check of a set-aside row: look it up first, re-send only if absent (without
    holding its lane: the lane's later rows were skipped when it was set aside)."""
    recheck = attrs.evolve(options, check_first=True)
    return lambda: send(number, payload, recheck, False)


async def bulk_create(
    rows: Iterable[Mapping[str, Any] | tuple[int, Mapping[str, Any]]]
    | AsyncIterable[Mapping[str, Any] | tuple[int, Mapping[str, Any]]],
    *,
    build: Callable[[Mapping[str, Any]], P],
    create: Callable[[P, CreateOptions], Awaitable[T]],
    id_of: Callable[[T], Hashable],
    ledger: CreateLedger,
    concurrency: int = 10,
    key: Callable[[Mapping[str, Any]], Hashable | None] | None = None,
    on_result: Callable[[RowResult[T]], Awaitable[None] | None] | None = None,
    time_budget: float | None = None,
    journal: Journal | None = None,
    parse_id: Callable[[str], Hashable] = int,
    clock: Clock | None = None,
    policy: BulkPolicy | None = None,
    settle: float | None = None,
) -> BulkSummary:
    """Create one record per row, exactly once, optionally journaled for resumption.

    Beyond :func:`run_bulk`'s rules: a row whose create ends ambiguous (outcome
    ``maybe_processed``, e.g. :class:`~crm_core.ReconciliationError`) is journaled ``maybe``
    and set aside; the other rows go on, and it is re-checked (looked up, re-sent only if
    absent) ``policy.settle`` seconds later, before the job ends. With ``key`` (an ordered
    job) such a row first holds its lane, and its worker: it waits out its settle period (the
    ``recheck_at`` of :class:`~crm_core.ReconcilePending`, else ``policy.settle``) and is
    re-checked in place, up to :data:`RECHECKS` times, so the lane's later rows follow in
    order in the same run; only then is it set aside (and the lane's later rows skipped).

    The job stops early (rows not tried stay pending, unsent, unjournaled) after
    ``policy.max_auth_failures`` consecutive 401s, or once the API has been unreachable for
    ``policy.unreachable_wait`` seconds.

    Args:
        rows: Mappings of create arguments, or ``(row_number, mapping)`` pairs.
        build: Checks a row and returns the payload (raises ``ValidationError``).
        create: Sends one payload with reconciliation; returns the result.
        id_of: The record ID of a result (journaled and claimed).
        ledger: Records this job created (identical rows stay distinct writes).
        concurrency: Rows in flight at once.
        key: Per-row ordering key.
        on_result: Receives every :class:`RowResult`.
        time_budget: Seconds after which no new row starts.
        journal: Where row states are written before sending and after the outcome; rows an
            earlier run completed are skipped, rows it left in flight are reconciled.
        parse_id: Turns a journaled ID back into the API's ID type.
        clock: Time source.
        policy: When to stop or wait (default: the one set with :func:`bulk_policy`, else
            ``BulkPolicy()``).
        settle: Seconds after a send during which ``create``'s write may still land (its
            reconciliation settle period), recorded in the journal: a re-run whose own settle
            period is shorter (a smaller timeout) still waits this long for this run's writes.
            ``None``: unknown (a re-run then waits its own settle period plus the recorded one).

    Returns:
        The counts; ``stopped`` says why the job stopped early, if it did.
    """
    clock = clock or SystemClock()
    guard = JobGuard(policy or current_policy(), clock)
    fingerprints: dict[int, str] = {}
    counted: set[int] = set()  # rows whose end the guard has already counted
    own_settle = settle or 0.0
    if journal is not None:
        ledger.claim_all(parse_id(record_id) for record_id in journal.created_ids())
        journal.read_ahead = max(journal.read_ahead, 2 * concurrency)
        journal.start(clock.time, settle=own_settle)  # released in the ``finally`` below

    async def send(number: int, payload: P, options: CreateOptions, hold: bool = True) -> T:
        """Send one row: the first pass of the loop is the whole of it when the attempt succeeds;
        a failure loops through waits, look-ups, holding its lane (``hold``, ordered jobs) and
        setting the row aside."""
        fingerprint = fingerprints[number]
        holds = 0 if hold else RECHECKS
        error: APIError | None = None
        while True:
            if error is None:
                if guard.stopped is not None:
                    # An earlier attempt of this call may have been ambiguous: the row stays
                    # "sending", so the next run looks it up before sending it.
                    fingerprints.pop(number, None)
                    if journal is not None:
                        journal.note_sending(number, fingerprint, options.sent_at.timestamp())
                    raise NotTried(guard.stopped)
                if not guard.open.is_set():
                    await guard.open.wait()
                try:
                    value = await create(payload, options)
                except APIError as exc:
                    error = exc
                except asyncio.CancelledError:
                    # The request may be on the wire: a later run must look it up before re-sending.
                    if journal is not None:
                        journal.finish(number, fingerprint, MAYBE, error="cancelled while in flight")
                    raise
                else:
                    guard.prove()
                    guard.reachable()
                    return value
            if not guard.proven and cause(error, AuthenticationError) is None and refused(error) is None:
                guard.prove()  # the API answered, and not with a 401
            lost = refused(error)
            if lost is not None:
                await guard.unreachable(lost)
                # An earlier attempt of this call may have been ambiguous: look up first.
                options = attrs.evolve(options, check_first=True)
                error = None
                continue
            guard.reachable()
            if error.outcome is Outcome.MAYBE_PROCESSED and cause(error, AuthenticationError) is None:
                # ReconcilePending says when its settle period ends; otherwise (the look-up
                # failed) wait the policy's settle period.
                recheck_at = getattr(error, "recheck_at", None)
                wait = guard.policy.settle if recheck_at is None else max(0.0, recheck_at - clock.time())
                if key is not None and holds < RECHECKS:
                    # An ordered job: the row holds its lane while it settles (then it is
                    # looked up, and re-sent only if absent), instead of being set aside with
                    # the lane's later rows skipped until a re-run. Other lanes go on; the
                    # waits of such rows overlap.
                    holds += 1
                    await clock.sleep(wait)
                    if not options.check_first:
                        options = attrs.evolve(options, check_first=True)
                    error = None
                    continue
                if journal is not None:
                    journal.finish(number, fingerprint, MAYBE, error=str(error))
                not_before = clock.monotonic() + wait
                raise SetAside(error, _later(send, number, payload, options), not_before) from None
            raise error

    def worker(number: int, item: _Read) -> Awaitable[T]:
        """The row's send (a coroutine to await; nothing of it runs until then), or an error
        raised at once: done earlier (:class:`AlreadyDone`), invalid, or the job stopped."""
        row, fingerprint, entry, built = item
        fingerprints[number] = fingerprint
        if entry is not None and entry.state == CREATED and entry.record_id is not None:
            done = parse_id(entry.record_id)
            if row.get("dedupe_key") not in (None, ""):
                ledger.dedupe.put(str(row["dedupe_key"]), done)  # later rows with the key reuse it
            raise AlreadyDone(done)
        if isinstance(built, ValidationError):
            raise built
        payload: P = build(row) if built is _NOT_BUILT else built
        if not guard.proven:
            return trial(number, row, payload, entry, fingerprint)
        return journaled_send(number, row, payload, entry, fingerprint)

    async def trial(number: int, row: Mapping[str, Any], payload: P, entry: JournalEntry | None, fingerprint: str) -> T:
        """Send a row while the credential is not proven yet (at most a few such rows at once)."""
        tried = await guard.enter_trial()
        if tried is None:
            raise NotTried(guard.stopped or "the job stopped")
        if tried:
            try:
                return await journaled_send(number, row, payload, entry, fingerprint)
            except Exception as error:
                # Count a 401 before the next trial row may go, so a wrong key stops the job
                # after exactly ``max_auth_failures`` requests.
                guard.result(error, tried=True)
                counted.add(number)
                raise
            finally:
                guard.leave_trial()
        return await journaled_send(number, row, payload, entry, fingerprint)

    def journaled_send(
        number: int, row: Mapping[str, Any], payload: P, entry: JournalEntry | None, fingerprint: str
    ) -> Awaitable[T]:
        """The row's send, after its ``sending`` record is durable (a coroutine to await)."""
        check_first = entry is not None and entry.state in (SENDING, MAYBE)
        first_sent = entry.sent_at if entry is not None and entry.sent_at is not None else clock.time()
        if guard.stopped is not None:
            raise NotTried(guard.stopped)  # before a "sending" record: nothing to look up later
        durable = None
        if journal is not None:
            durable = journal.before_send(number, fingerprint, first_sent, known=entry is not None)
        dedupe = row.get("dedupe_key")
        last_sent = None
        if check_first and journal is not None and journal.earlier_sends_until is not None:
            # An earlier run may have sent it as late as its end (or its last lease): a write
            # that lands late is looked for until the settle period after that has passed, the
            # earlier run's settle period if it was longer than this one's.
            longer = max(0.0, journal.earlier_settle - own_settle)
            last_sent = datetime.fromtimestamp(max(first_sent, journal.earlier_sends_until + longer), UTC)
        options = CreateOptions(
            dedupe_key=None if dedupe in (None, "") else str(dedupe),
            ledger=ledger,
            check_first=check_first,
            sent_at=datetime.fromtimestamp(first_sent, UTC),
            last_sent_at=last_sent,
        )
        if durable is not None:
            return _when_durable(durable, send, number, payload, options)
        return send(number, payload, options)

    def record(result: RowResult[T]) -> Awaitable[None] | None:
        if result.row_number in counted:
            counted.discard(result.row_number)
        else:
            guard.result(result.error, tried=result.status is not RowStatus.SKIPPED)
        fingerprint = fingerprints.pop(result.row_number, None)
        if journal is not None and result.status is RowStatus.SKIPPED:
            journal.not_sent(result.row_number)  # read ahead, never sent: its record goes
        elif journal is not None and fingerprint is not None:
            record_id = None if result.value is None else str(id_of(result.value))
            journal.finish(
                result.row_number,
                fingerprint,
                _journal_state(result),
                record_id=record_id,
                error=result.message or None,
            )
        return None if on_result is None else on_result(result)

    items: Iterable[tuple[int, _Read]] | AsyncIterable[tuple[int, _Read]]
    reader: asyncio.Task[None] | None = None
    if journal is not None:
        read_ahead = _ReadAhead(rows, journal, build, clock, lambda: guard.stopped is not None)
        reader = asyncio.create_task(read_ahead.produce())
        items = read_ahead
    else:
        items = _unjournaled(rows)
    try:
        summary = await run_bulk(
            items,
            worker,
            concurrency=concurrency,
            key=None if key is None else lambda item: key(item[0]),
            on_result=record,
            time_budget=time_budget,
            clock=clock,
            stop=lambda: guard.stopped,
        )
    finally:
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        if journal is not None:
            journal.release()  # rows read ahead but never sent lose their "sending" record
    return summary


def _unjournaled(rows: _Rows) -> Iterator[tuple[int, _Read]] | AsyncIterator[tuple[int, _Read]]:
    """Numbered rows (as :func:`numbered`) as :func:`run_bulk` items, without a journal (a sync
    source stays sync: no async generator step per row)."""
    if isinstance(rows, AsyncIterable):
        return _unjournaled_async(rows)
    return ((number, (row, "", None, _NOT_BUILT)) for number, row in _numbered_sync(rows))


async def _unjournaled_async(
    rows: AsyncIterable[Mapping[str, Any] | tuple[int, Mapping[str, Any]]],
) -> AsyncIterator[tuple[int, _Read]]:
    async for number, row in numbered(rows):
        yield number, (row, "", None, _NOT_BUILT)
