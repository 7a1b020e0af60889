"""Superfone's per-lead order survives a failed row: later rows of that lead wait for the next run.

Creating a non-reminder task completes the lead's open one, so the order of a lead's tasks is the
data. Whatever fails (a 4xx, the documented 404 "Lead storage is full", exhausted retries, an
ambiguous outcome, a ``kill -9``), a re-run must leave every lead's tasks in file order.
"""

from __future__ import annotations

import csv
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from crm_core.emulator import FaultKind, FaultPlan, ThreadedServer
from superfone_async._cli import main
from superfone_async.testing import SANDBOX_API_KEY, SuperfoneEmulator
from superfone_async.testing._emulator import sandbox_lead_ids

TYPES = ["FIRST_CALL", "FOLLOW_UP_CALL", "REMINDER", "SITE_VISIT", "BOOKING", "CALLBACK_REQUEST"]
FAST = ["--no-progress", "--rate-limit", "off"]


def write_file(path: Path, leads: int, per_lead: int, seed: int = 1) -> list[dict[str, str]]:
    rng = random.Random(seed)
    rows = []
    for i in range(per_lead):
        for lead in sandbox_lead_ids()[:leads]:
            rows.append(
                {
                    "lead_id": str(lead),
                    "type": rng.choice(TYPES),
                    "due_date": f"2028-02-{i + 1:02d}T10:{rng.randrange(60):02d}:00Z",
                    "notify_at": "",
                    "customer_note": f"step {i + 1}",
                }
            )
    rng.shuffle(rows)  # leads interleave in the file; order within a lead is row order
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return rows


def assert_file_order(emulator: SuperfoneEmulator, rows: list[dict[str, str]]) -> None:
    have = Counter((t["customer_id"], t["type"], t["due_date"][:19]) for t in emulator.tasks.values())
    assert have == Counter((int(r["lead_id"]), r["type"], r["due_date"][:19]) for r in rows)  # exactly once
    for lead in {int(r["lead_id"]) for r in rows}:
        wanted = [(r["type"], r["due_date"][:19]) for r in rows if int(r["lead_id"]) == lead]
        made = [(t["type"], t["due_date"][:19]) for t in emulator.lead_tasks(lead)]  # creation order
        assert made == wanted, lead


def results(path: Path) -> dict[int, dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return {int(r["row"]): r for r in csv.DictReader(handle)}


def journal_states(path: Path) -> Counter[str]:
    with sqlite3.connect(path) as db:
        return Counter(dict(db.execute("SELECT state, COUNT(*) FROM rows GROUP BY state").fetchall()))


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[SuperfoneEmulator, str]]:
    monkeypatch.setenv("SUPERFONE_API_KEY", SANDBOX_API_KEY)
    emulator = SuperfoneEmulator()
    with ThreadedServer(emulator.app) as running:
        yield emulator, running.url


def test_lead_storage_full_holds_each_leads_later_rows_and_a_rerun_keeps_file_order(
    tmp_path: Path, server: tuple[SuperfoneEmulator, str]
) -> None:
    source = tmp_path / "tasks.csv"
    rows = write_file(source, leads=6, per_lead=4)
    emulator, url = server
    emulator.lead_storage_full = True
    first = CliRunner().invoke(main, ["tasks", "import", str(source), "--base-url", url, *FAST])
    assert first.exit_code == 1
    assert "24 rows: 0 created, 6 failed, 18 skipped" in first.output
    # Only each lead's first row was sent; the others wait for it.
    assert emulator.core.count("POST", "/enterprise/api/lead/*/task") == 6
    by_row = results(tmp_path / "tasks.csv.results.csv")
    first_of: dict[str, int] = {}
    for number, row in enumerate(rows, start=1):
        first_of.setdefault(row["lead_id"], number)
        if first_of[row["lead_id"]] == number:
            assert by_row[number]["status"] == "failed" and "Lead storage is full" in by_row[number]["error"]
        else:
            assert by_row[number]["status"] == "skipped"
            assert f"waits for row {first_of[row['lead_id']]} of the same lead" in by_row[number]["error"]
    port = url.rsplit(":", 1)[1]
    journal = tmp_path / f"tasks.csv.127.0.0.1_{port}.journal.sqlite"
    assert journal_states(journal) == {"failed": 6}

    emulator.lead_storage_full = False
    second = CliRunner().invoke(main, ["tasks", "import", str(source), "--base-url", url, *FAST])
    assert second.exit_code == 0, second.output
    assert "24 rows: 24 created" in second.output
    assert journal_states(journal) == {"created": 24}
    assert_file_order(emulator, rows)


