"""Bulk jobs stop when going on is pointless, and leave the untried rows pending.

A wrong key stops the job after a few consecutive 401s; an API that cannot be reached makes the job
pause and back off for a bounded time, then stop. Neither marks hundreds of rows failed.
"""

from __future__ import annotations

import csv
import socket
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from crm_core.emulator import FixedWindowRateLimit, ThreadedServer
from lofty_async._cli import main
from lofty_async.testing import LoftyEmulator

KEY = "job-stop-test-key"
LEAD = 563172647619608


def write_rows(path: Path, count: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["type", "content", "lead_id", "assigned_role", "end_at"])
        for i in range(count):
            writer.writerow(["Call", f"Row {i}", LEAD, "Agent", "2027-02-01T10:00:00-08:00"])


def results(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def journal_states(path: Path) -> Counter[str]:
    with sqlite3.connect(path) as db:
        return Counter(dict(db.execute("SELECT state, COUNT(*) FROM rows GROUP BY state").fetchall()))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def server() -> Iterator[tuple[LoftyEmulator, str]]:
    emulator = LoftyEmulator(api_keys=[KEY], rate_limit=FixedWindowRateLimit(limit=10**9))
    with ThreadedServer(emulator.app) as running:
        yield emulator, running.url


def test_a_wrong_key_stops_after_a_few_401s_and_the_rest_stay_pending(
    tmp_path: Path, server: tuple[LoftyEmulator, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "tasks.csv"
    write_rows(source, 200)
    emulator, url = server
    monkeypatch.setenv("LOFTY_API_KEY", "a-wrong-key")
    run = CliRunner().invoke(
        main, ["tasks", "import", str(source), "--base-url", url, "--no-progress", "--concurrency", "2"]
    )
    assert run.exit_code == 1
    assert "the API refused the credential" in run.output and "a-wrong-key" not in run.output
    sent = emulator.core.count("POST", "/v2.0/tasks")
    assert 3 <= sent <= 3 + 2  # the streak, plus what was in flight when it ended
    rows = results(tmp_path / "tasks.csv.results.csv")
    failed = [r for r in rows if r["status"] == "failed"]
    assert len(failed) == sent and all("401" in r["error"] or "credential" in r["error"].lower() for r in failed)
    untried = [r for r in rows if r["status"] == "skipped"]
    assert len(untried) == 200 - sent and all(r["error"].startswith("not tried") for r in untried)
    port = url.rsplit(":", 1)[1]
    journal = tmp_path / f"tasks.csv.127.0.0.1_{port}.journal.sqlite"
    assert journal_states(journal) == {"failed": sent}  # untried rows are not in the journal: pending

    # With the right key, the same command finishes the job: every row once. (The journal holds
    # only failures, which created nothing, so the new credential may take it over.)
    monkeypatch.setenv("LOFTY_API_KEY", KEY)
    fixed = CliRunner().invoke(main, ["tasks", "import", str(source), "--base-url", url, "--no-progress"])
    assert fixed.exit_code == 0, fixed.output
    assert len(emulator.tasks) == 200 and journal_states(journal) == {"created": 200}


def test_an_unreachable_api_pauses_then_stops_with_rows_pending(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "tasks.csv"
    write_rows(source, 200)
    monkeypatch.setenv("LOFTY_API_KEY", KEY)
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    started = time.monotonic()
    run = CliRunner().invoke(
        main,
        [
            "tasks",
            "import",
            str(source),
            "--base-url",
            url,
            "--no-progress",
            "--retries",
            "0",
            "--unreachable-wait",
            "1.5",
        ],
    )
    elapsed = time.monotonic() - started
    assert run.exit_code == 1
    assert "could not be reached" in run.output and "stay pending" in run.output
    assert elapsed >= 1.5  # it paused before giving up
    rows = results(tmp_path / "tasks.csv.results.csv")
    assert not [r for r in rows if r["status"] == "failed"]  # not 200 rows failed in a second
    assert len(rows) == 200 and all(r["error"].startswith("not tried") for r in rows)
    journal = next(tmp_path.glob("tasks.csv.127.0.0.1_*.journal.sqlite"))
    states = journal_states(journal)
    assert set(states) <= {"sending"} and sum(states.values()) <= 10  # at most the rows in flight


def test_an_api_that_comes_back_during_the_pause_finishes_the_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "tasks.csv"
    write_rows(source, 40)
    monkeypatch.setenv("LOFTY_API_KEY", KEY)
    port = free_port()
    emulator = LoftyEmulator(api_keys=[KEY], rate_limit=FixedWindowRateLimit(limit=10**9))
    server = ThreadedServer(emulator.app, port=port)
    timer = threading.Timer(1.0, server.start)
    timer.start()
    try:
        run = CliRunner().invoke(
            main,
            [
                "tasks",
                "import",
                str(source),
                "--base-url",
                f"http://127.0.0.1:{port}",
                "--no-progress",
                "--retries",
                "0",
                "--unreachable-wait",
                "30",
            ],
        )
    finally:
        timer.join()
        server.stop()
    assert run.exit_code == 0, run.output
    assert "40 rows: 40 created" in run.output
    assert Counter(t["content"] for t in emulator.tasks.values()) == Counter(f"Row {i}" for i in range(40))
