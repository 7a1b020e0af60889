"""Bad files and bad usage get exit 2, one line naming the problem, and nothing sent (never a traceback).

Each case runs the command line as a user would, against an emulator on loopback, and checks the
exit status, the message, the emulator's request log and what the journal holds.
"""

from __future__ import annotations

import csv
import os
import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from crm_core.emulator import FixedWindowRateLimit, ThreadedServer
from lofty_async._cli import main as lofty_main
from lofty_async.testing import LoftyEmulator
from superfone_async._cli import main as superfone_main
from superfone_async.testing import SuperfoneEmulator

KEY = "bad-input-test-key"
HEADER = "type,content,lead_id,assigned_role,end_at"
ROW = "Call,Call back,563172647619608,Agent,2027-02-01T10:00:00-08:00"


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[LoftyEmulator, str]]:
    monkeypatch.setenv("LOFTY_API_KEY", KEY)
    monkeypatch.delenv("LOFTY_ACCESS_TOKEN", raising=False)
    emulator = LoftyEmulator(api_keys=[KEY], rate_limit=FixedWindowRateLimit(limit=10**9))
    with ThreadedServer(emulator.app) as running:
        yield emulator, running.url


def run(url: str, *args: str) -> Result:
    return CliRunner().invoke(lofty_main, ["tasks", "import", *args, "--base-url", url, "--no-progress"])


def assert_refused(result: Result, emulator: LoftyEmulator, *needles: str) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    lines = [line for line in result.output.splitlines() if line.strip()]
    message = lines[-1]
    assert message.startswith("Error"), result.output
    for needle in needles:
        assert needle in result.output, (needle, result.output)
    assert len(emulator.core.requests) == 0  # nothing sent
    return message


