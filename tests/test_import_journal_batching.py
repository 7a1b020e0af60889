"""The journal batches its commits without giving up crash safety.

Before a row's request leaves, its "sending" record (with its fingerprint) must be committed
(visible to another connection, so on disk for a killed process). Rows are read ahead and
recorded together, so one commit covers many rows.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import math
import sqlite3
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_core._bulk import CreateOptions, bulk_create
from crm_core._journal import (
    Journal,
    JournalMismatchError,
    row_fingerprint,
    row_fingerprint_v1,
    row_fingerprint_v2,
    row_fingerprint_v3,
)
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
    with sqlite3.connect(tmp_path / "v3.sqlite") as db:  # written by 0.5
        db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        db.executemany("INSERT INTO meta VALUES (?, ?)", [("job", "j"), ("fingerprint", "v3")])
    v3 = Journal(tmp_path / "v3.sqlite", job="j")
    assert v3.fingerprint is row_fingerprint_v3
    v3.close()
    with sqlite3.connect(tmp_path / "new.sqlite") as db:
        assert db.execute("SELECT value FROM meta WHERE key = 'fingerprint'").fetchone() == ("v4",)


def test_a_v4_journal_without_orjson_is_refused_not_misread(tmp_path: Path, monkeypatch: Any) -> None:
    import crm_core._journal as journal_module

    Journal(tmp_path / "job.sqlite", job="j").close()
    monkeypatch.setattr(journal_module, "orjson", None)
    with pytest.raises(JournalMismatchError, match="orjson"):
        Journal(tmp_path / "job.sqlite", job="j")


def test_fingerprints_tell_apart_types_values_and_names() -> None:
    rows: list[dict[str, Any]] = [
        {"a": 1},
        {"a": "1"},
        {"a": True},
        {"a": 1.0},
        {"a": None},
        {"a": math.nan},
        {"a": math.inf},
        {"a": -0.0},
        {"a": 2**70},
        {"a": str(2**70)},
        {"a": datetime(2026, 1, 1, tzinfo=UTC)},
        {"a": "2026-01-01T00:00:00+00:00"},
        {"a": "null"},
        {"a": "x\0s\0y"},
        {"a": "x", "s": "y"},
        {"a\0s": "x"},
        {"a": "", "b": ""},
        {"a\0\0b": ""},
        {"a": [1, "2"]},
        {"a": "[1, '2']"},
        {"a": '[1,"2"]'},
        {"a": "x\0r\0'y'"},
    ]
    for fingerprint in (row_fingerprint, row_fingerprint_v3, row_fingerprint_v2):
        assert len({fingerprint(row) for row in rows}) == len(rows)
        assert fingerprint({"a": 1, "b": "x"}) == fingerprint({"b": "x", "a": 1})  # order-independent
    # Stable across processes and versions: a journal's fingerprints are compared run after run.
    v3_encoded = b"content\0s\0x\0\0lead_id\0i\x005"  # the documented encoding, fields by name
    assert row_fingerprint_v3({"lead_id": 5, "content": "x"}) == hashlib.blake2b(v3_encoded, digest_size=16).hexdigest()
    v4_encoded = b'{"content":"x","lead_id":5}'  # compact JSON, keys sorted
    assert row_fingerprint({"lead_id": 5, "content": "x"}) == hashlib.blake2b(v4_encoded, digest_size=16).hexdigest()
    with_null = b"\0content\0r\0None"  # a null: v3's encoding, behind a NUL
    assert row_fingerprint({"content": None}) == hashlib.blake2b(with_null, digest_size=16).hexdigest()


_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.sampled_from(["null", "1", "true", "1.0", "None", "x\0s\0y"]),
)
_ROWS = st.dictionaries(
    st.text(max_size=6),
    st.one_of(_SCALARS, st.lists(_SCALARS, max_size=3)),
    max_size=5,
)


def _same(a: Any, b: Any) -> bool:
    """Equal with types (``1`` is not ``1.0`` or ``True``; NaN equals NaN; ``-0.0`` is not ``0.0``)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return bool(a == b)


@given(_ROWS, _ROWS)
def test_two_rows_share_a_fingerprint_only_when_their_fields_are_the_same(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert (row_fingerprint(a) == row_fingerprint(b)) == _same(a, b)
    assert row_fingerprint(a) == row_fingerprint(dict(reversed(list(a.items()))))


@given(_ROWS)
def test_a_row_goes_by_json_only_when_json_holds_it_exactly(row: dict[str, Any]) -> None:
    try:
        text = orjson.dumps(row, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        text = b"null"
    by_json = hashlib.blake2b(text, digest_size=16).hexdigest()
    assert (row_fingerprint(row) == by_json) == (b"null" not in text)