def test_exhausted_retries_and_a_4xx_hold_only_that_lead(tmp_path: Path, server: tuple[SuperfoneEmulator, str]) -> None:
    source = tmp_path / "tasks.csv"
    rows = write_file(source, leads=5, per_lead=3, seed=2)
    emulator, url = server
    leads = sorted({r["lead_id"] for r in rows})
    # Lead A: a 503 on its first create, with no retries left -> "failed" (exhausted, not processed).
    emulator.core.faults = FaultPlan().add(
        FaultKind.ERROR_503, route=f"POST /enterprise/api/lead/{leads[0]}/task", times=1
    )
    # Lead B: the server answers 404 "Lead not found" (a 4xx) while the lead is away.
    lead_b = emulator.leads.pop(int(leads[1]))
    run = CliRunner().invoke(main, ["tasks", "import", str(source), "--base-url", url, "--retries", "0", *FAST])
    assert run.exit_code == 1
    by_row = results(tmp_path / "tasks.csv.results.csv")
    for lead, why in ((leads[0], "503"), (leads[1], "Lead not found")):
        numbers = [n for n, r in enumerate(rows, start=1) if r["lead_id"] == lead]
        assert by_row[numbers[0]]["status"] == "failed" and why in by_row[numbers[0]]["error"]
        assert all(f"waits for row {numbers[0]} of the same lead" in by_row[n]["error"] for n in numbers[1:])
        assert emulator.core.count("POST", f"/enterprise/api/lead/{lead}/task") == 1  # only the first was sent
    others = [n for n, r in enumerate(rows, start=1) if r["lead_id"] in leads[2:]]
    assert all(by_row[n]["status"] == "created" for n in others)  # other leads went on

    emulator.leads[int(leads[1])] = lead_b
    again = CliRunner().invoke(main, ["tasks", "import", str(source), "--base-url", url, *FAST])
    assert again.exit_code == 0, again.output
    assert_file_order(emulator, rows)


def test_faults_and_kill_9_then_reruns_leave_every_lead_in_file_order(tmp_path: Path) -> None:
    source = tmp_path / "tasks.csv"
    rows = write_file(source, leads=20, per_lead=5, seed=3)
    command = [
        sys.executable,
        "-m",
        "superfone_async",
        "tasks",
        "import",
        str(source),
        "--sandbox",
        "--no-progress",
        "--rate-limit",
        "off",
        "--concurrency",
        "8",
        "--timeout",
        "0.5",
        "--retries",
        "1",
    ]
    rng = random.Random(11)
    kills = 0
    for attempt in range(3):
        process = subprocess.Popen(
            [*command, "--sandbox-faults", f"50%,seed={attempt}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(rng.uniform(0.8, 1.6))
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            kills += 1
        process.wait(timeout=60)
    assert kills >= 1
    skipped_waiting = 0
    for _ in range(6):
        final = subprocess.run(command, capture_output=True, text=True, timeout=300)
        skipped_waiting += sum(
            "waits for row" in r["error"] for r in results(tmp_path / "tasks.csv.results.csv").values()
        )
        if final.returncode == 0:
            break
    assert final.returncode == 0, final.stdout + final.stderr
    assert_file_order(SuperfoneEmulator(state_path=tmp_path / "tasks.csv.sandbox-state.jsonl"), rows)
    journal = tmp_path / "tasks.csv.sandbox.journal.sqlite"
    assert journal_states(journal) == {"created": len(rows)}
