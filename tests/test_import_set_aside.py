"""Ambiguous rows are set aside, the others go on, and the set-aside rows are re-checked before the end.

A create whose outcome stays unknown (the response was lost and the look-up failed too) is journaled
"maybe" instead of failing at once; once its settle period has passed it is looked up again and
re-sent only if absent, so one slow write neither stalls the job nor makes a duplicate.
"""

from __future__ import annotations

import csv
import sqlite3
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from crm_core.emulator import FaultKind, FaultPlan, FixedWindowRateLimit, ThreadedServer
from lofty_async._cli import main as lofty_main
from lofty_async.testing import LoftyEmulator
from superfone_async._cli import main as superfone_main
from superfone_async.testing import SuperfoneEmulator

KEY = "set-aside-key"
LEAD = 563172647619608


def write_rows(path: Path, count: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["type", "content", "lead_id", "assigned_role", "end_at"])
        for i in range(count):
            writer.writerow(["Call", f"Row {i}", LEAD, "Agent", "2027-02-01T10:00:00-08:00"])


def journal_states(path: Path) -> Counter[str]:
    with sqlite3.connect(path) as db:
        return Counter(dict(db.execute("SELECT state, COUNT(*) FROM rows GROUP BY state").fetchall()))


@pytest.fixture
def lofty(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[LoftyEmulator, str]]:
    monkeypatch.setenv("LOFTY_API_KEY", KEY)
    monkeypatch.delenv("LOFTY_ACCESS_TOKEN", raising=False)
    emulator = LoftyEmulator(api_keys=[KEY], rate_limit=FixedWindowRateLimit(limit=10**9))
    with ThreadedServer(emulator.app) as running:
        yield emulator, running.url


ARGS = ["--no-progress", "--retries", "0", "--timeout", "0.5", "--concurrency", "4"]


def _import_with_a_lost_response(emulator: LoftyEmulator, source: Path, url: str, *, failed_lookups: int) -> Result:
    """Import ``source`` with the first create landing but its response lost, and the next
    ``failed_lookups`` look-ups answering 500."""
    emulator.core.faults = (
        FaultPlan()
        .add(FaultKind.RESET_AFTER, route="POST /v2.0/tasks", times=1)
        .add(FaultKind.ERROR_500, route="GET /v2.0/tasks", times=failed_lookups)
    )
    return CliRunner().invoke(lofty_main, ["tasks", "import", str(source), "--base-url", url, *ARGS])


def test_an_ambiguous_row_is_set_aside_and_rechecked_after_the_others(
    tmp_path: Path, lofty: tuple[LoftyEmulator, str]
) -> None:
    source = tmp_path / "tasks.csv"
    write_rows(source, 30)
    emulator, url = lofty
    # The first create lands but its response is lost; the look-up that follows fails too.
    run = _import_with_a_lost_response(emulator, source, url, failed_lookups=1)
    assert run.exit_code == 0, run.output
    assert "30 rows: 30 created, 0 failed" in run.output
    assert Counter(t["content"] for t in emulator.tasks.values()) == Counter(f"Row {i}" for i in range(30))
    log = [(r.method, r.path) for r in emulator.core.requests]
    assert log.count(("POST", "/v2.0/tasks")) == 30  # the set-aside row was found, not re-sent
    # The re-check came after every other row was sent: the job did not stall on it.
    assert log[-1] == ("GET", "/v2.0/tasks") and log.index(("GET", "/v2.0/tasks")) < len(log) - 1
    assert max(i for i, entry in enumerate(log) if entry[0] == "POST") < len(log) - 1
    journal = next(tmp_path.glob("tasks.csv.127.0.0.1_*.journal.sqlite"))
    assert journal_states(journal) == {"created": 30}


