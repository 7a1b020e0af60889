"""Read-ahead: each row is on disk, with its fingerprint, before its request leaves, and rows
share commits.

Rows are read ahead of the sends and recorded ``sending`` together (one commit for many rows).
After a crash, every ``sending`` row is looked up before it is sent again, and a row whose fields
changed since is refused; a run that ends drops the records of rows it read but never sent.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from crm_core import Outcome, PermissionDeniedError, ReconcilePending, ReconcileSettings, RowResult, ValidationError
from crm_core._bulk import BulkSummary, CreateOptions, bulk_create
from crm_core._journal import CREATED, FAILED, SENDING, Journal, JournalMismatchError, row_fingerprint
from crm_core._reconcile import CreateLedger
from crm_core.emulator import FaultKind, FaultPlan, FaultRule
from lofty_async import LoftyClient
from lofty_async.testing import SANDBOX_API_KEY, LoftyEmulator

from .test_exactly_once import CREATE, NO_LIMIT

ROWS: list[dict[str, Any]] = [{**CREATE, "content": f"Read-ahead row {i}"} for i in range(6)]


def _records(path: Path) -> dict[int, tuple[str, str]]:
    with sqlite3.connect(path) as db:
        return {n: (state, fp) for n, state, fp in db.execute("SELECT row_number, state, fingerprint FROM rows")}


async def _by_lead(
    rows: list[dict[str, Any]],
    build: Callable[[Mapping[str, Any]], Mapping[str, Any]],
    create: Callable[[Mapping[str, Any], CreateOptions], Awaitable[int]],
    journal: Journal,
) -> BulkSummary:
    """A journaled job of ``rows`` ordered per ``lead``, two at a time."""
    return await bulk_create(
        rows,
        build=build,
        create=create,
        id_of=lambda v: v,
        ledger=CreateLedger(),
        concurrency=2,
        key=lambda row: row["lead"],
        journal=journal,
    )


async def _crash_after_sending_row_1(path: Path, url: str) -> None:
    """A run that read the rows ahead, sent row 1 (it landed), then died before its outcome
    (long ago: its send lease ran out at 1005.0, so the re-run need not wait for late writes)."""
    journal = Journal(path, job="read-ahead")
    journal.start(lambda: 1000.0)
    for number, row in enumerate(ROWS, 1):
        assert journal.check(number, row_fingerprint(row)) is None
        journal.read(number, row_fingerprint(row), 1000.0)
    await journal.flush()
    assert journal.before_send(1, row_fingerprint(ROWS[0]), 1000.0, known=False) is None  # committed already
    # On disk, with the fingerprints, before any request leaves.
    assert _records(path) == {n: (SENDING, row_fingerprint(row)) for n, row in enumerate(ROWS, 1)}
    async with LoftyClient(api_key=SANDBOX_API_KEY, base_url=url) as lofty:
        await lofty.tasks.create(**ROWS[0])
    journal.close()  # no outcome: what kill -9 leaves


async def test_rows_a_crashed_run_read_ahead_are_looked_up_and_created_once(tmp_path: Path) -> None:
    emulator = LoftyEmulator(rate_limit=NO_LIMIT)
    path = tmp_path / "job.sqlite"
    async with emulator.serve() as url:
        await _crash_after_sending_row_1(path, url)
        resumed = Journal(path, job="read-ahead")
        async with LoftyClient(api_key=SANDBOX_API_KEY, base_url=url) as lofty:
            summary = await lofty.tasks.create_many(ROWS, journal=resumed)
        resumed.close()
    assert summary.created == 6 and summary.failed == 0
    assert sorted(task["content"] for task in emulator.tasks.values()) == sorted(r["content"] for r in ROWS)
    assert emulator.core.count("POST", "/v2.0/tasks") == 6  # row 1 was found, not sent again
    assert {state for state, _ in _records(path).values()} == {CREATED}


async def test_a_row_edited_after_a_crash_is_refused_not_created_beside_the_old_one(tmp_path: Path) -> None:
    emulator = LoftyEmulator(rate_limit=NO_LIMIT)
    path = tmp_path / "job.sqlite"
    edited = [{**ROWS[0], "content": "Edited after the crash"}, *ROWS[1:]]
    async with emulator.serve() as url:
        await _crash_after_sending_row_1(path, url)
        resumed = Journal(path, job="read-ahead")
        async with LoftyClient(api_key=SANDBOX_API_KEY, base_url=url) as lofty:
            with pytest.raises(JournalMismatchError, match="row 1 differs from the row recorded"):
                await lofty.tasks.create_many(edited, journal=resumed)
        resumed.close()
    assert emulator.core.count("POST", "/v2.0/tasks") == 1  # only the crashed run's row 1


async def test_a_changed_failed_row_is_recorded_sending_before_it_is_resent(tmp_path: Path) -> None:
    path = tmp_path / "job.sqlite"
    journal = Journal(path, job="read-ahead")
    journal.finish(1, row_fingerprint({"content": "bad"}), FAILED, error="400")
    journal.close()
    journal = Journal(path, job="read-ahead")
    journal.start()
    fixed = row_fingerprint({"content": "fixed"})
    assert journal.check(1, fixed) is None  # the fix is accepted, as a new row...
    journal.read(1, fixed, 5.0)
    await journal.flush()
    # ...and a crash now must not leave "failed" (which would re-send without a look-up).
    assert _records(path) == {1: (SENDING, fixed)}
    journal.close()


async def test_rows_read_but_never_sent_lose_their_record_and_known_rows_get_their_own(tmp_path: Path) -> None:
    path = tmp_path / "job.sqlite"
    journal = Journal(path, job="read-ahead")
    journal.finish(3, row_fingerprint({"lead": "b", "n": 3}), "maybe", error="timed out")
    journal.close()
    journal = Journal(path, job="read-ahead")
    sent: list[int] = []

    def build(row: Mapping[str, Any]) -> Mapping[str, Any]:
        if row["n"] == 4:
            raise ValidationError("n", 4, "not 4")
        return row

    async def create(payload: Mapping[str, Any], options: CreateOptions) -> int:
        n = int(payload["n"])
        if n == 3:  # a row the journal holds has its own record on disk, and is looked up first
            assert options.check_first and _records(path)[3][0] == SENDING
        sent.append(n)
        if n == 1:
            raise ValidationError("n", 1, "refused by the API")
        return n

    rows = [{"lead": "a", "n": 1}, {"lead": "a", "n": 2}, {"lead": "b", "n": 3}, {"lead": "b", "n": 4}]
    summary = await _by_lead(rows, build, create, journal)
    journal.close()
    assert sorted(sent) == [1, 3]
    assert (summary.created, summary.failed, summary.skipped) == (1, 2, 1)
    # Row 2 (lead a, after row 1 failed) was read and recorded, never sent: its record is gone.
    # Row 4 failed its validation as it was read: never recorded "sending", journaled "failed".
    assert {n: state for n, (state, _) in _records(path).items()} == {1: FAILED, 3: CREATED, 4: FAILED}


async def test_a_slow_source_is_not_held_back_by_the_read_ahead(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "job.sqlite", job="read-ahead")
    row_1_sent = asyncio.Event()

    async def trickle() -> AsyncIterator[Mapping[str, Any]]:
        yield {"n": 1}
        await row_1_sent.wait()  # a queue that gets row 2 only once row 1 went out
        yield {"n": 2}

    async def create(payload: Mapping[str, Any], options: CreateOptions) -> int:
        row_1_sent.set()
        return int(payload["n"])

    summary = await asyncio.wait_for(
        bulk_create(trickle(), build=dict, create=create, id_of=lambda v: v, ledger=CreateLedger(), journal=journal),
        timeout=5,
    )
    journal.close()
    assert summary.created == 2


async def test_a_resumed_job_shares_commits_too(tmp_path: Path) -> None:
    path = tmp_path / "job.sqlite"
    rows = [{"n": i + 1} for i in range(300)]

    async def refuse(payload: Mapping[str, Any], options: CreateOptions) -> int:
        raise ValidationError("n", payload["n"], "refused by the API")

    async def create(payload: Mapping[str, Any], options: CreateOptions) -> int:
        await asyncio.sleep(0.001)
        return int(payload["n"])

    for attempt, send in enumerate((refuse, create)):
        journal = Journal(path, job="read-ahead")
        summary = await bulk_create(
            rows, build=dict, create=send, id_of=lambda v: v, ledger=CreateLedger(), concurrency=10, journal=journal
        )
        assert (summary.failed, summary.created) == ((300, 0) if attempt == 0 else (0, 300))
        assert journal.commits <= 20  # not one per row read, in the first run or the resumed one
        journal.close()
    assert {state for state, _ in _records(path).values()} == {CREATED}


@pytest.mark.parametrize("wait_to_settle", [True, False])
async def test_a_row_a_crashed_run_sent_is_awaited_until_it_lands_not_sent_again(
    tmp_path: Path, wait_to_settle: bool
) -> None:
    """The crashed run's request commits late (after the re-run's first look-up): the re-run keeps
    looking (or sets the row aside) until the settle period after its first send, and finds it."""
    plan = FaultPlan(rules=[FaultRule(kind=FaultKind.LATE_COMMIT, route="POST /v2.0/tasks", times=1)], late_seconds=1.5)
    emulator = LoftyEmulator(rate_limit=NO_LIMIT, faults=plan)
    path = tmp_path / "job.sqlite"
    async with emulator.serve() as url:
        journal = Journal(path, job="read-ahead")
        journal.start()
        for number, row in enumerate(ROWS, 1):
            journal.read(number, row_fingerprint(row), time.time())
        await journal.flush()
        async with LoftyClient(api_key=SANDBOX_API_KEY, base_url=url) as lofty:
            with pytest.raises(TimeoutError):  # the process dies with row 1 on the wire
                await asyncio.wait_for(lofty.tasks.create(**ROWS[0]), 0.2)
        journal.close()
        settings = ReconcileSettings(settle=5.0, lookup_delay=0.2, wait_to_settle=wait_to_settle)
        resumed = Journal(path, job="read-ahead")
        async with LoftyClient(api_key=SANDBOX_API_KEY, base_url=url, reconcile=settings) as lofty:
            summary = await lofty.tasks.create_many(ROWS, journal=resumed)
        resumed.close()
    assert summary.created == 6 and summary.failed == 0
    assert emulator.core.count("POST", "/v2.0/tasks") == 6  # row 1 once, by the crashed run
    assert sorted(task["content"] for task in emulator.tasks.values()) == sorted(r["content"] for r in ROWS)


async def test_a_crashed_rows_lead_that_does_not_exist_ends_failed_not_maybe_forever(tmp_path: Path) -> None:
    """A look-up answered 404 (no such lead) proves the task absent: the row is sent, refused
    (Lofty: 400 PERMISSION_DENIED on the lead), and journaled failed (so it can be fixed), not
    left "maybe"."""
    emulator = LoftyEmulator(rate_limit=NO_LIMIT)
    path = tmp_path / "job.sqlite"
    rows = [{**ROWS[0], "lead_id": 999_999_999_999_999}, ROWS[1]]
    journal = Journal(path, job="read-ahead")
    journal.start(lambda: time.time() - 3600)
    for number, row in enumerate(rows, 1):
        journal.read(number, row_fingerprint(row), time.time() - 3600)  # a crash an hour ago
    journal.close()
    async with emulator.serve() as url, LoftyClient(api_key=SANDBOX_API_KEY, base_url=url) as lofty:
        resumed = Journal(path, job="read-ahead")
        results: list[RowResult[int]] = []
        summary = await lofty.tasks.create_many(rows, journal=resumed, on_result=results.append)
        resumed.close()
    assert (summary.created, summary.failed) == (1, 1)
    failed = next(r for r in results if r.row_number == 1)
    assert isinstance(failed.error, PermissionDeniedError) and failed.outcome is not Outcome.MAYBE_PROCESSED
    assert {n: state for n, (state, _) in _records(path).items()} == {1: FAILED, 2: CREATED}


async def test_an_ordered_job_waits_for_a_crashed_rows_settle_period_instead_of_skipping_its_lane(
    tmp_path: Path,
) -> None:
    """Superfone-style per-lead order: a row a crashed run may have sent holds its lane until its
    settle period has passed (then it is looked up and found), so the lead's later rows follow in
    order in the same run instead of ending "waits for row N"."""
    path = tmp_path / "job.sqlite"
    rows = [{"lead": "a", "n": 1}, {"lead": "a", "n": 2}, {"lead": "b", "n": 3}]
    crashed_at = time.time()
    journal = Journal(path, job="read-ahead")
    journal.start()
    journal.read(1, row_fingerprint(rows[0]), crashed_at)
    journal.close()
    order: list[int] = []

    async def create(payload: Mapping[str, Any], options: CreateOptions) -> int:
        n = int(payload["n"])
        if options.check_first and time.time() < crashed_at + 0.5:
            raise ReconcilePending("not visible yet", recheck_at=crashed_at + 0.5, outcome=Outcome.MAYBE_PROCESSED)
        order.append(n)
        return n

    resumed = Journal(path, job="read-ahead")
    summary = await _by_lead(rows, dict, create, resumed)
    resumed.close()
    assert (summary.created, summary.skipped, summary.failed) == (3, 0, 0)
    assert order.index(1) < order.index(2) and time.time() >= crashed_at + 0.5
