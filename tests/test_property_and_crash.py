"""Exactly once, at random: a hypothesis property test, and an import killed with SIGKILL."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_core import FakeClock, RetryPolicy
from crm_core.emulator import TRANSPORT_FAULTS, FaultKind, FaultPlan, FixedWindowRateLimit
from lofty_async import LoftyClient
from lofty_async.testing import SANDBOX_API_KEY as LOFTY_KEY
from lofty_async.testing import LoftyEmulator, sandbox_lead_ids
from superfone_async import SuperfoneClient
from superfone_async.testing import SANDBOX_API_KEY as SUPERFONE_KEY
from superfone_async.testing import SuperfoneEmulator
from superfone_async.testing import sandbox_lead_ids as superfone_leads

FAULT_KINDS = list(TRANSPORT_FAULTS)  # the server faults (late-commit, bad-id, ...) need the client of issue 8

faults = st.lists(
    st.tuples(st.sampled_from(FAULT_KINDS), st.floats(min_value=0.0, max_value=0.08)),
    min_size=0,
    max_size=5,
)


def plan_from(schedule: list[tuple[FaultKind, float]], seed: int) -> FaultPlan:
    plan = FaultPlan(seed=seed, slow_seconds=0.6, retry_after=0.05)
    for kind, probability in schedule:
        plan.add(kind, probability=probability)
    return plan


lofty_rows = st.lists(
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(["Call", "Email", "Text", "Other", "Appointment", "Meeting"]),
            "content": st.sampled_from(["Call back", "Send comps", "Showing", "Duplicate me"]),
            "lead_id": st.sampled_from(sandbox_lead_ids()[:3]),
            "assigned_role": st.just("Agent"),
            "end_at": st.sampled_from(["2027-01-01T10:00:00+00:00", "2027-01-02T10:00:00-08:00"]),
        }
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schedule=faults, rows=lofty_rows, seed=st.integers(0, 10_000))
def test_lofty_random_faults_random_job_every_good_row_exactly_once(
    schedule: list[tuple[FaultKind, float]], rows: list[dict[str, Any]], seed: int
) -> None:
    good = [r for r in rows if r["type"] != "Meeting"]

    async def run() -> LoftyEmulator:
        emulator = LoftyEmulator(faults=plan_from(schedule, seed), rate_limit=FixedWindowRateLimit(limit=10**9))
        async with (
            emulator.serve() as url,
            LoftyClient(
                api_key=LOFTY_KEY,
                base_url=url,
                timeout=0.3,
                clock=FakeClock(start=time.time()),
                seed=seed,
                retry=RetryPolicy(max_retries=8),
            ) as lofty,
        ):
            summary = await lofty.tasks.create_many(rows, concurrency=4)
        assert summary.failed == len(rows) - len(good)
        return emulator

    emulator = asyncio.run(run())
    have = Counter((t["leadId"], t["content"], t["type"]) for t in emulator.tasks.values())
    assert have == Counter((r["lead_id"], r["content"], r["type"]) for r in good)


superfone_rows = st.lists(
    st.fixed_dictionaries(
        {
            "lead_id": st.sampled_from(superfone_leads()[:3]),
            "type": st.sampled_from(["FOLLOW_UP_CALL", "REMINDER", "SITE_VISIT", "BOOKING", "NOT_A_TYPE"]),
            "due_date": st.sampled_from(["2028-01-01T10:00:00Z", "2028-01-02T10:00:00Z", "2028-01-03T09:00:00Z"]),
        }
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schedule=faults, rows=superfone_rows, seed=st.integers(0, 10_000))
def test_superfone_random_faults_random_job_exactly_once_and_in_order(
    schedule: list[tuple[FaultKind, float]], rows: list[dict[str, Any]], seed: int
) -> None:
    # A lead's rows after its first bad row wait for it (skipped), so the file order holds.
    blocked: set[Any] = set()
    good: list[dict[str, Any]] = []
    for r in rows:
        if r["lead_id"] in blocked:
            continue
        if r["type"] == "NOT_A_TYPE":
            blocked.add(r["lead_id"])
        else:
            good.append(r)

    async def run() -> SuperfoneEmulator:
        emulator = SuperfoneEmulator(faults=plan_from(schedule, seed))
        async with (
            emulator.serve() as url,
            SuperfoneClient(
                api_key=SUPERFONE_KEY,
                base_url=url,
                timeout=0.3,
                clock=FakeClock(start=time.time()),
                seed=seed,
                rate_limit=None,
                retry=RetryPolicy(max_retries=8),
            ) as sf,
        ):
            summary = await sf.tasks.create_many(rows, concurrency=4)
        assert summary.failed == len(blocked)
        assert summary.created == len(good) and summary.skipped == len(rows) - len(good) - len(blocked)
        return emulator

    emulator = asyncio.run(run())
    have = Counter((t["customer_id"], t["type"], t["due_date"][:19]) for t in emulator.tasks.values())
    assert have == Counter((r["lead_id"], r["type"], r["due_date"][:19]) for r in good)
    for lead_id in {r["lead_id"] for r in good}:
        kinds = [r["type"] for r in good if r["lead_id"] == lead_id and r["type"] != "REMINDER"]
        open_ones = [t for t in emulator.open_tasks(lead_id) if t["type"] != "REMINDER"]
        if kinds:
            assert len(open_ones) == 1 and open_ones[0]["type"] == kinds[-1]


def _write_rows(path: Path, count: int) -> list[dict[str, str]]:
    leads = sandbox_lead_ids()
    rows = [
        {
            "type": ["Call", "Email", "Text", "Other"][i % 4],
            "content": f"Crash-test task {i % 40}",  # repeats: identical rows stay distinct writes
            "lead_id": str(leads[i % 7]),
            "assigned_role": "Agent",
            "end_at": "2027-02-01T10:00:00-08:00",
        }
        for i in range(count)
    ]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return rows


def test_import_killed_with_sigkill_then_rerun_ends_exactly_once(tmp_path: Path) -> None:
    source = tmp_path / "tasks.csv"
    rows = _write_rows(source, 160)
    command = [
        sys.executable,
        "-m",
        "lofty_async",
        "tasks",
        "import",
        str(source),
        "--sandbox",
        "--no-progress",
        "--sandbox-rate-limit",
        "off",
        "--concurrency",
        "8",
        "--timeout",
        "1",
    ]
    rng = random.Random(7)
    state = tmp_path / "tasks.csv.sandbox-state.jsonl"
    kills = 0
    for attempt in range(4):
        process = subprocess.Popen(
            [*command, "--sandbox-faults", f"5%,seed={attempt}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(rng.uniform(0.8, 2.0))
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            kills += 1
        process.wait(timeout=30)
    assert kills >= 2
    final = subprocess.run([*command, "--sandbox-faults", "5%,seed=99"], capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stdout + final.stderr
    emulator = LoftyEmulator(state_path=state)
    have = Counter((str(t["leadId"]), t["content"], t["type"]) for t in emulator.tasks.values())
    assert have == Counter((r["lead_id"], r["content"], r["type"]) for r in rows)


def _journal_states(journal: Path) -> dict[int, str]:
    """Row states of a running job's journal ({} until its tables exist)."""
    if not journal.exists():
        return {}
    try:
        with contextlib.closing(sqlite3.connect(journal)) as db:
            return dict(db.execute("SELECT row_number, state FROM rows").fetchall())
    except sqlite3.OperationalError:  # created, its tables not yet
        return {}


