"""The ``lofty-async tasks import`` command end to end, in the sandbox."""

from __future__ import annotations

import csv
import shutil
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from lofty_async._cli import main
from lofty_async.testing import LoftyEmulator

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def results(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def row_key(row: dict[str, str]) -> tuple[str, str, str]:
    return row["lead_id"], row["content"], row["type"]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    for name in ("lofty_tasks.csv", "lofty_tasks_bad_rows.csv"):
        shutil.copy(EXAMPLES / name, tmp_path / name)
    return tmp_path


def test_example_file_imports_every_row_exactly_once(workdir: Path) -> None:
    source = workdir / "lofty_tasks.csv"
    run = CliRunner().invoke(
        main, ["tasks", "import", str(source), "--sandbox", "--no-progress", "--sandbox-rate-limit", "off"]
    )
    assert run.exit_code == 0, run.output
    assert "520 rows: 520 created, 0 failed" in run.output
    rows = results(workdir / "lofty_tasks.csv.results.csv")
    assert len(rows) == 520 and {r["status"] for r in rows} == {"created"}
    assert len({r["task_id"] for r in rows}) == 520
    # The sandbox's persisted state holds every row once.
    state = LoftyEmulator(state_path=workdir / "lofty_tasks.csv.sandbox-state.jsonl")
    with source.open(encoding="utf-8") as handle:
        wanted = Counter(row_key(r) for r in csv.DictReader(handle))
    have = Counter((str(t["leadId"]), t["content"], t["type"]) for t in state.tasks.values())
    assert have == wanted

    again = CliRunner().invoke(
        main, ["tasks", "import", str(source), "--sandbox", "--no-progress", "--sandbox-rate-limit", "off"]
    )
    assert again.exit_code == 0
    assert "520 already created by an earlier run" in again.output
    assert len(LoftyEmulator(state_path=workdir / "lofty_tasks.csv.sandbox-state.jsonl").tasks) == 520


def test_bad_rows_are_reported_with_row_number_and_field_and_the_rest_go_on(workdir: Path) -> None:
    source = workdir / "lofty_tasks_bad_rows.csv"
    run = CliRunner().invoke(main, ["tasks", "import", str(source), "--sandbox", "--no-progress"])
    assert run.exit_code == 1
    by_row = {int(r["row"]): r for r in results(workdir / "lofty_tasks_bad_rows.csv.results.csv")}
    assert sorted(by_row) == list(range(1, 12))
    created = sorted(n for n, r in by_row.items() if r["status"] == "created")
    assert created == [1, 4, 11]
    expected_fields = {
        2: "type",
        3: "content",
        5: "lead_id",
        6: "end_at",
        7: "end_at",
        8: "time_zone_code",
        9: "assigned_role",
    }
    for number, field in expected_fields.items():
        assert by_row[number]["status"] == "failed" and by_row[number]["field"] == field, by_row[number]
    assert "20017" in by_row[10]["error"]  # refused by the server: unknown lead


def test_unknown_column_is_an_error_before_anything_is_sent(tmp_path: Path) -> None:
    source = tmp_path / "tasks.csv"
    source.write_text("type,content,lead_id,colour\nCall,x,1,red\n", encoding="utf-8")
    run = CliRunner().invoke(main, ["tasks", "import", str(source), "--sandbox", "--no-progress"])
    assert run.exit_code == 2
    assert "unknown column(s) colour" in run.output


def test_jsonl_input_and_real_api_needs_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "tasks.jsonl"
    source.write_text(
        '{"type": "Call", "content": "x", "lead_id": 563172647619608, "assigned_role": "Agent",'
        ' "end_at": "2027-01-01T10:00:00+00:00"}\n{not json}\n',
        encoding="utf-8",
    )
    run = CliRunner().invoke(main, ["tasks", "import", str(source), "--sandbox", "--no-progress"])
    assert run.exit_code == 1 and "1 created, 1 failed" in run.output
    monkeypatch.delenv("LOFTY_API_KEY", raising=False)
    monkeypatch.delenv("LOFTY_ACCESS_TOKEN", raising=False)
    run = CliRunner().invoke(main, ["tasks", "import", str(source), "--no-progress"])
    assert run.exit_code == 2 and "LOFTY_API_KEY" in run.output


def test_import_tunes_the_collector_for_its_run_and_restores_it(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gc

    import crm_core._importjob as importjob

    seen: list[tuple[tuple[int, ...], int]] = []
    real = importjob.run_import

    async def spying(**kwargs: object) -> object:
        seen.append((gc.get_threshold(), gc.get_freeze_count()))
        return await real(**kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("crm_core._cli_import.run_import", spying)
    before = (gc.get_threshold(), gc.get_freeze_count())
    source = workdir / "lofty_tasks.csv"
    run = CliRunner().invoke(
        main, ["tasks", "import", str(source), "--sandbox", "--no-progress", "--sandbox-rate-limit", "off"]
    )
    assert run.exit_code == 0, run.output
    ((threshold, frozen),) = seen
    assert threshold[0] == 20_000 and frozen > 0  # during the job: rare young collections, setup frozen
    assert (gc.get_threshold(), gc.get_freeze_count()) == before  # afterwards: as it was
