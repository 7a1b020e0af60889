"""The three examples, run for real against the sandbox emulators (over loopback HTTP)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from crm_core import Journal
from crm_core.emulator import FaultPlan, FixedWindowRateLimit
from examples import bulk_job, sync_worker, webapp
from lofty_async import LoftyClient
from lofty_async.testing import SANDBOX_API_KEY, LoftyEmulator, LoftySandbox, sandbox_lead_ids
from superfone_async.testing import SuperfoneEmulator, SuperfoneSandbox
from tests.redis_fixtures import DEFAULT_URL, answers, own_server, unavailable

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
LEAD = sandbox_lead_ids()[0]
TASK = {
    "type": "Call",
    "content": "Call back about the listing",
    "lead_id": LEAD,
    "assigned_role": "Agent",
    "start_at": "2027-01-01T10:00:00-08:00",
    "end_at": "2027-01-01T11:00:00-08:00",
    "time_zone_code": "America/Los_Angeles",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@asynccontextmanager
async def webapp_client(base_url: str, **options: Any) -> AsyncIterator[TestClient[Any, Any]]:
    """The example app, served on loopback, with its Lofty client pointed at ``base_url``."""
    options.setdefault("retry", webapp.WEB_RETRY)
    options.setdefault("api_key", SANDBOX_API_KEY)
    made: list[LoftyClient] = []

    def make_client() -> LoftyClient:
        made.append(LoftyClient(base_url=base_url, **options))
        return made[-1]

    app = webapp.make_app(make_client)
    async with TestClient(TestServer(app)) as client:
        yield client
    assert len(made) == 1  # one client for the app's whole lifetime


def _roomy(factory: Callable[..., LoftySandbox], **kwargs: Any) -> LoftySandbox:
    return factory(rate_limit=FixedWindowRateLimit(limit=10_000, window=60), **kwargs)


# -- examples/webapp.py -------------------------------------------------------------------------


async def test_webapp_shares_one_client_across_50_concurrent_requests(
    lofty_emulator_factory: Callable[..., LoftySandbox],
) -> None:
    sandbox = _roomy(lofty_emulator_factory)
    async with webapp_client(sandbox.url) as http:
        lofty = http.app[webapp.LOFTY]
        bodies = [{**TASK, "content": f"Call back #{n}"} for n in range(50)]
        created = await asyncio.gather(*(http.post("/tasks", json=body) for body in bodies))
        assert [r.status for r in created] == [201] * 50
        ids = [(await r.json())["task_id"] for r in created]
        assert len(set(ids)) == 50
        assert sorted(ids) == sorted(sandbox.emulator.tasks)  # exactly 50 writes, none duplicated
        assert sandbox.emulator.core.count("POST", "/v2.0/tasks") == 50

        fetched = await asyncio.gather(*(http.get(f"/tasks/{task_id}") for task_id in ids))
        assert [r.status for r in fetched] == [200] * 50
        contents = [(await r.json())["content"] for r in fetched]
        assert contents == [body["content"] for body in bodies]

        finished = await http.post(f"/tasks/{ids[0]}/finish")
        assert finished.status == 200
        listing = await (await http.get(f"/leads/{LEAD}/tasks")).json()
        assert len(listing["tasks"]) == 50
        assert [t["finish_flag"] for t in listing["tasks"] if t["id"] == ids[0]] == [True]
        assert http.app[webapp.LOFTY] is lofty  # the same client served every handler


async def test_webapp_maps_input_and_lookup_errors(lofty_emulator_factory: Callable[..., LoftySandbox]) -> None:
    sandbox = _roomy(lofty_emulator_factory)
    async with webapp_client(sandbox.url) as http:
        bad = await http.post("/tasks", json={**TASK, "type": "Meeting"})
        assert bad.status == 422
        body = await bad.json()
        assert (body["field"], body["value"]) == ("type", "Meeting")
        assert "Call" in body["allowed"]

        naive = await http.post("/tasks", json={**TASK, "end_at": "2027-01-01T11:00:00"})
        assert naive.status == 422
        assert (await naive.json())["field"] == "end_at"
        assert sandbox.emulator.core.count("POST", "/v2.0/tasks") == 0  # nothing was sent

        missing = await http.get("/tasks/999999")
        assert missing.status == 404
        assert (await missing.json())["code"] == "TASK_NOT_EXIST"

        not_ours = await http.post("/tasks", json={**TASK, "lead_id": 12345})
        assert not_ours.status == 403  # Lofty answers 400 with code 20017 (no access to the lead)
        assert (await not_ours.json())["code"] == 20017

        not_json = await http.post("/tasks", data=b"not json")
        assert not_json.status == 400


async def test_webapp_maps_rate_limit_to_503_with_retry_after(
    lofty_emulator_factory: Callable[..., LoftySandbox],
) -> None:
    # Two requests per 10-minute window: the third cannot be served within the app's 5 s patience.
    sandbox = lofty_emulator_factory(rate_limit=FixedWindowRateLimit(limit=2, window=600))
    async with webapp_client(sandbox.url) as http:
        first = await asyncio.gather(*(http.get(f"/leads/{LEAD}/tasks") for _ in range(2)))
        assert [r.status for r in first] == [200, 200]
        limited = await asyncio.gather(*(http.get(f"/leads/{LEAD}/tasks") for _ in range(5)))
        assert [r.status for r in limited] == [503] * 5
        for response in limited:
            retry_after = int(response.headers["Retry-After"])
            assert 1 <= retry_after <= 600
            assert (await response.json())["error"] == "rate_limited"


async def test_webapp_maps_upstream_failures_to_502(lofty_emulator_factory: Callable[..., LoftySandbox]) -> None:
    async with webapp_client(f"http://127.0.0.1:{_free_port()}") as http:
        unreachable = await http.get("/tasks/1")
        assert unreachable.status == 502
        assert (await unreachable.json())["error"] == "upstream_unreachable"

    sandbox = _roomy(lofty_emulator_factory)
    async with webapp_client(sandbox.url, api_key="not-our-key") as http:
        refused = await http.get("/tasks/1")
        assert refused.status == 502  # the app's own credential is wrong: not the caller's fault
        assert (await refused.json())["upstream_status"] == 401

    sandbox = _roomy(lofty_emulator_factory, faults=FaultPlan.parse("500=1.0@GET /v2.0/tasks/*"))
    async with webapp_client(sandbox.url) as http:
        failing = await http.get("/tasks/1")
        assert failing.status == 502
        body = await failing.json()
        assert (body["error"], body["upstream_status"]) == ("upstream_error", 500)


@pytest.mark.slow
def test_webapp_script_serves_against_the_sandbox() -> None:
    port = _free_port()
    command = [sys.executable, str(EXAMPLES / "webapp.py"), "--sandbox", f"--port={port}"]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:

        async def call() -> tuple[int, dict[str, Any]]:
            async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
                for _ in range(200):  # wait (up to ~10 s) for the app to listen
                    try:
                        async with http.post("/tasks", json=TASK) as response:
                            return response.status, await response.json()
                    except aiohttp.ClientConnectionError:
                        await asyncio.sleep(0.05)
                raise AssertionError("the example app did not start")

        status, body = asyncio.run(call())
        assert status == 201 and body["task_id"] > 0
    finally:
        server.terminate()
        server.communicate(timeout=30)


# -- examples/bulk_job.py -----------------------------------------------------------------------


def _job_file(tmp_path: Path, good_rows: int) -> Path:
    """The first ``good_rows`` rows of the example file, then the example's bad rows."""
    good = (EXAMPLES / "lofty_tasks.csv").read_text(encoding="utf-8").splitlines()
    bad = (EXAMPLES / "lofty_tasks_bad_rows.csv").read_text(encoding="utf-8").splitlines()
    path = tmp_path / "tasks.csv"
    path.write_text("\n".join([*good[: good_rows + 1], *bad[1:]]) + "\n", encoding="utf-8")
    return path


