"""Reservations: one durable record covers the next rows of a job, and a crash never loses them.

A fresh row is sent under a committed reservation ("rows 1..N may be sent from time T on")
instead of a per-row "sending" record. After a crash, the rows a reservation covers that have no
outcome are looked up before they are sent again; rows the journal already holds keep their
per-row records; a run that ends drops its own reservations.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from crm_core._journal import CREATED, FAILED, SENDING, Destination, Journal, JournalDestinationError, row_fingerprint
from lofty_async import LoftyClient
from lofty_async.testing import SANDBOX_API_KEY, LoftyEmulator

from .test_exactly_once import CREATE, NO_LIMIT

ROWS: list[dict[str, Any]] = [{**CREATE, "content": f"Reserved row {i}"} for i in range(6)]


def _states(path: Path) -> dict[int, str]:
    with sqlite3.connect(path) as db:
        return dict(db.execute("SELECT row_number, state FROM rows").fetchall())


def _reservations(path: Path) -> list[tuple[int, float]]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT through, sent_at FROM reserved ORDER BY through").fetchall()


async def _crash_after_sending_row_1(path: Path, url: str) -> float:
    """A run that reserved rows, sent row 1 (it landed), then died before writing its outcome."""
    journal = Journal(path, job="reserve")
    journal.start()
    reserved_at = time.time() - 1
    durable = journal.before_send(1, row_fingerprint(ROWS[0]), reserved_at, known=False)
    assert durable is not None
    await durable
    assert _reservations(path) == [(128, reserved_at)]  # on disk before the request leaves
    async with LoftyClient(api_key=SANDBOX_API_KEY, base_url=url) as lofty:
        await lofty.tasks.create(**ROWS[0])
    journal.close()  # no outcome, no release: what kill -9 leaves
    return reserved_at


async def test_rows_a_crashed_run_reserved_are_looked_up_and_created_once(tmp_path: Path) -> None:
    emulator = LoftyEmulator(rate_limit=NO_LIMIT)
    path = tmp_path / "job.sqlite"
    async with emulator.serve() as url:
        reserved_at = await _crash_after_sending_row_1(path, url)
        resumed = Journal(path, job="reserve")
        resumed.start()
        entry = resumed.check(1, "changed rows are looked up as they read now")
        assert entry is not None and (entry.state, entry.fingerprint, entry.sent_at) == (SENDING, "", reserved_at)
        async with LoftyClient(api_key=SANDBOX_API_KEY, base_url=url) as lofty:
            summary = await lofty.tasks.create_many(ROWS, journal=resumed)
        resumed.close()
    assert summary.created == 6 and summary.failed == 0
    assert sorted(task["content"] for task in emulator.tasks.values()) == sorted(r["content"] for r in ROWS)
    assert emulator.core.count("POST", "/v2.0/tasks") == 6  # row 1 was found, not sent again
    assert set(_states(path).values()) == {CREATED}
    # The crashed run's reservation stays (only --fresh drops it); the resumed run's own is gone.
    assert _reservations(path) == [(128, reserved_at)]


async def test_a_crashed_runs_reservation_keeps_another_destination_out(tmp_path: Path) -> None:
    emulator = LoftyEmulator(rate_limit=NO_LIMIT)
    path = tmp_path / "job.sqlite"
    here = Destination(base_url="http://a", sandbox=False, credential="c1")
    Journal(path, job="reserve", destination=here).close()
    async with emulator.serve() as url:
        await _crash_after_sending_row_1(path, url)
    assert _states(path) == {}  # no per-row record: only the reservation says row 1 may be out
    with pytest.raises(JournalDestinationError):
        Journal(path, job="reserve", destination=Destination(base_url="http://b", sandbox=False, credential="c1"))


async def test_a_changed_failed_row_gets_its_own_sending_record_before_it_is_resent(tmp_path: Path) -> None:
    path = tmp_path / "job.sqlite"
    journal = Journal(path, job="reserve")
    journal.finish(1, row_fingerprint({"content": "bad"}), FAILED, error="400")
    journal.close()
    journal = Journal(path, job="reserve")
    journal.start()
    fixed = row_fingerprint({"content": "fixed"})
    assert journal.check(1, fixed) is None  # the fix is accepted...
    durable = journal.before_send(1, fixed, 5.0, known=False)
    assert durable is not None
    await durable
    # ...and a crash now must not leave "failed" (which would re-send without a look-up).
    assert _states(path) == {1: SENDING}
    journal.close()


async def test_covered_rows_wait_for_nothing_and_rows_the_journal_holds_get_their_own_record(tmp_path: Path) -> None:
    path = tmp_path / "job.sqlite"
    journal = Journal(path, job="reserve")
    journal.start()
    journal.reserve_ahead = 4
    durable = journal.before_send(1, "f" * 32, 1.0, known=False)
    assert durable is not None
    await durable
    assert [journal.before_send(n, "f" * 32, 2.0, known=False) for n in (2, 3, 4)] == [None, None, None]
    durable = journal.before_send(5, "f" * 32, 3.0, known=False)  # past the reservation: a new one
    assert durable is not None
    await durable
    assert _reservations(path) == [(4, 1.0), (8, 3.0)]
    known = journal.before_send(2, "f" * 32, 2.0, known=True)  # e.g. a "maybe" row sent again
    assert known is not None
    await known
    assert _states(path) == {2: SENDING}
    journal.note_sending(3, "f" * 32, 2.0)  # a job stopped after row 3 may have gone out
    journal.release()
    assert _reservations(path) == [] and _states(path) == {2: SENDING, 3: SENDING}
    journal.close()


def test_an_earlier_runs_reservations_give_each_row_the_earliest_time_that_covers_it(tmp_path: Path) -> None:
    path = tmp_path / "job.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE reserved (run INTEGER NOT NULL, through INTEGER NOT NULL, sent_at REAL NOT NULL)")
        db.executemany("INSERT INTO reserved VALUES (?, ?, ?)", [(1, 10, 100.0), (1, 20, 200.0), (2, 15, 50.0)])
    journal = Journal(path, job="reserve")
    journal.start()
    since = {n: (e.sent_at if (e := journal.get(n)) is not None else None) for n in (1, 10, 11, 15, 16, 20, 21)}
    journal.close()
    assert since == {1: 50.0, 10: 50.0, 11: 50.0, 15: 50.0, 16: 200.0, 20: 200.0, 21: None}