def test_a_row_that_stays_ambiguous_is_journaled_maybe_and_the_rerun_finds_it(
    tmp_path: Path, lofty: tuple[LoftyEmulator, str]
) -> None:
    source = tmp_path / "tasks.csv"
    write_rows(source, 10)
    emulator, url = lofty
    run = _import_with_a_lost_response(emulator, source, url, failed_lookups=1000)  # no re-check can tell either
    assert run.exit_code == 1
    assert "10 rows: 9 created, 1 failed" in run.output
    journal = next(tmp_path.glob("tasks.csv.127.0.0.1_*.journal.sqlite"))
    assert journal_states(journal) == {"created": 9, "maybe": 1}
    with (tmp_path / "tasks.csv.results.csv").open(encoding="utf-8") as handle:
        failed = [r for r in csv.DictReader(handle) if r["status"] == "failed"]
    assert len(failed) == 1 and "may have landed" in failed[0]["error"]
    assert len(emulator.tasks) == 10  # it did land, and nothing was re-sent blindly

    emulator.core.faults = FaultPlan()
    again = CliRunner().invoke(lofty_main, ["tasks", "import", str(source), "--base-url", url, *ARGS])
    assert again.exit_code == 0, again.output
    assert len(emulator.tasks) == 10 and emulator.core.count("POST", "/v2.0/tasks") == 10
    assert journal_states(journal) == {"created": 10}


def test_a_row_still_ambiguous_at_its_first_recheck_is_rechecked_again_in_the_same_run(
    tmp_path: Path, lofty: tuple[LoftyEmulator, str]
) -> None:
    # Tester finding: with server faults, a set-aside row whose re-check was ambiguous again
    # ended failed; it is now re-checked (looked up, re-sent only if absent) up to RECHECKS times.
    source = tmp_path / "tasks.csv"
    write_rows(source, 10)
    emulator, url = lofty
    run = _import_with_a_lost_response(emulator, source, url, failed_lookups=2)  # the first re-check cannot tell
    assert run.exit_code == 0, run.output
    assert "10 rows: 10 created, 0 failed" in run.output
    assert len(emulator.tasks) == 10 and emulator.core.count("POST", "/v2.0/tasks") == 10  # found, not re-sent
    journal = next(tmp_path.glob("tasks.csv.127.0.0.1_*.journal.sqlite"))
    assert journal_states(journal) == {"created": 10}


def _superfone_rows(path: Path, lead: int) -> list[tuple[str, str]]:
    """Three rows of ``lead`` (file order matters: each non-reminder completes the one before)
    and a row of another lead."""
    rows = [
        ("FIRST_CALL", "2028-03-01T10:00:00Z"),
        ("FOLLOW_UP_CALL", "2028-03-02T10:00:00Z"),
        ("BOOKING", "2028-03-03T10:00:00Z"),
    ]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["lead_id", "type", "due_date"])
        for kind, due in rows:
            writer.writerow([lead, kind, due])
        writer.writerow([12356, "REMINDER", "2028-03-01T10:00:00Z"])
    return rows


def _superfone_lost_response(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lead: int, *, failed_lookups: int
) -> tuple[SuperfoneEmulator, Path, list[tuple[str, str]]]:
    """An emulator whose first create of ``lead`` lands with its response lost and whose next
    ``failed_lookups`` look-ups of the lead answer 500; the input file and its rows of ``lead``."""
    monkeypatch.setenv("SUPERFONE_API_KEY", KEY)
    emulator = SuperfoneEmulator(api_keys=[KEY])
    source = tmp_path / "sf.csv"
    rows = _superfone_rows(source, lead)
    emulator.core.faults = (
        FaultPlan()
        .add(FaultKind.RESET_AFTER, route=f"POST /enterprise/api/lead/{lead}/task", times=1)
        .add(FaultKind.ERROR_500, route=f"GET /enterprise/api/lead/{lead}/task", times=failed_lookups)
    )
    return emulator, source, rows