async def test_bulk_job_creates_each_row_once_reports_bad_rows_and_resumes(
    lofty_emulator_factory: Callable[..., LoftySandbox], tmp_path: Path
) -> None:
    sandbox = _roomy(lofty_emulator_factory)
    path = _job_file(tmp_path, good_rows=40)
    rows = list(bulk_job.read_rows(path))
    journal_path = tmp_path / "tasks.journal.sqlite"

    async with sandbox.client() as lofty:
        journal = Journal(journal_path, job="example")
        summary, failures = await bulk_job.run_job(lofty, path, journal, progress=False)
        journal.close()
    assert summary.total == len(rows) == 51
    failed = {f.row_number: f.field for f in failures}
    # Bad input is refused before sending, with its field; lead 999999999999999 is refused by Lofty.
    assert failed == {
        42: "type",
        43: "content",
        45: "lead_id",
        46: "end_at",
        47: "end_at",
        48: "time_zone_code",
        49: "assigned_role",
        50: None,
    }
    assert summary.failed == 8 and summary.created == 43
    contents = sorted(task["content"] for task in sandbox.emulator.tasks.values())
    assert contents == sorted(row["content"] for n, row in enumerate(rows, start=1) if n not in failed)
    posts = sandbox.emulator.core.count("POST", "/v2.0/tasks")
    assert posts == 44  # 43 created + the one Lofty refused; nothing sent twice

    async with sandbox.client() as lofty:  # a re-run with the same journal
        journal = Journal(journal_path, job="example")
        again, failures = await bulk_job.run_job(lofty, path, journal, progress=False)
        journal.close()
    assert (again.created, again.skipped, again.failed) == (0, 43, 8)
    assert len(sandbox.emulator.tasks) == 43
    assert sandbox.emulator.core.count("POST", "/v2.0/tasks") == posts + 1  # only the refused row again


