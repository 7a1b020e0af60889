"""Cases an independent tester found through the command line (issue 9), kept as regressions.

- Two runs of one job at once must not both send the rows: the journal is locked.
- A quote never closed in a small file must not swallow the rows after it silently.
- A wrong key at a high concurrency costs a few requests, not one per slot.
- ``+563`` is not a lead ID written "with the digits 0-9 only".
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from crm_core._journal import Journal, JournalLockedError
from crm_core.emulator import FixedWindowRateLimit, ThreadedServer
from lofty_async._cli import main as lofty_main
from lofty_async.testing import LoftyEmulator
from superfone_async._cli import main as superfone_main
from superfone_async.testing import SuperfoneEmulator

KEY = "tester-findings-key"
LEAD = 563172647619608


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[LoftyEmulator, str]]:
    monkeypatch.setenv("LOFTY_API_KEY", KEY)
    monkeypatch.delenv("LOFTY_ACCESS_TOKEN", raising=False)
    emulator = LoftyEmulator(api_keys=[KEY], rate_limit=FixedWindowRateLimit(limit=10**9))
    with ThreadedServer(emulator.app) as running:
        yield emulator, running.url


def write_rows(path: Path, count: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["type", "content", "lead_id", "assigned_role", "end_at"])
        for i in range(count):
            writer.writerow(["Call", f"Row {i}", LEAD, "Agent", "2027-02-01T10:00:00-08:00"])


def test_a_journal_in_use_by_another_run_is_refused_and_nothing_is_sent(
    tmp_path: Path, server: tuple[LoftyEmulator, str]
) -> None:
    emulator, url = server
    source = tmp_path / "tasks.csv"
    write_rows(source, 5)
    journal = tmp_path / "shared.journal.sqlite"
    holder = Journal(journal, job="someone else's run")  # another run has it open
    try:
        with pytest.raises(JournalLockedError):
            Journal(journal, job="x")
        result = CliRunner().invoke(
            lofty_main,
            ["tasks", "import", str(source), "--base-url", url, "--journal", str(journal), "--no-progress"],
        )
    finally:
        holder.close()
    assert result.exit_code == 2, result.output
    assert "in use by another run" in result.output and "Traceback" not in result.output
    assert emulator.core.count("POST", "/v2.0/tasks") == 0
    # Once the other run is gone (its lock goes with its process, even after kill -9), it runs.
    again = CliRunner().invoke(
        lofty_main, ["tasks", "import", str(source), "--base-url", url, "--journal", str(journal), "--no-progress"]
    )
    assert again.exit_code == 2 and "another job" in again.output  # the holder's journal is for another job


@pytest.mark.parametrize("sdk", ["lofty", "superfone"])
def test_a_quote_never_closed_in_a_small_file_is_refused(
    tmp_path: Path, server: tuple[LoftyEmulator, str], monkeypatch: pytest.MonkeyPatch, sdk: str
) -> None:
    emulator, url = server
    source = tmp_path / "unclosed.csv"
    if sdk == "lofty":
        source.write_text(
            "type,content,lead_id,assigned_role,end_at\n"
            f"Call,Fine,{LEAD},Agent,2027-02-01T10:00:00Z\n"
            f'Call,"Unclosed,{LEAD},Agent,2027-02-01T10:00:00Z\n'
            + "".join(f"Call,Row {i},{LEAD},Agent,2027-02-01T10:00:00Z\n" for i in range(4)),
            encoding="utf-8",
        )
        result = CliRunner().invoke(lofty_main, ["tasks", "import", str(source), "--base-url", url, "--no-progress"])
        sent = emulator.core.count("POST", "/v2.0/tasks")
    else:
        monkeypatch.setenv("SUPERFONE_API_KEY", KEY)
        superfone = SuperfoneEmulator(api_keys=[KEY])
        source.write_text(
            "lead_id,type,due_date\n12400,REMINDER,2027-06-01T09:00:00Z\n"
            '12400,REMINDER,"2027-06-02T09:00:00Z\n'
            + "".join(f"12400,REMINDER,2027-06-0{i + 3}T09:00:00Z\n" for i in range(4)),
            encoding="utf-8",
        )
        with ThreadedServer(superfone.app) as running:
            result = CliRunner().invoke(
                superfone_main, ["tasks", "import", str(source), "--base-url", running.url, "--no-progress"]
            )
        sent = len(superfone.core.requests)
    assert result.exit_code == 2, result.output
    last = [line for line in result.output.splitlines() if line.strip()][-1]
    assert "never closed" in last and "line 3" in last, result.output
    assert sent == 0


def test_a_wrong_key_at_high_concurrency_costs_a_few_requests(
    tmp_path: Path, server: tuple[LoftyEmulator, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator, url = server
    source = tmp_path / "tasks.csv"
    write_rows(source, 300)
    monkeypatch.setenv("LOFTY_API_KEY", "a-wrong-key")
    result = CliRunner().invoke(
        lofty_main, ["tasks", "import", str(source), "--base-url", url, "--no-progress", "--concurrency", "100"]
    )
    assert result.exit_code == 1 and "refused the credential" in result.output
    assert emulator.core.count("POST", "/v2.0/tasks") == 3  # the streak; the other rows waited for it


def test_a_signed_lead_id_is_a_row_error(tmp_path: Path, server: tuple[LoftyEmulator, str]) -> None:
    emulator, url = server
    source = tmp_path / "signed.csv"
    source.write_text(
        "type,content,lead_id,assigned_role,end_at\n"
        f"Call,Plus,+{LEAD},Agent,2027-02-01T10:00:00Z\n"
        f"Call,Spaces, {LEAD} ,Agent,2027-02-01T10:00:00Z\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(lofty_main, ["tasks", "import", str(source), "--base-url", url, "--no-progress"])
    assert result.exit_code == 1, result.output
    with (tmp_path / "signed.csv.results.csv").open(encoding="utf-8") as handle:
        rows = {r["row"]: r for r in csv.DictReader(handle)}
    assert rows["1"]["status"] == "failed" and rows["1"]["field"] == "lead_id"
    assert rows["2"]["status"] == "created"  # spaces around a value are dropped
    assert emulator.core.count("POST", "/v2.0/tasks") == 1