def test_superfone_an_ambiguous_row_holds_its_lead_and_the_lead_finishes_in_order_in_one_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tester finding: with late commits, every lead stopped at its first ambiguous row (the
    # row set aside, the lead's later rows skipped), so a job needed many re-runs. The row now
    # waits out its settle period in its lead's lane, is looked up again, and the lane goes on.
    lead = 12345
    emulator, source, rows = _superfone_lost_response(tmp_path, monkeypatch, lead, failed_lookups=1)
    with ThreadedServer(emulator.app) as running:
        run = CliRunner().invoke(superfone_main, ["tasks", "import", str(source), "--base-url", running.url, *ARGS])
    assert run.exit_code == 0, run.output
    assert "4 rows: 4 created, 0 failed, 0 skipped" in run.output
    assert emulator.core.count("POST", f"/enterprise/api/lead/{lead}/task") == 3  # row 1 found, not re-sent
    made = [(t["type"], t["due_date"][:19], t["task_status"]) for t in emulator.lead_tasks(lead)]
    assert made == [
        ("FIRST_CALL", "2028-03-01T10:00:00", "COMPLETE"),
        ("FOLLOW_UP_CALL", "2028-03-02T10:00:00", "COMPLETE"),
        ("BOOKING", "2028-03-03T10:00:00", "PENDING"),
    ]
    assert [(kind, due[:19]) for kind, due, _ in made] == [(kind, due[:19]) for kind, due in rows]


def test_superfone_a_row_that_stays_ambiguous_is_set_aside_and_the_rerun_keeps_file_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The look-ups keep failing through the row's three in-lane re-checks: it is set aside, the
    # lead's later rows wait for it ("waits for row 1"), and a re-run creates them in order.
    lead = 12345
    emulator, source, rows = _superfone_lost_response(tmp_path, monkeypatch, lead, failed_lookups=4)
    with ThreadedServer(emulator.app) as running:
        run = CliRunner().invoke(superfone_main, ["tasks", "import", str(source), "--base-url", running.url, *ARGS])
        assert run.exit_code == 1, run.output
        assert "4 rows: 2 created, 0 failed, 2 skipped" in run.output  # row 1 re-checked at the end and found
        assert emulator.core.count("POST", f"/enterprise/api/lead/{lead}/task") == 1
        again = CliRunner().invoke(superfone_main, ["tasks", "import", str(source), "--base-url", running.url, *ARGS])
        assert again.exit_code == 0, again.output
    made = [(t["type"], t["due_date"][:19]) for t in emulator.lead_tasks(lead)]
    assert made == [(kind, due[:19]) for kind, due in rows]


def test_late_commits_are_set_aside_and_rechecked_after_the_settle_period_exactly_once(tmp_path: Path) -> None:
    # The numbers: the server stores a create 2.5 s after it arrives; the client gives up
    # after 1 s. Each such row is set aside (not re-sent at once, not holding its slot), the other
    # rows go on, and the re-check after the settle period (2 x timeout) finds it.
    source = tmp_path / "tasks.csv"
    write_rows(source, 40)
    faults = "late-commit=0.1@POST /v2.0/tasks,late=2.5,seed=4"
    options = ["--sandbox-rate-limit", "off", "--timeout", "1", "--sandbox-faults", faults, "--concurrency", "8"]
    run = CliRunner().invoke(lofty_main, ["tasks", "import", str(source), "--sandbox", "--no-progress", *options])
    assert run.exit_code == 0, run.output
    assert "40 rows: 40 created, 0 failed" in run.output
    assert "late-commit: " in run.output and "late-commit: 0" not in run.output
    emulator = LoftyEmulator(state_path=tmp_path / "tasks.csv.sandbox-state.jsonl")
    assert Counter(t["content"] for t in emulator.tasks.values()) == Counter(f"Row {i}" for i in range(40))
    assert journal_states(tmp_path / "tasks.csv.sandbox.journal.sqlite") == {"created": 40}
