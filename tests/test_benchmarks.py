"""The benchmark's own machinery: verdicts, interleaving, the table, the row files, the naive loop.

No timing is asserted (speed is the benchmark's business); these check that what it reports
means what it says.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

import benchmarks.scenarios  # noqa: F401  (registers the scenarios)
from benchmarks._child import naive_import
from benchmarks._harness import Row, Target, interleave, markdown_table, scenarios, write_task_rows
from crm_core.emulator import FaultPlan
from lofty_async.testing import SANDBOX_API_KEY, LoftyEmulator


def test_target_bounds_both_ways() -> None:
    assert Target(1.15).met(1.15)
    assert not Target(1.15).met(1.16)
    assert Target(0.9, at_most=False).met(0.95)
    assert not Target(0.9, at_most=False).met(0.85)
    assert str(Target(1.5)) == "≤ 1.5×"


def test_verdict_judges_the_median_not_the_best_round() -> None:
    row = Row("s", "m", "1", "1", ratios=[1.0, 1.3, 1.4], target=Target(1.15))
    assert row.status == "missed"
    assert row.cells()[4:6] == ["1.00", "1.30"]
    assert Row("s", "m", "1", "1", ratios=[1.0, 1.1, 1.4], target=Target(1.15)).status == "met"
    assert Row("s", "m", "1", "1", ratios=[3.0]).status == "info"
    assert Row("s", "m", "1", "1", verdict="missed", target_text="≤ 300 MB").cells()[-2:] == ["≤ 300 MB", "missed"]


def test_interleave_rotates_who_goes_first() -> None:
    order = list(interleave(3, ["sdk", "aiohttp", "httpx"]))
    assert [name for number, name in order if number == 0] == ["sdk", "aiohttp", "httpx"]
    assert [name for number, name in order if number == 1] == ["aiohttp", "httpx", "sdk"]
    assert [name for number, name in order if number == 2] == ["httpx", "sdk", "aiohttp"]


def test_table_is_one_markdown_table_with_escaped_cells() -> None:
    table = markdown_table([Row("a", "x | y", "1", "2", ratios=[0.5], target=Target(1.15))])
    lines = table.splitlines()
    assert lines[0].startswith("| scenario | measure |")
    assert "x \\| y" in lines[2]
    assert lines[2].endswith("| met |")


def test_every_issue_scenario_is_registered_in_order() -> None:
    assert list(scenarios()) == [
        *("overhead", "superfone", "leads", "import", "memory", "pacing", "faults", "multiprocess")
    ]


def test_row_files_are_valid_import_input(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    write_task_rows(path, 7, tag="T")
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["content"] for r in rows] == [f"T {i}" for i in range(7)]
    assert {r["type"] for r in rows} == {"Call"}


async def test_naive_loop_creates_each_row_once_without_faults(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    write_task_rows(path, 25, tag="Naive")
    emulator = LoftyEmulator(rate_limit=None)
    assert emulator.core.rate_limit is not None
    emulator.core.rate_limit.enabled = False
    async with emulator.serve() as url:
        failed = await naive_import(str(path), url, SANDBOX_API_KEY, 4, False, 10.0)
    assert failed == 0
    assert sorted(t["content"] for t in emulator.tasks.values()) == sorted(f"Naive {i}" for i in range(25))


@pytest.mark.slow
async def test_naive_retry_loop_duplicates_on_ambiguous_failures(tmp_path: Path) -> None:
    """What the faults scenario counts: a write that landed, then a lost response, is sent again."""
    path = tmp_path / "rows.csv"
    write_task_rows(path, 6, tag="Dup")
    emulator = LoftyEmulator(rate_limit=None, faults=FaultPlan().add("reset-after", times=2))
    assert emulator.core.rate_limit is not None
    emulator.core.rate_limit.enabled = False
    async with emulator.serve() as url:
        failed = await naive_import(str(path), url, SANDBOX_API_KEY, 1, True, 10.0)
    contents = [t["content"] for t in emulator.tasks.values()]
    assert failed == 0
    assert len(contents) == 8  # 6 rows + 2 duplicates
    assert set(contents) == {f"Dup {i}" for i in range(6)}
