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
    Mapping,
)
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import attrs

from ._clock import Clock, SystemClock
from ._errors import APIError, Outcome, ValidationError
from ._journal import CREATED, FAILED, MAYBE, SENDING, Journal, row_fingerprint
from ._reconcile import CreateLedger

__all__ = [
    "AlreadyDone",
    "BulkSummary",
    "CreateOptions",
    "RowResult",
    "RowStatus",
    "bulk_create",
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


@attrs.frozen(kw_only=True)
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
    """

    created: int = 0
    failed: int = 0
    skipped: int = 0
    elapsed: float = 0.0

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


class AlreadyDone(Exception):
    """Raised by a worker for a row an earlier run already completed (the row is SKIPPED).

    Attributes:
        record_id: The record the earlier run created.
    """

    def __init__(self, record_id: Hashable) -> None:
        super().__init__(f"already created by an earlier run (id {record_id})")
        self.record_id = record_id


class JobBudgetSpent(Exception):
    """The job's time budget ran out before this row started."""

    def __init__(self, budget: float) -> None:
        super().__init__(f"not attempted: the job's time budget of {budget:g} s was spent")


async def _aiter(rows: Iterable[tuple[int, R]] | AsyncIterable[tuple[int, R]]) -> AsyncIterator[tuple[int, R]]:
    if isinstance(rows, AsyncIterable):
        async for item in rows:
            yield item
    else:
        for item in rows:
            yield item


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
) -> BulkSummary:
    """Run ``worker`` over numbered rows; see the module docstring.

    Args:
        rows: ``(row_number, row)`` pairs, sync or async, read lazily.
        worker: ``async (row_number, row) -> value``. :class:`~crm_core.ValidationError`
            and :class:`~crm_core.APIError` fail the row; any other exception is a bug and
            stops the job (after the rows in flight end).
        concurrency: Rows in progress at once, >= 1.
        key: Ordering key of a row (e.g. its lead ID); rows with the same key run in input
            order. ``None`` (or a key of ``None``) means no ordering.
        on_result: Called with each :class:`RowResult` (sync or async).
        time_budget: Seconds after which no new row starts (later rows are ``SKIPPED``).
        max_pending: Rows that may wait in lanes before reading pauses (bounds memory).
        clock: Time source.

    Returns:
        The counts. Every row read produced exactly one result.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency={concurrency!r} is not valid: expected an integer >= 1")
    clock = clock or SystemClock()
    started = clock.monotonic()
    summary = BulkSummary()
    lanes: dict[Hashable, deque[tuple[int, R]]] = {}
    live = asyncio.Semaphore(concurrency)
    room = asyncio.Event()
    room.set()
    pending = 0

    async def report(result: RowResult[T]) -> None:
        summary.add(result)
        if on_result is not None:
            maybe = on_result(result)
            if inspect.isawaitable(maybe):
                await maybe

    def budget_spent() -> bool:
        return time_budget is not None and clock.monotonic() - started >= time_budget

    async def process(number: int, row: R, row_key: Hashable | None) -> None:
        if budget_spent():
            assert time_budget is not None
            await report(
                RowResult(row_number=number, status=RowStatus.SKIPPED, error=JobBudgetSpent(time_budget), key=row_key)
            )
            return
        try:
            value = await worker(number, row)
        except AlreadyDone as done:
            await report(RowResult(row_number=number, status=RowStatus.SKIPPED, error=done, key=row_key))
        except (ValidationError, APIError) as error:
            await report(RowResult(row_number=number, status=RowStatus.FAILED, error=error, key=row_key))
        else:
            await report(RowResult(row_number=number, status=RowStatus.CREATED, value=value, key=row_key))

    async def run_lane(row_key: Hashable | None, number: int, row: R) -> None:
        nonlocal pending
        try:
            while True:
                await process(number, row, row_key)
                if row_key is None:
                    return
                queue = lanes[row_key]
                if not queue:
                    del lanes[row_key]
                    return
                number, row = queue.popleft()
                pending -= 1
                if pending < max_pending:
                    room.set()
        finally:
            live.release()

    async with asyncio.TaskGroup() as group:
        async for number, row in _aiter(rows):
            row_key = key(row) if key is not None else None
            if row_key is not None and row_key in lanes:
                lanes[row_key].append((number, row))
                pending += 1
                if pending >= max_pending:
                    room.clear()
                    await room.wait()
                continue
            await live.acquire()
            if row_key is not None:
                lanes[row_key] = deque()
            group.create_task(run_lane(row_key, number, row))
    summary.elapsed = clock.monotonic() - started
    return summary


async def numbered(
    rows: Iterable[Mapping[str, Any] | tuple[int, Mapping[str, Any]]]
    | AsyncIterable[Mapping[str, Any] | tuple[int, Mapping[str, Any]]],
) -> AsyncIterator[tuple[int, Mapping[str, Any]]]:
    """Pair bare rows with 1-based numbers; pass ``(number, row)`` pairs through."""
    count = 0

    def pair(item: Mapping[str, Any] | tuple[int, Mapping[str, Any]]) -> tuple[int, Mapping[str, Any]]:
        nonlocal count
        count += 1
        return item if isinstance(item, tuple) else (count, item)

    if isinstance(rows, AsyncIterable):
        async for item in rows:
            yield pair(item)
    else:
        for item in rows:
            yield pair(item)


P = TypeVar("P")


@attrs.frozen(kw_only=True)
class CreateOptions:
    """How :func:`bulk_create` asks an SDK to create one row.

    Attributes:
        dedupe_key: The row's ``dedupe_key`` column, if any.
        ledger: The job's ledger of created records.
        check_first: An earlier run may have sent this row: look it up before sending.
        sent_at: When the row was first sent (aware), to ignore older look-alike records.
    """

    dedupe_key: str | None
    ledger: CreateLedger
    check_first: bool
    sent_at: datetime


def _journal_state(result: RowResult[Any]) -> str:
    if result.status is RowStatus.CREATED:
        return CREATED
    if result.outcome is Outcome.MAYBE_PROCESSED:
        return MAYBE
    return FAILED


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
) -> BulkSummary:
    """Create one record per row, exactly once, optionally journaled for resumption.

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
    """
    clock = clock or SystemClock()
    fingerprints: dict[int, str] = {}
    if journal is not None:
        ledger.claim_all(parse_id(record_id) for record_id in journal.created_ids())

    async def worker(number: int, row: Mapping[str, Any]) -> T:
        fingerprint = row_fingerprint(row)
        fingerprints[number] = fingerprint
        entry = journal.check(number, fingerprint) if journal is not None else None
        if entry is not None and entry.state == CREATED and entry.record_id is not None:
            raise AlreadyDone(parse_id(entry.record_id))
        payload = build(row)
        check_first = entry is not None and entry.state in (SENDING, MAYBE)
        first_sent = entry.sent_at if entry is not None and entry.sent_at is not None else clock.time()
        if journal is not None:
            journal.sending(number, fingerprint, first_sent)
        dedupe = row.get("dedupe_key")
        options = CreateOptions(
            dedupe_key=None if dedupe in (None, "") else str(dedupe),
            ledger=ledger,
            check_first=check_first,
            sent_at=datetime.fromtimestamp(first_sent, UTC),
        )
        try:
            return await create(payload, options)
        except asyncio.CancelledError:
            # The request may be on the wire: a later run must look it up before re-sending.
            if journal is not None:
                journal.finish(number, fingerprint, MAYBE, error="cancelled while in flight")
            raise

    async def record(result: RowResult[T]) -> None:
        fingerprint = fingerprints.pop(result.row_number, None)
        if journal is not None and fingerprint is not None and result.status is not RowStatus.SKIPPED:
            record_id = None if result.value is None else str(id_of(result.value))
            journal.finish(
                result.row_number,
                fingerprint,
                _journal_state(result),
                record_id=record_id,
                error=result.message or None,
            )
        if on_result is not None:
            maybe = on_result(result)
            if inspect.isawaitable(maybe):
                await maybe

    return await run_bulk(
        numbered(rows),
        worker,
        concurrency=concurrency,
        key=key,
        on_result=record,
        time_budget=time_budget,
        clock=clock,
    )
