"""Late writes are waited for long enough: a re-run after a crash counts from when the crashed
run could last have sent, not from when it first read the row; and "absent" is concluded only
from a look-up that began after the settle period.

The tester's finding: a row read ahead long before it was sent (a killed run's read-ahead, or
an earlier killed run that never sent it) kept that read time as its ``sent_at``. The run after
the crash that finally sent it counted the settle period from there: already over, so it looked
once, found nothing (the server commits late), and sent the row again, a duplicate. The journal
now records a send lease (``sends_until``), renewed while a job runs and set to its end when it
ends, and the re-run looks a row up until the settle period after that.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from crm_core import ReconcileSettings, RetryPolicy
from crm_core._bulk import BulkSummary
from crm_core._journal import Journal, JournalLockedError, row_fingerprint
from crm_core.emulator import FaultKind, FaultPlan, FaultRule, FixedWindowRateLimit, serve
from superfone_async import SuperfoneClient
from superfone_async.testing import SANDBOX_API_KEY, SuperfoneEmulator

LEAD = 12345
ROWS: list[dict[str, Any]] = [
    {"lead_id": LEAD, "type": "FIRST_CALL", "due_date": f"2028-01-12T0{i}:30:00Z", "customer_note": f"row {i}"}
    for i in range(1, 4)
]
NO_LIMIT = FixedWindowRateLimit(limit=10**9)


def _sends_until(path: Path) -> float | None:
    with sqlite3.connect(path) as db:
        found = db.execute("SELECT value FROM meta WHERE key = 'sends_until'").fetchone()
    return None if found is None else float(found[0])


async def _crash_with_row_1_on_the_wire(path: Path, url: str, *, read_at: float, settle: float = 0.0) -> None:
    """A run (its settle period ``settle``) that read the rows at ``read_at`` (long before),
    sent row 1 just now, and was killed with row 1 on the wire (the server commits it late)."""
    journal = Journal(path, job="settle-window")
    journal.start(settle=settle)
    for number, row in enumerate(ROWS, 1):
        journal.read(number, row_fingerprint(row), read_at)
    await journal.flush()
    async with SuperfoneClient(api_key=SANDBOX_API_KEY, base_url=url) as sf:
        with pytest.raises(TimeoutError):  # the process dies with row 1 on the wire
            await asyncio.wait_for(sf.tasks.create(**ROWS[0]), 0.2)
    journal.close()  # no release: what kill -9 leaves


async def _rerun_after_a_crash(
    tmp_path: Path, settings: ReconcileSettings, *, read_at: float, crashed_settle: float = 0.0
) -> tuple[BulkSummary, Journal]:
    """Crash a run with row 1 on the wire (stored 1.5 s after it was sent), re-run the job at
    once with ``settings`` (rows in order per lead), and check row 1 was stored once."""
    plan = FaultPlan(
        rules=[FaultRule(kind=FaultKind.LATE_COMMIT, route=f"POST /enterprise/api/lead/{LEAD}/task", times=1)],
        late_seconds=1.5,
    )
    emulator = SuperfoneEmulator(rate_limit=NO_LIMIT, faults=plan)
    path = tmp_path / "job.sqlite"
    async with emulator.serve() as url:
        await _crash_with_row_1_on_the_wire(path, url, read_at=read_at, settle=crashed_settle)
        resumed = Journal(path, job="settle-window")
        async with SuperfoneClient(api_key=SANDBOX_API_KEY, base_url=url, reconcile=settings) as sf:
            summary = await sf.tasks.create_many(ROWS, journal=resumed, key=lambda row: row["lead_id"])
        resumed.close()
        emulator.core.stop_slow_responses()
        await emulator.core.drain()
    made = [task["due_date"][:19] for task in emulator.lead_tasks(LEAD)]
    assert sorted(made) == sorted(row["due_date"][:19] for row in ROWS)  # row 1 once: the crashed run's
    return summary, resumed


@pytest.mark.parametrize("wait_to_settle", [True, False])
async def test_a_row_read_long_before_a_crashed_run_sent_it_is_not_sent_again(
    tmp_path: Path, wait_to_settle: bool
) -> None:
    settings = ReconcileSettings(settle=3.0, lookup_delay=0.2, wait_to_settle=wait_to_settle)
    summary, _ = await _rerun_after_a_crash(tmp_path, settings, read_at=time.time() - 600)
    assert (summary.created, summary.failed, summary.skipped) == (3, 0, 0)


async def test_a_crash_long_ago_is_not_waited_for(tmp_path: Path) -> None:
    """The crashed run's lease ran out an hour ago: its rows are looked up once and sent (a
    late write of it would have landed long since)."""
    emulator = SuperfoneEmulator(rate_limit=NO_LIMIT)
    path = tmp_path / "job.sqlite"
    an_hour_ago = time.time() - 3600
    journal = Journal(path, job="settle-window")
    journal.start(lambda: an_hour_ago)
    for number, row in enumerate(ROWS, 1):
        journal.read(number, row_fingerprint(row), an_hour_ago)
    journal.close()
    settings = ReconcileSettings(settle=30.0, lookup_delay=0.2)
    async with (
        emulator.serve() as url,
        SuperfoneClient(api_key=SANDBOX_API_KEY, base_url=url, reconcile=settings) as sf,
    ):
        resumed = Journal(path, job="settle-window")
        started = time.monotonic()
        summary = await sf.tasks.create_many(ROWS, journal=resumed)
        took = time.monotonic() - started
        resumed.close()
    assert resumed.earlier_sends_until == pytest.approx(an_hour_ago + resumed.lease)
    assert summary.created == 3 and took < 10  # not the 30 s settle period
    assert emulator.core.count("POST", f"/enterprise/api/lead/{LEAD}/task") == 3


async def test_the_send_lease_is_renewed_while_a_job_runs_and_ends_with_it(tmp_path: Path) -> None:
    path = tmp_path / "job.sqlite"
    journal = Journal(path, job="settle-window")
    journal.lease = 0.2
    journal.start()
    first = _sends_until(path)
    assert first is not None and first > time.time()
    await asyncio.sleep(0.35)  # past the renewal at lease / 2
    renewed = _sends_until(path)
    assert renewed is not None and renewed > first
    journal.release()
    ended = _sends_until(path)
    assert ended is not None and ended <= time.time()
    await asyncio.sleep(0.25)
    assert _sends_until(path) == ended  # no renewal after the job ended
    journal.close()
    again = Journal(path, job="settle-window")
    again.start()
    assert again.earlier_sends_until == ended
    again.close()


async def test_a_journal_without_a_lease_record_is_waited_for_from_the_start(tmp_path: Path) -> None:
    """A journal written by an older version has no ``sends_until``: the earlier run can have
    sent until the moment this one took the journal's lock."""
    path = tmp_path / "job.sqlite"
    journal = Journal(path, job="settle-window")
    journal.close()
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM meta WHERE key = 'sends_until'")
    before = time.time()
    again = Journal(path, job="settle-window")
    again.start()
    assert again.earlier_sends_until is not None and before <= again.earlier_sends_until <= time.time()
    again.close()


