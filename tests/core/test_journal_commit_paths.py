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
