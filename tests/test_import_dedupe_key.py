"""Rows that share a ``dedupe_key`` give one task at any concurrency, also across a re-run."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from crm_core.emulator import FixedWindowRateLimit, ThreadedServer
from lofty_async._cli import main
from lofty_async.testing import LoftyEmulator

KEY = "dedupe-test-key"
LEAD = 563172647619608


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[LoftyEmulator, str]]:
    monkeypatch.setenv("LOFTY_API_KEY", KEY)
    monkeypatch.delenv("LOFTY_ACCESS_TOKEN", raising=False)
    emulator = LoftyEmulator(api_keys=[KEY], rate_limit=FixedWindowRateLimit(limit=10**9))
    with ThreadedServer(emulator.app) as running:
        yield emulator, running.url


def write(path: Path, keys: list[str]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["type", "content", "lead_id", "assigned_role", "end_at", "dedupe_key"])
        for i, key in enumerate(keys):
            writer.writerow(["Call", f"Row {i} ({key})", LEAD, "Agent", "2027-02-01T10:00:00-08:00", key])


def test_rows_sharing_a_dedupe_key_give_one_task_at_concurrency_10(
    tmp_path: Path, server: tuple[LoftyEmulator, str]
) -> None:
    source = tmp_path / "tasks.csv"
    keys = [f"k{i % 5}" for i in range(40)]  # five keys, eight rows each, interleaved
    write(source, keys)
    emulator, url = server
    run = CliRunner().invoke(main, ["tasks", "import", str(source), "--base-url", url, "--no-progress"])
    assert run.exit_code == 0, run.output
    assert len(emulator.tasks) == 5 and emulator.core.count("POST", "/v2.0/tasks") == 5
    with (tmp_path / "tasks.csv.results.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    ids_by_key = {key: {r["task_id"] for r in rows if keys[int(r["row"]) - 1] == key} for key in set(keys)}
    assert all(len(ids) == 1 for ids in ids_by_key.values())  # every row of a key reports one task

    # A re-run after more rows with known keys were appended: they reuse the journaled tasks.
    write(source, [*keys, "k0", "k3", "k9"])
    again = CliRunner().invoke(main, ["tasks", "import", str(source), "--base-url", url, "--no-progress"])
    assert again.exit_code == 0, again.output
    assert Counter(t["content"].split("(")[1] for t in emulator.tasks.values()) == Counter(
        f"k{i})" for i in (0, 1, 2, 3, 4, 9)
    )
