"""The import's journal belongs to its destination (sandbox, server, credential).

A user runs the README's command in the sandbox, then the same file against another server with
``--base-url``: every row must be created there too, exactly once, and a journal of another
destination must never be taken for this one.
"""

from __future__ import annotations

import csv
import json
import shutil
import sqlite3
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from crm_core.emulator import FixedWindowRateLimit, ThreadedServer
from lofty_async._cli import main as lofty_main
from lofty_async.testing import LoftyEmulator
from superfone_async._cli import main as superfone_main
from superfone_async.testing import SuperfoneEmulator

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SECOND_KEY = "second-server-key"
FAST = ("--no-progress", "--sandbox-rate-limit", "off")


def no_limit() -> FixedWindowRateLimit:
    return FixedWindowRateLimit(limit=10**9)


@pytest.fixture
def lofty_server() -> Iterator[tuple[LoftyEmulator, str]]:
    emulator = LoftyEmulator(api_keys=[SECOND_KEY], rate_limit=no_limit())
    with ThreadedServer(emulator.app) as server:
        yield emulator, server.url


@pytest.fixture
def superfone_server() -> Iterator[tuple[SuperfoneEmulator, str]]:
    emulator = SuperfoneEmulator(api_keys=[SECOND_KEY])
    with ThreadedServer(emulator.app) as server:
        yield emulator, server.url


def journal_states(path: Path) -> Counter[str]:
    with sqlite3.connect(path) as db:
        return Counter(dict(db.execute("SELECT state, COUNT(*) FROM rows GROUP BY state").fetchall()))


def journal_destination(path: Path) -> dict[str, object]:
    with sqlite3.connect(path) as db:
        (value,) = db.execute("SELECT value FROM meta WHERE key = 'destination'").fetchone()
    return dict(json.loads(value))


def csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_sandbox_run_then_another_server_creates_every_row_there_exactly_once(
    tmp_path: Path, lofty_server: tuple[LoftyEmulator, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "lofty_tasks.csv"
    shutil.copy(EXAMPLES / "lofty_tasks.csv", source)
    # The README's command, as a new user runs it (without the sandbox's 500/60 pacing, for speed).
    first = CliRunner().invoke(lofty_main, ["tasks", "import", str(source), "--sandbox", *FAST])
    assert first.exit_code == 0, first.output
    assert "520 rows: 520 created" in first.output and "destination: the sandbox" in first.output
    sandbox_journal = tmp_path / "lofty_tasks.csv.sandbox.journal.sqlite"
    assert journal_states(sandbox_journal) == {"created": 520}

    emulator, url = lofty_server
    monkeypatch.setenv("LOFTY_API_KEY", SECOND_KEY)
    second = CliRunner().invoke(
        lofty_main, ["tasks", "import", str(source), "--base-url", url, "--no-progress"], catch_exceptions=False
    )
    assert second.exit_code == 0, second.output
    assert "520 rows: 520 created, 0 failed, 0 skipped" in second.output
    assert f"destination: {url}" in second.output and "earlier run" not in second.output
    assert emulator.core.count("POST", "/v2.0/tasks") == 520
    wanted = Counter((r["lead_id"], r["content"], r["type"]) for r in csv_rows(source))
    have = Counter((str(t["leadId"]), t["content"], t["type"]) for t in emulator.tasks.values())
    assert have == wanted
    port = url.rsplit(":", 1)[1]
    server_journal = tmp_path / f"lofty_tasks.csv.127.0.0.1_{port}.journal.sqlite"
    assert journal_states(server_journal) == {"created": 520}
    recorded = journal_destination(server_journal)
    assert recorded["base_url"] == url and recorded["sandbox"] is False
    assert SECOND_KEY not in server_journal.read_bytes().decode("latin-1")  # a digest, never the key
    # The sandbox's journal is untouched, and a re-run against the server sends nothing.
    assert journal_states(sandbox_journal) == {"created": 520}
    again = CliRunner().invoke(lofty_main, ["tasks", "import", str(source), "--base-url", url, "--no-progress"])
    assert again.exit_code == 0 and "520 already created by an earlier run" in again.output
    assert emulator.core.count("POST", "/v2.0/tasks") == 520


def test_a_journal_of_another_destination_is_refused_and_nothing_is_sent(
    tmp_path: Path, lofty_server: tuple[LoftyEmulator, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "lofty_tasks.csv"
    shutil.copy(EXAMPLES / "lofty_tasks.csv", source)
    sandbox_journal = tmp_path / "lofty_tasks.csv.sandbox.journal.sqlite"
    assert CliRunner().invoke(lofty_main, ["tasks", "import", str(source), "--sandbox", *FAST]).exit_code == 0
    emulator, url = lofty_server
    monkeypatch.setenv("LOFTY_API_KEY", SECOND_KEY)
    run = CliRunner().invoke(
        lofty_main,
        ["tasks", "import", str(source), "--base-url", url, "--journal", str(sandbox_journal), "--no-progress"],
    )
    assert run.exit_code == 2
    message = run.output.strip().splitlines()[-1]
    assert message.startswith("Error: ") and "the sandbox" in message and url in message
    assert "--fresh" in message and "--journal" in message and "nothing was sent" in message
    assert len(emulator.core.requests) == 0
    assert journal_states(sandbox_journal) == {"created": 520}
    # The way out the message names: --fresh starts that journal over for this destination.
    fresh = CliRunner().invoke(
        lofty_main,
        ["tasks", "import", str(source), "--base-url", url, "--journal", str(sandbox_journal), "--fresh"],
    )
    assert fresh.exit_code == 0, fresh.output
    assert emulator.core.count("POST", "/v2.0/tasks") == 520
    assert journal_destination(sandbox_journal)["base_url"] == url


def test_same_server_another_credential_is_another_destination(
    tmp_path: Path, lofty_server: tuple[LoftyEmulator, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "few.csv"
    source.write_text(
        "type,content,lead_id,assigned_role,end_at\nCall,One,563172647619608,Agent,2027-02-01T10:00:00-08:00\n",
        encoding="utf-8",
    )
    emulator, url = lofty_server
    emulator.api_keys.add("other-account-key")
    monkeypatch.setenv("LOFTY_API_KEY", SECOND_KEY)
    assert CliRunner().invoke(lofty_main, ["tasks", "import", str(source), "--base-url", url]).exit_code == 0
    monkeypatch.setenv("LOFTY_API_KEY", "other-account-key")
    run = CliRunner().invoke(lofty_main, ["tasks", "import", str(source), "--base-url", url])
    assert run.exit_code == 2 and "credential" in run.output and "--fresh" in run.output
    assert "other-account-key" not in run.output and SECOND_KEY not in run.output
    assert emulator.core.count("POST", "/v2.0/tasks") == 1


def test_a_journal_from_before_destinations_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "few.csv"
    source.write_text(
        "type,content,lead_id,assigned_role,end_at\nCall,One,563172647619608,Agent,2027-02-01T10:00:00-08:00\n",
        encoding="utf-8",
    )
    old = tmp_path / "old.journal.sqlite"
    with sqlite3.connect(old) as db:
        db.executescript(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
            "CREATE TABLE rows (row_number INTEGER PRIMARY KEY, fingerprint TEXT NOT NULL, state TEXT NOT NULL,"
            " record_id TEXT, error TEXT, sent_at REAL);"
        )
        db.execute("INSERT INTO meta VALUES ('job', ?)", (f"lofty tasks:{source.resolve()}",))
        db.execute("INSERT INTO rows VALUES (1, 'x', 'created', '5', NULL, NULL)")
    run = CliRunner().invoke(lofty_main, ["tasks", "import", str(source), "--sandbox", "--journal", str(old)])
    assert run.exit_code == 2 and "unrecorded destination" in run.output
    assert not (tmp_path / "few.csv.results.csv").exists()  # refused before anything was sent or written


def test_superfone_sandbox_then_another_server_in_file_order(
    tmp_path: Path, superfone_server: tuple[SuperfoneEmulator, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "superfone_tasks.csv"
    shutil.copy(EXAMPLES / "superfone_tasks.csv", source)
    first = CliRunner().invoke(
        superfone_main, ["tasks", "import", str(source), "--sandbox", *FAST, "--rate-limit", "off"]
    )
    assert first.exit_code == 0, first.output
    emulator, url = superfone_server
    monkeypatch.setenv("SUPERFONE_API_KEY", SECOND_KEY)
    second = CliRunner().invoke(
        superfone_main, ["tasks", "import", str(source), "--base-url", url, "--no-progress", "--rate-limit", "off"]
    )
    assert second.exit_code == 0, second.output
    rows = csv_rows(source)
    assert f"{len(rows)} rows: {len(rows)} created" in second.output and f"destination: {url}" in second.output
    assert len(emulator.tasks) == len(rows)
    for lead in {r["lead_id"] for r in rows}:
        sent = [r["type"] for r in rows if r["lead_id"] == lead]
        made = [t["type"] for t in sorted(emulator.lead_tasks(int(lead)), key=lambda t: t["id"])]
        assert made == sent