def journals(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.journal.sqlite"))


def journal_rows(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT COUNT(*) FROM rows").fetchone()[0])


def test_a_file_that_is_not_utf8_names_line_and_byte(tmp_path: Path, server: tuple[LoftyEmulator, str]) -> None:
    source = tmp_path / "cp1252.csv"
    source.write_bytes(
        f"{HEADER}\n{ROW}\n".encode()
        + "Call,Caf\u00e9 visit,563172647619608,Agent,2027-02-01T10:00:00Z\n".encode("cp1252")
    )
    emulator, url = server
    message = assert_refused(run(url, str(source)), emulator, "not UTF-8", "line 3", "byte 9", "0xE9")
    assert str(source) in message
    assert all(journal_rows(j) == 0 for j in journals(tmp_path))


def test_an_unclosed_quote_past_the_field_limit_says_so(tmp_path: Path, server: tuple[LoftyEmulator, str]) -> None:
    source = tmp_path / "quote.csv"
    long_rest = "\n".join(ROW for _ in range(3000))  # ~170 KB swallowed by the open quote
    source.write_text(
        f'{HEADER}\n{ROW}\nCall,"Unclosed,563172647619608,Agent,2027-02-01T10:00:00Z\n{long_rest}\n', encoding="utf-8"
    )
    emulator, url = server
    assert_refused(run(url, str(source)), emulator, "csv module's limit", "unclosed quote", "starting on line 3")


def test_duplicated_column_names_are_refused(tmp_path: Path, server: tuple[LoftyEmulator, str]) -> None:
    source = tmp_path / "dup.csv"
    source.write_text(f"{HEADER},content\n{ROW},Other text\n", encoding="utf-8")
    emulator, url = server
    assert_refused(run(url, str(source)), emulator, "content", "more than once")


def test_a_row_wider_than_the_header_talks_about_csv_columns(tmp_path: Path, server: tuple[LoftyEmulator, str]) -> None:
    source = tmp_path / "wide.csv"
    source.write_text(
        f"{HEADER}\n{ROW}\nCall,Call back, then email,563172647619608,Agent,2027-02-01T10:00:00Z\n", encoding="utf-8"
    )
    emulator, url = server
    message = assert_refused(run(url, str(source)), emulator, "line 3", "6 values", "5 CSV columns")
    assert "JSON" not in message


def test_lead_ids_with_separators_or_non_ascii_digits_fail_per_row(
    tmp_path: Path, server: tuple[LoftyEmulator, str]
) -> None:
    source = tmp_path / "ids.csv"
    source.write_text(
        f"{HEADER}\n{ROW}\nCall,Underscored,563_172_647_619_608,Agent,2027-02-01T10:00:00Z\n"
        "Call,Arabic-Indic,\u0665\u0666\u0663,Agent,2027-02-01T10:00:00Z\n"
        "Call,Fullwidth,\uff15\uff16\uff13,Agent,2027-02-01T10:00:00Z\n",
        encoding="utf-8",
    )
    emulator, url = server
    result = run(url, str(source))
    assert result.exit_code == 1 and "4 rows: 1 created, 3 failed" in result.output
    with (tmp_path / "ids.csv.results.csv").open(encoding="utf-8") as handle:
        by_row = {int(r["row"]): r for r in csv.DictReader(handle)}
    for number in (2, 3, 4):
        assert by_row[number]["status"] == "failed" and by_row[number]["field"] == "lead_id"
        assert "digits 0-9" in by_row[number]["error"]
    assert emulator.core.count("POST", "/v2.0/tasks") == 1
    assert all(t["leadId"] == 563172647619608 for t in emulator.tasks.values())


@pytest.mark.parametrize(
    ("option", "value", "needle"),
    [
        ("--rate-limit", "5/0", "greater than 0"),
        ("--rate-limit", "-5/60", "greater than 0"),
        ("--rate-limit", "5/-1", "greater than 0"),
        ("--rate-limit", "fast", "REQUESTS/SECONDS"),
        ("--shard", "4/3", "1 <= I <= N"),
        ("--shard", "0/3", "1 <= I <= N"),
    ],
)
def test_bad_option_values_are_usage_errors(
    tmp_path: Path, server: tuple[LoftyEmulator, str], option: str, value: str, needle: str
) -> None:
    source = tmp_path / "ok.csv"
    source.write_text(f"{HEADER}\n{ROW}\n", encoding="utf-8")
    emulator, url = server
    assert_refused(run(url, str(source), option, value), emulator, option, needle)
    assert journals(tmp_path) == []


@pytest.mark.parametrize("value", ["5/0", "-1/60", "0.5/1"])
def test_sandbox_rate_limit_zero_window_is_a_usage_error(tmp_path: Path, value: str) -> None:
    source = tmp_path / "ok.csv"
    source.write_text(f"{HEADER}\n{ROW}\n", encoding="utf-8")
    result = CliRunner().invoke(
        lofty_main, ["tasks", "import", str(source), "--sandbox", "--sandbox-rate-limit", value]
    )
    assert result.exit_code == 2 and "--sandbox-rate-limit" in result.output
    assert "Traceback" not in result.output and "ZeroDivisionError" not in result.output
    assert not (tmp_path / "ok.csv.sandbox-state.jsonl").exists()
    served = CliRunner().invoke(lofty_main, ["sandbox", "--port", "0", "--rate-limit", value])
    assert served.exit_code == 2 and "--rate-limit" in served.output


@pytest.mark.parametrize("option", ["--results", "--journal"])
def test_an_output_under_a_missing_folder_is_a_usage_error(
    tmp_path: Path, server: tuple[LoftyEmulator, str], option: str
) -> None:
    source = tmp_path / "ok.csv"
    source.write_text(f"{HEADER}\n{ROW}\n", encoding="utf-8")
    emulator, url = server
    missing = tmp_path / "no" / "such" / "out.file"
    assert_refused(run(url, str(source), option, str(missing)), emulator, option, "does not exist")


def test_sandbox_on_a_port_in_use_is_a_usage_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(lofty_main, ["sandbox", "--port", str(port)])
    assert result.exit_code == 2 and f"port {port}" in result.output and "already in use" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("secret", [f"{KEY}\nX-Injected: 1", f"{KEY}\rX", "bad\x1bkey", "bad\tkey"])
def test_a_credential_with_control_characters_is_refused_before_sending(
    tmp_path: Path, server: tuple[LoftyEmulator, str], monkeypatch: pytest.MonkeyPatch, secret: str
) -> None:
    source = tmp_path / "ok.csv"
    source.write_text(f"{HEADER}\n{ROW}\n", encoding="utf-8")
    emulator, url = server
    monkeypatch.setenv("LOFTY_API_KEY", secret)
    message = assert_refused(run(url, str(source)), emulator, "LOFTY_API_KEY", "control character")
    assert KEY not in message and "bad" not in message
    assert journals(tmp_path) == []


def test_surrounding_whitespace_in_a_credential_is_stripped_the_same_way_by_both_clis(
    tmp_path: Path, server: tuple[LoftyEmulator, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "ok.csv"
    source.write_text(f"{HEADER}\n{ROW}\n", encoding="utf-8")
    emulator, url = server
    monkeypatch.setenv("LOFTY_API_KEY", f"  {KEY}\n")
    result = run(url, str(source))
    assert result.exit_code == 0, result.output
    assert "removed surrounding whitespace from LOFTY_API_KEY" in result.output
    assert emulator.core.count("POST", "/v2.0/tasks") == 1

    superfone = SuperfoneEmulator(api_keys=[KEY])
    sf_source = tmp_path / "sf.csv"
    sf_source.write_text("lead_id,type,due_date\n12345,FIRST_CALL,2028-01-15T13:00:00+05:30\n", encoding="utf-8")
    monkeypatch.setenv("SUPERFONE_API_KEY", f"\t{KEY} \n")
    with ThreadedServer(superfone.app) as running:
        sf = CliRunner().invoke(
            superfone_main, ["tasks", "import", str(sf_source), "--base-url", running.url, "--no-progress"]
        )
    assert sf.exit_code == 0, sf.output
    assert "removed surrounding whitespace from SUPERFONE_API_KEY" in sf.output
    assert len(superfone.tasks) == 1


def test_a_journal_that_is_not_sqlite_is_a_usage_error(tmp_path: Path, server: tuple[LoftyEmulator, str]) -> None:
    source = tmp_path / "ok.csv"
    source.write_text(f"{HEADER}\n{ROW}\n", encoding="utf-8")
    emulator, url = server
    not_sqlite = tmp_path / "notes.txt"
    not_sqlite.write_text("these are my notes, not a journal\n" * 100, encoding="utf-8")
    assert_refused(run(url, str(source), "--journal", str(not_sqlite)), emulator, "cannot use it as the journal")
    assert not_sqlite.read_text(encoding="utf-8").startswith("these are my notes")


def test_an_unwritable_results_file_is_a_usage_error(tmp_path: Path, server: tuple[LoftyEmulator, str]) -> None:
    source = tmp_path / "ok.csv"
    source.write_text(f"{HEADER}\n{ROW}\n", encoding="utf-8")
    emulator, url = server
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        result = run(url, str(source), "--results", str(locked / "out.csv"))
    finally:
        locked.chmod(0o700)
    if result.exit_code == 0:  # running as root: permissions do not apply
        pytest.skip("the test runs with permissions that ignore the folder's mode")
    assert_refused(result, emulator, "cannot read", "out.csv")


@pytest.mark.parametrize(
    ("options", "refused"),
    [
        (["--results", "{input}"], "--results"),
        (["--fresh", "--journal", "{input}"], "--journal"),
        (["--results", "{journal}"], "--journal"),
        (["--results", "{journal}-wal"], "--journal"),
    ],
)
def test_outputs_that_would_overwrite_the_input_or_each_other_are_refused(
    tmp_path: Path, server: tuple[LoftyEmulator, str], options: list[str], refused: str
) -> None:
    emulator, url = server
    source = tmp_path / "tasks.csv"
    source.write_text(f"{HEADER}\n{ROW}\n", encoding="utf-8")
    journal = tmp_path / "mine.journal.sqlite"
    args = [o.format(input=source, journal=journal) for o in options]
    if "--journal" not in args:
        args += ["--journal", str(journal)]
    message = assert_refused(run(url, str(source), *args), emulator, refused)
    assert "nothing was touched" in message
    assert source.read_text(encoding="utf-8") == f"{HEADER}\n{ROW}\n"


def test_the_sandbox_state_cannot_be_the_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "tasks.csv"
    source.write_text(f"{HEADER}\n{ROW}\n", encoding="utf-8")
    result = CliRunner().invoke(
        lofty_main, ["tasks", "import", str(source), "--sandbox", "--fresh", "--sandbox-state", str(source)]
    )
    assert result.exit_code == 2 and "--sandbox-state" in result.output and "the input file" in result.output
    assert source.read_text(encoding="utf-8") == f"{HEADER}\n{ROW}\n"


def test_fresh_does_not_pull_the_journal_from_under_a_running_job(
    tmp_path: Path, server: tuple[LoftyEmulator, str]
) -> None:
    from crm_core import Journal

    emulator, url = server
    source = tmp_path / "tasks.csv"
    source.write_text(f"{HEADER}\n{ROW}\n", encoding="utf-8")
    journal = tmp_path / "mine.journal.sqlite"
    running = Journal(journal, job="another run of this job")  # holds the journal's lock
    try:
        assert_refused(run(url, str(source), "--journal", str(journal), "--fresh"), emulator, "in use by another run")
        assert journal.exists()
    finally:
        running.close()


def test_a_hard_link_to_the_input_is_the_input(tmp_path: Path, server: tuple[LoftyEmulator, str]) -> None:
    emulator, url = server
    source = tmp_path / "tasks.csv"
    source.write_text(f"{HEADER}\n{ROW}\n", encoding="utf-8")
    link = tmp_path / "results.csv"
    os.link(source, link)
    assert_refused(run(url, str(source), "--results", str(link)), emulator, "--results", "the input file")
    assert source.read_text(encoding="utf-8") == f"{HEADER}\n{ROW}\n"
