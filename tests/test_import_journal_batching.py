"""The journal batches its commits without giving up crash safety.

Before a row's request leaves, its "sending" record (with its fingerprint) must be committed
(visible to another connection, so on disk for a killed process). Rows are read ahead and
recorded together, so one commit covers many rows.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from crm_core._bulk import CreateOptions, bulk_create
from crm_core._journal import Journal, row_fingerprint, row_fingerprint_v1, row_fingerprint_v2
from crm_core._reconcile import CreateLedger


def _recorded_as_sent(other: sqlite3.Connection, number: int) -> str:
    """What another connection (a crash) sees for the row: its state and fingerprint, or "nothing"."""
    found = other.execute("SELECT state, fingerprint FROM rows WHERE row_number = ?", (number,)).fetchone()
    return "nothing" if found is None else f"{found[0]} {found[1]}"


async def test_each_row_is_durably_journaled_before_it_is_sent_and_commits_are_shared(tmp_path: Path) -> None:
    path = tmp_path / "job.sqlite"
    journal = Journal(path, job="batching")
    other = sqlite3.connect(path)  # what a crash would leave behind is what another connection sees
    ids = itertools.count(1)
    seen_at_send: dict[int, str] = {}

    async def create(payload: Mapping[str, Any], options: CreateOptions) -> int:
        seen_at_send[payload["n"]] = _recorded_as_sent(other, payload["n"])
        await asyncio.sleep(0.002)  # rows finish together, so the next ones start together
        return next(ids)

    rows = [{"n": i + 1, "text": f"row {i}"} for i in range(300)]
    summary = await bulk_create(
        rows, build=dict, create=create, id_of=lambda v: v, ledger=CreateLedger(), concurrency=10, journal=journal
    )
    assert summary.created == 300
    assert seen_at_send == {row["n"]: f"sending {row_fingerprint(row)}" for row in rows}
    # About one per 64 rows read (half the read-ahead), plus outcome commits (one per 0.2 s);
    # one per row would be 300 or more.
    assert journal.commits <= 15
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
    with sqlite3.connect(tmp_path / "v2.sqlite") as db:  # written by 0.4
        db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        db.executemany("INSERT INTO meta VALUES (?, ?)", [("job", "j"), ("fingerprint", "v2")])
    v2 = Journal(tmp_path / "v2.sqlite", job="j")
    assert v2.fingerprint is row_fingerprint_v2
    assert row_fingerprint_v2(row) == hashlib.blake2b(repr(sorted(row.items())).encode(), digest_size=16).hexdigest()
    v2.close()


def test_fingerprints_tell_apart_types_values_and_names() -> None:
    rows: list[dict[str, Any]] = [
        {"a": 1},
        {"a": "1"},
        {"a": True},
        {"a": 1.0},
        {"a": None},
        {"a": "x\0s\0y"},
        {"a": "x", "s": "y"},
        {"a\0s": "x"},
        {"a": "", "b": ""},
        {"a\0\0b": ""},
        {"a": [1, "2"]},
        {"a": "[1, '2']"},
    ]
    for fingerprint in (row_fingerprint, row_fingerprint_v2):
        assert len({fingerprint(row) for row in rows}) == len(rows)
        assert fingerprint({"a": 1, "b": "x"}) == fingerprint({"b": "x", "a": 1})  # order-independent
    # Stable across processes and versions: a journal's fingerprints are compared run after run.
    encoded = b"content\0s\0x\0\0lead_id\0i\x005"  # the documented encoding, fields by name
    assert row_fingerprint({"lead_id": 5, "content": "x"}) == hashlib.blake2b(encoded, digest_size=16).hexdigest()
