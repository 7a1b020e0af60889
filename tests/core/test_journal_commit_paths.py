"""The journal's "sending" record is durable before the request leaves, alone or in a group.

A row alone in flight commits at once (no loop turn); rows reaching ``sending_durable`` together
share one commit. Either way another connection (what a re-run after ``kill -9`` reads) sees
the record as soon as ``sending_durable`` returns.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from crm_core._journal import CREATED, Journal


def _states(path: Path) -> dict[int, str]:
    other = sqlite3.connect(path)
    try:
        return dict(other.execute("SELECT row_number, state FROM rows").fetchall())
    finally:
        other.close()


def test_a_row_alone_is_durable_when_sending_durable_returns(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    journal = Journal(path, job="job")
    journal.start()

    async def run() -> None:
        for number in (1, 2, 3):
            await journal.sending_durable(number, "f" * 32, 1.0)
            assert _states(path)[number] == "sending"  # on disk before the request would leave
            journal.finish(number, "f" * 32, CREATED, record_id=str(number))

    asyncio.run(run())
    journal.close()
    assert _states(path) == {1: CREATED, 2: CREATED, 3: CREATED}


def test_concurrent_rows_share_commits_and_are_all_durable(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    journal = Journal(path, job="job")
    journal.start()

    async def row(number: int) -> None:
        await journal.sending_durable(number, "f" * 32, 1.0)
        assert _states(path)[number] == "sending"
        await asyncio.sleep(0)
        journal.finish(number, "f" * 32, CREATED, record_id=str(number))

    async def run() -> None:
        before = journal.commits
        await asyncio.gather(*(row(n) for n in range(1, 21)))
        # 20 rows in flight together: far fewer commits than rows (one immediate, then groups).
        assert journal.commits - before <= 3

    asyncio.run(run())
    journal.close()
    assert set(_states(path).values()) == {CREATED}


def test_batched_writes_keep_each_rows_order(tmp_path: Path) -> None:
    # Writes are grouped by kind in a batch; a row's outcome followed by a new "sending" record
    # (a re-sent row) must still end "sending", and outcomes of one row keep their order.
    path = tmp_path / "j.sqlite"
    journal = Journal(path, job="job")
    journal.start()

    async def run() -> None:
        await journal.sending_durable(1, "f" * 32, 1.0)
        await journal.sending_durable(2, "f" * 32, 1.0)
        journal.finish(2, "f" * 32, "maybe", error="timed out")
        journal.finish(2, "f" * 32, CREATED, record_id="2")  # same batch: the later one wins
        journal.finish(1, "f" * 32, "failed", error="400")
        journal.sending(1, "f" * 32, 2.0)  # row 1 sent again after its buffered outcome

    asyncio.run(run())
    journal.close()
    assert _states(path) == {1: "sending", 2: CREATED}