def _wait_for_created(journal: Path, count: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and list(_journal_states(journal).values()).count("created") < count:
        time.sleep(0.1)


def test_a_row_edited_after_sigkill_is_refused_until_it_is_restored(tmp_path: Path) -> None:
    """Every row in flight at a crash is on disk with its fingerprint: editing one is refused
    (it may have landed as it read before), not created beside the old version."""
    source = tmp_path / "tasks.csv"
    rows = _write_rows(source, 400)
    command = [sys.executable, "-m", "lofty_async", "tasks", "import", str(source), "--sandbox", "--no-progress"]
    journal = tmp_path / "tasks.csv.sandbox.journal.sqlite"
    # 40 rows per second: the job is killed while rows are in flight and read ahead.
    process = subprocess.Popen(
        [*command, "--sandbox-rate-limit", "20/0.5"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _wait_for_created(journal, 20)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    states = _journal_states(journal)
    in_doubt = sorted(n for n, state in states.items() if state == "sending")
    assert in_doubt and list(states.values()).count("created") >= 20
    state = tmp_path / "tasks.csv.sandbox-state.jsonl"
    before = len(LoftyEmulator(state_path=state).tasks)

    edited = [dict(row) for row in rows]
    edited[in_doubt[0] - 1]["content"] = "Edited after the crash"
    with source.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(edited)
    refused = subprocess.run([*command, "--sandbox-rate-limit", "off"], capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert f"row {in_doubt[0]} differs from the row recorded (sending)" in refused.stderr
    assert "Traceback" not in refused.stderr
    # Rows before it may have gone out (they were in doubt or new); nothing was created twice.
    emulator = LoftyEmulator(state_path=state)
    assert len(emulator.tasks) >= before
    assert max(Counter((str(t["leadId"]), t["content"], t["type"]) for t in emulator.tasks.values()).values()) <= (
        max(Counter((r["lead_id"], r["content"], r["type"]) for r in rows).values())
    )

    _write_rows(source, 400)  # restored: the job finishes, every row exactly once
    final = subprocess.run([*command, "--sandbox-rate-limit", "off"], capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stdout + final.stderr
    emulator = LoftyEmulator(state_path=state)
    have = Counter((str(t["leadId"]), t["content"], t["type"]) for t in emulator.tasks.values())
    assert have == Counter((r["lead_id"], r["content"], r["type"]) for r in rows)


@pytest.mark.parametrize(("stop", "named"), [(signal.SIGTERM, "SIGTERM"), (signal.SIGINT, "Ctrl-C")])
def test_sigterm_or_ctrl_c_stops_the_import_with_its_results_file_complete(
    tmp_path: Path, stop: signal.Signals, named: str
) -> None:
    source = tmp_path / "tasks.csv"
    rows = _write_rows(source, 400)
    command = [sys.executable, "-m", "lofty_async", "tasks", "import", str(source), "--sandbox", "--no-progress"]
    journal = tmp_path / "tasks.csv.sandbox.journal.sqlite"
    process = subprocess.Popen(
        [*command, "--sandbox-rate-limit", "20/0.5"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    _wait_for_created(journal, 20)
    process.send_signal(stop)  # SIGINT is what Ctrl-C sends: named as Ctrl-C, exit 130
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 128 + stop, stderr
    assert f"Stopped by {named}" in stderr and "Traceback" not in stderr
    with contextlib.closing(sqlite3.connect(journal)) as db:
        journaled = {n for (n,) in db.execute("SELECT row_number FROM rows WHERE state = 'created'")}
    with (tmp_path / "tasks.csv.results.csv").open(encoding="utf-8") as handle:
        reported = {int(r["row"]) for r in csv.DictReader(handle) if r["status"] == "created"}
    assert journaled and reported == journaled  # nothing lost from the buffered results file

    final = subprocess.run([*command, "--sandbox-rate-limit", "off"], capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stdout + final.stderr
    emulator = LoftyEmulator(state_path=tmp_path / "tasks.csv.sandbox-state.jsonl")
    have = Counter((str(t["leadId"]), t["content"], t["type"]) for t in emulator.tasks.values())
    assert have == Counter((r["lead_id"], r["content"], r["type"]) for r in rows)
