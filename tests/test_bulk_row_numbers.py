"""Tester findings (issue 10, seventh round): how rows are numbered and fingerprinted in bulk jobs.

* Rows given as a mix of ``(number, row)`` pairs and bare rows: a bare row's number is its
  position in the input (as :func:`crm_core.numbered` says), with or without a journal, and a
  journaled job so numbered resumes (every row found done).
* A row's fingerprint does not depend on the Mapping type it comes in.
* A JSONL row holding a lone surrogate fails alone, with its row number; the others are created.
"""

from __future__ import annotations

import collections
import csv
import json
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from crm_core import Journal, RowResult
from crm_core._bulk import CreateOptions, bulk_create
from crm_core._journal import row_fingerprint
from crm_core._reconcile import CreateLedger
from lofty_async._cli import main as lofty_main


async def _run(rows: list[Any], journal: Journal | None) -> tuple[list[tuple[int, str]], list[str]]:
    sent: list[str] = []
    ended: list[tuple[int, str]] = []

    async def create(payload: Mapping[str, Any], options: CreateOptions) -> int:
        sent.append(payload["text"])
        return len(sent)

    def on_result(result: RowResult[Any]) -> None:
        ended.append((result.row_number, result.status.value))

    await bulk_create(
        rows, build=dict, create=create, id_of=lambda v: v, ledger=CreateLedger(), on_result=on_result, journal=journal
    )
    return sorted(ended), sent


@pytest.mark.parametrize("journaled", [False, True])
async def test_bare_rows_mixed_with_pairs_are_numbered_by_position(tmp_path: Path, journaled: bool) -> None:
    rows: list[Any] = [(1, {"text": "a"}), {"text": "b"}, (5, {"text": "e"}), {"text": "d"}]
    journal = Journal(tmp_path / "job.sqlite", job="j") if journaled else None
    ended, sent = await _run(rows, journal)
    assert ended == [(1, "created"), (2, "created"), (4, "created"), (5, "created")]
    assert sorted(sent) == ["a", "b", "d", "e"]
    if journal is not None:
        journal.close()
        again = Journal(tmp_path / "job.sqlite", job="j")
        ended, sent = await _run(rows, again)  # the same input: every row done already
        again.close()
        assert ended == [(1, "skipped"), (2, "skipped"), (4, "skipped"), (5, "skipped")]
        assert sent == []


async def test_async_rows_mixed_with_pairs_are_numbered_by_position() -> None:
    async def rows() -> Any:
        for item in [{"text": "a"}, (7, {"text": "g"}), {"text": "c"}]:
            yield item

    ended, _ = await _run(rows(), None)
    assert ended == [(1, "created"), (3, "created"), (7, "created")]


def test_a_rows_fingerprint_does_not_depend_on_its_mapping_type() -> None:
    fields = {"lead_id": 5, "content": "x", "when": None}
    plain = {"lead_id": 5, "content": "x"}
    for same in (fields, plain):
        kinds = [
            dict(same),
            collections.OrderedDict(same),
            types.MappingProxyType(dict(same)),
            collections.UserDict(same),
        ]
        assert len({row_fingerprint(row) for row in kinds}) == 1


def test_a_jsonl_row_with_a_lone_surrogate_fails_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LOFTY_API_KEY", raising=False)
    monkeypatch.delenv("LOFTY_ACCESS_TOKEN", raising=False)
    base = {"type": "Call", "lead_id": 563172647619608, "assigned_role": "Agent", "end_at": "2027-02-01T10:00:00-08:00"}
    lines = [
        json.dumps({**base, "content": "one"}),
        json.dumps({**base, "content": "two \ud800"}),
        json.dumps({**base, "content": "three"}),
    ]
    (tmp_path / "rows.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = CliRunner().invoke(lofty_main, ["tasks", "import", "rows.jsonl", "--sandbox", "--no-progress"])
    assert result.exit_code == 1, result.output
    assert "2 created, 1 failed" in result.output
    with (tmp_path / "rows.jsonl.results.csv").open(encoding="utf-8", newline="") as handle:
        outcome = {row["row"]: (row["status"], row["field"]) for row in csv.DictReader(handle)}
    assert outcome == {"1": ("created", ""), "2": ("failed", "content"), "3": ("created", "")}