async def test_absent_is_concluded_only_from_a_look_up_begun_after_the_settle_period() -> None:
    """The tester's in-run duplicate, made exact. The create times out at 0.5 s and the server
    stores it at 0.8 s; the settle period ends at 0.8 s. The look-up reads page 1 at 0.5 s (not
    there yet), and page 2 (the lead has older tasks) answers only at 0.9 s. That look-up ended
    after the settle period but read page 1 before the write landed: it proves nothing, so one
    more look-up follows (it finds the write) instead of a re-send."""
    plan = FaultPlan(
        rules=[FaultRule(kind=FaultKind.LATE_COMMIT, route=f"POST /enterprise/api/lead/{LEAD}/task", times=1)],
        late_seconds=0.8,
    )
    emulator = SuperfoneEmulator(rate_limit=NO_LIMIT)
    app = emulator.app()

    @web.middleware
    async def slow_second_page(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.method == "GET" and request.query.get("page") == "2":
            await asyncio.sleep(0.4)
        return await handler(request)  # type: ignore[no-any-return]

    app.middlewares.insert(0, slow_second_page)
    settings = ReconcileSettings(settle=0.3, lookup_delay=0.05)
    async with (
        serve(app) as url,
        SuperfoneClient(
            api_key=SANDBOX_API_KEY, base_url=url, timeout=0.5, reconcile=settings, retry=RetryPolicy(initial_delay=0.0)
        ) as sf,
    ):
        for minute in range(25):  # older tasks: the look-up reads two pages of 20
            await sf.tasks.create(LEAD, type="REMINDER", due_date=f"2028-02-01T10:{minute:02d}:00Z")
        emulator.core.faults = plan
        task = await sf.tasks.create(LEAD, type="FIRST_CALL", due_date="2028-03-01T10:00:00Z")
        emulator.core.stop_slow_responses()
        await emulator.core.drain()
    assert emulator.core.count("POST", f"/enterprise/api/lead/{LEAD}/task") == 26  # not re-sent
    stored = [t for t in emulator.lead_tasks(LEAD) if t["due_date"].startswith("2028-03-01")]
    assert [t["id"] for t in stored] == [task.id]


async def test_a_rerun_with_a_shorter_timeout_still_waits_the_crashed_runs_settle_period(tmp_path: Path) -> None:
    """Tester finding: the crashed run settled for 3 s (its timeout's), the re-run for 0.3 s; the
    crashed run's write lands 1.5 s after it was sent. The journal recorded the crashed run's
    settle period, so the re-run waits for that write instead of sending the row again."""
    settings = ReconcileSettings(settle=0.3, lookup_delay=0.1, wait_to_settle=False)
    summary, resumed = await _rerun_after_a_crash(tmp_path, settings, read_at=time.time(), crashed_settle=3.0)
    assert resumed.earlier_settle == 3.0
    assert (summary.created, summary.failed, summary.skipped) == (3, 0, 0)


async def test_a_journal_refuses_a_second_job_while_one_runs(tmp_path: Path) -> None:
    """Tester finding: two jobs at once on one Journal object each sent every row. The second
    is refused before it sends anything; one after the other is fine."""
    emulator = SuperfoneEmulator(rate_limit=NO_LIMIT)
    journal = Journal(tmp_path / "job.sqlite", job="settle-window")
    async with emulator.serve() as url, SuperfoneClient(api_key=SANDBOX_API_KEY, base_url=url) as sf:
        outcomes = await asyncio.gather(
            sf.tasks.create_many(ROWS, journal=journal),
            sf.tasks.create_many(ROWS, journal=journal),
            return_exceptions=True,
        )
        refused = [o for o in outcomes if isinstance(o, BaseException)]
        assert len(refused) == 1 and isinstance(refused[0], JournalLockedError)
        assert "another job of this process" in str(refused[0])
        again = await sf.tasks.create_many(ROWS, journal=journal)  # after the first one ended
    journal.close()
    assert again.created == 0 and again.skipped == 3
    assert emulator.core.count("POST", f"/enterprise/api/lead/{LEAD}/task") == 3


@pytest.mark.parametrize("lease", [0.0, -1.0, float("nan"), 1e-9, 0.09])
async def test_a_lease_that_is_not_a_positive_number_of_seconds_is_refused(tmp_path: Path, lease: float) -> None:
    journal = Journal(tmp_path / "job.sqlite", job="settle-window")
    journal.lease = lease
    with pytest.raises(ValueError, match="lease="):
        journal.start()
    journal.close()
