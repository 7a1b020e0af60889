"""The journal batches its commits without giving up crash safety.

Every row's "sending" record must be committed (visible to another connection, so on disk for a
killed process) before its request leaves; the commits themselves are shared by the rows that get
there in the same event-loop turn.
"""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from crm_core._bulk import CreateOptions, bulk_create
from crm_core._journal import Journal, row_fingerprint, row_fingerprint_v1
from crm_core._reconcile import CreateLedger


async def test_each_row_is_durably_journaled_before_it_is_sent_and_commits_are_shared(tmp_path: Path) -> None:
    path = tmp_path / "job.sqlite"
    journal = Journal(path, job="batching")
    other = sqlite3.connect(path)  # what a crash would leave behind is what another connection sees
    ids = itertools.count(1)
    seen_at_send: list[str] = []

    async def create(payload: Mapping[str, Any], options: CreateOptions) -> int:
        number = payload["n"]
        (state,) = other.execute("SELECT state FROM rows WHERE row_number = ?", (number,)).fetchone()
        seen_at_send.append(state)
        await asyncio.sleep(0.002)  # rows finish together, so the next ones start together
        return next(ids)

    rows = [{"n": i + 1, "text": f"row {i}"} for i in range(300)]
    summary = await bulk_create(
        rows, build=dict, create=create, id_of=lambda v: v, ledger=CreateLedger(), concurrency=10, journal=journal
    )
    assert summary.created == 300
    assert seen_at_send == ["sending"] * 300
    # Shared: rows that start together share one commit (one per row would be 300 or more); the
    # bound leaves room for timing on a loaded machine and the first rows, which go as trials.
    assert journal.commits <= 300 // 3
    journal.close()
    assert dict(other.execute("SELECT state, COUNT(*) FROM rows GROUP BY state").fetchall()) == {"created": 300}
    other.close()


def test_old_journals_keep_their_fingerprint_version(tmp_path: Path) -> None:
    row = {"lead_id": 5, "content": "x"}
    new = Journal(tmp_path / "new.sqlite", job="j")
    assert new.fingerprint is row_fingerprint
    new.close()
    with sqlite3.connect(tmp_path / "old.sqlite") as db:
        db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        db.execute("INSERT INTO meta VALUES ('job', 'j')")
    old = Journal(tmp_path / "old.sqlite", job="j")
    assert old.fingerprint is row_fingerprint_v1 and old.fingerprint(row) == row_fingerprint_v1(row)
    old.close()
    assert row_fingerprint({"a": 1}) != row_fingerprint({"a": "1"})  # types count