@pytest.mark.slow
def test_bulk_job_script_runs_against_the_sandbox(tmp_path: Path) -> None:
    path = _job_file(tmp_path, good_rows=12)
    command = [sys.executable, str(EXAMPLES / "bulk_job.py"), str(path), "--sandbox"]
    first = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert first.returncode == 1, first.stderr  # the bad rows fail
    assert "15 created, 8 failed, 0 skipped" in first.stdout
    assert "row 14: type: type='Meeting' is not valid" in first.stderr
    second = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert "0 created, 8 failed, 15 skipped" in second.stdout  # resumed from the journal


# -- examples/sync_worker.py --------------------------------------------------------------------


class _Clock:
    """Wall time plus an offset the test moves (Lofty's times have whole seconds)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


def _seed_leads(lofty: LoftyEmulator, without_phone: int) -> list[int]:
    """Give the last ``without_phone`` sandbox leads no phone; return the IDs that have one."""
    ids = sorted(lofty.leads)
    for lead_id in ids[len(ids) - without_phone :]:
        lofty.leads[lead_id]["phones"] = []
    return ids[: len(ids) - without_phone]


def _follow_ups(superfone: SuperfoneEmulator) -> dict[str, int]:
    """FOLLOW_UP_CALL tasks per Superfone lead, by primary phone."""
    counts = {
        record["_phones"][0]: sum(1 for t in superfone.lead_tasks(record["id"]) if t["type"] == "FOLLOW_UP_CALL")
        for record in superfone.leads.values()
    }
    return {phone: n for phone, n in counts.items() if n}


def _phone_of(lofty: LoftyEmulator, lead_id: int) -> str:
    return sync_worker.e164(lofty.leads[lead_id]["phones"][0], "+1")


async def test_sync_worker_stops_resumes_and_follows_up_each_change_once(
    lofty_emulator_factory: Callable[..., LoftySandbox],
    superfone_emulator_factory: Callable[..., SuperfoneSandbox],
    tmp_path: Path,
) -> None:
    clock = _Clock()
    lofty_box = _roomy(lofty_emulator_factory, clock=clock)
    sf_box = superfone_emulator_factory()
    eligible = _seed_leads(lofty_box.emulator, without_phone=4)
    bad_phone = eligible.pop()
    lofty_box.emulator.leads[bad_phone]["phones"] = ["n/a"]  # Superfone wants E.164: refused, reported
    path = tmp_path / "checkpoint.json"

    async def run(**options: Any) -> sync_worker.SyncStats:
        async with lofty_box.client() as lofty, sf_box.client(rate_limit=None) as sf:
            return await sync_worker.sync_once(lofty, sf, sync_worker.Checkpoint.load(path), page_size=7, **options)

    first = await run(max_leads=13)  # stopped part-way, mid-page
    assert first.created + first.failed == 13
    assert sum(_follow_ups(sf_box.emulator).values()) == first.created
    assert sync_worker.Checkpoint.load(path).scroll_id is not None  # the cursor was saved

    rest = await run()
    assert first.created + rest.created == len(eligible)
    assert rest.scanned < 50  # resumed from the saved cursor, not from the first page
    assert first.failed + rest.failed == 1
    assert _follow_ups(sf_box.emulator) == {_phone_of(lofty_box.emulator, i): 1 for i in eligible}

    idle = await run()
    assert (idle.changed, idle.created) == (0, 0)

    clock.offset = 30.0  # later changes get later (whole-second) lastUpdateTime values
    changed = eligible[:3]
    async with lofty_box.client() as lofty:
        for lead_id in changed:
            await lofty.leads.update(lead_id, stage="Contacted")
    again = await run()
    assert (again.changed, again.created) == (3, 3)
    expected = {_phone_of(lofty_box.emulator, i): 2 if i in changed else 1 for i in eligible}
    assert _follow_ups(sf_box.emulator) == expected


async def test_sync_worker_starts_the_pass_over_when_its_saved_cursor_is_refused(
    lofty_emulator_factory: Callable[..., LoftySandbox],
    superfone_emulator_factory: Callable[..., SuperfoneSandbox],
    tmp_path: Path,
) -> None:
    lofty_box = _roomy(lofty_emulator_factory)
    sf_box = superfone_emulator_factory()
    eligible = _seed_leads(lofty_box.emulator, without_phone=0)
    checkpoint = sync_worker.Checkpoint(path=tmp_path / "checkpoint.json", scroll_id="expired-or-garbled")
    async with lofty_box.client() as lofty, sf_box.client(rate_limit=None) as sf:
        stats = await sync_worker.sync_once(lofty, sf, checkpoint, page_size=20)
    assert (stats.scanned, stats.created) == (50, 50)  # Lofty answered 400: the pass started over
    assert _follow_ups(sf_box.emulator) == {_phone_of(lofty_box.emulator, i): 1 for i in eligible}


@pytest.mark.slow
def test_sync_worker_killed_mid_run_resumes_without_duplicates(
    lofty_emulator_factory: Callable[..., LoftySandbox],
    superfone_emulator_factory: Callable[..., SuperfoneSandbox],
    tmp_path: Path,
) -> None:
    lofty_box = _roomy(lofty_emulator_factory)
    sf_box = superfone_emulator_factory()
    eligible = _seed_leads(lofty_box.emulator, without_phone=2)
    command = [
        sys.executable,
        str(EXAMPLES / "sync_worker.py"),
        f"--base-url={lofty_box.url}",
        f"--superfone-url={sf_box.url}",
        f"--checkpoint={tmp_path / 'checkpoint.json'}",
        "--page-size=10",
        "--superfone-rate-limit=20/1",
    ]
    env = {**os.environ, "LOFTY_API_KEY": lofty_box.api_key, "SUPERFONE_API_KEY": sf_box.api_key}
    worker = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while len(sf_box.emulator.tasks) < 10 and worker.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    worker.kill()  # SIGKILL: no clean-up, maybe a request in flight
    worker.communicate(timeout=30)
    assert 10 <= len(sf_box.emulator.tasks) < len(eligible)  # killed part-way

    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert rerun.returncode == 0, rerun.stderr
    assert "without a phone" in rerun.stdout
    assert _follow_ups(sf_box.emulator) == {_phone_of(lofty_box.emulator, i): 1 for i in eligible}


@pytest.mark.slow
def test_sync_worker_script_runs_against_the_sandbox(tmp_path: Path) -> None:
    command = [sys.executable, str(EXAMPLES / "sync_worker.py"), "--sandbox"]
    first = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert first.returncode == 0, first.stderr
    assert "scanned 50 leads, 50 changed, 50 follow-ups created" in first.stdout
    again = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert "scanned 50 leads, 0 changed, 0 follow-ups created" in again.stdout  # the sandboxes kept their state


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """``REDIS_URL`` (default ``redis://127.0.0.1:6379/0``), or a ``redis-server`` we start."""
    url = os.environ.get("REDIS_URL", DEFAULT_URL)
    if answers(url):
        yield url
        return
    if shutil.which("redis-server") is None:
        unavailable("no Redis answers at REDIS_URL and redis-server is not installed")
    server = own_server()
    try:
        yield server.url
    finally:
        server.stop()


def _sync_workers(lofty: LoftySandbox, sf: SuperfoneSandbox, tmp_path: Path, count: int, *extra: str) -> list[str]:
    """Run ``count`` sharded worker processes at once; return their outputs."""
    env = {**os.environ, "LOFTY_API_KEY": lofty.api_key, "SUPERFONE_API_KEY": sf.api_key}
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                str(EXAMPLES / "sync_worker.py"),
                f"--base-url={lofty.url}",
                f"--superfone-url={sf.url}",
                f"--checkpoint={tmp_path / f'shard-{i}.json'}",
                f"--shard={i}/{count}",
                "--page-size=5",
                "--superfone-rate-limit=off",
                *extra,
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(1, count + 1)
    ]
    outputs = []
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
        outputs.append(out)
    return outputs


@pytest.mark.slow
def test_sync_workers_share_one_rate_limit_through_redis(
    lofty_emulator_factory: Callable[..., LoftySandbox],
    superfone_emulator_factory: Callable[..., SuperfoneSandbox],
    tmp_path: Path,
    redis_url: str,
) -> None:
    # Lofty allows 10 requests per 2 s for the app; three workers read 10 pages each.
    lofty_box = lofty_emulator_factory(rate_limit=FixedWindowRateLimit(limit=10, window=2))
    sf_box = superfone_emulator_factory()
    eligible = _seed_leads(lofty_box.emulator, without_phone=0)
    outputs = _sync_workers(lofty_box, sf_box, tmp_path, 3, f"--redis-url={redis_url}")
    assert all("scanned 50 leads" in out for out in outputs)
    assert _follow_ups(sf_box.emulator) == {_phone_of(lofty_box.emulator, i): 1 for i in eligible}
    lists = [r for r in lofty_box.emulator.core.requests if r.path == "/v1.0/leads"]
    throttled = sum(1 for r in lists if r.status == 429)
    assert throttled <= 10, f"{throttled} of {len(lists)} Lofty requests got 429"  # at most one window's worth
