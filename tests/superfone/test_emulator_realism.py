"""The Superfone emulator behaves as the docs say the real API does.

Raw aiohttp against the emulator over loopback: read-back in the documented millisecond form,
late commits, eventual consistency, unusable ids in 2xx bodies, the column store and a lean
request log.
"""

from __future__ import annotations

import asyncio
import re
import time
import tracemalloc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from crm_core.emulator import FaultKind, FaultPlan, FixedWindowRateLimit
from superfone_async.testing import SANDBOX_API_KEY, SuperfoneEmulator, sandbox_lead_ids

LEAD = sandbox_lead_ids()[3]
TASKS = f"/enterprise/api/lead/{LEAD}/task"
MS_FORM = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def due(days: int = 3) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0).isoformat()


@asynccontextmanager
async def served(emulator: SuperfoneEmulator) -> AsyncIterator[tuple[str, aiohttp.ClientSession]]:
    async with emulator.serve() as url, aiohttp.ClientSession(headers={"x-api-key": SANDBOX_API_KEY}) as http:
        yield url, http


async def listed(http: aiohttp.ClientSession, url: str) -> list[int]:
    async with http.get(url + TASKS) as response:
        assert response.status == 200
        return [row["id"] for row in (await response.json())["data"]["rows"]]


async def test_times_read_back_in_milliseconds_utc() -> None:
    emulator = SuperfoneEmulator()
    body = {"type": "FOLLOW_UP_CALL", "due_date": "2027-05-20T20:30:00.123456+05:30"}
    async with served(emulator) as (url, http):
        async with http.post(url + TASKS, json=body) as response:
            created = (await response.json())["data"]
        async with http.get(url + TASKS) as response:
            row = (await response.json())["data"]["rows"][0]
    assert created["due_date"] == row["due_date"] == "2027-05-20T15:00:00.123Z"  # cut to the ms, in UTC
    assert row["notify_at"] == "2027-05-20T14:50:00.123Z"
    for field in ("due_date", "notify_at", "created_at", "updated_at"):
        assert MS_FORM.match(row[field]), (field, row[field])
    assert emulator.tasks[created["id"]]["due_date"] == created["due_date"]
    assert "type_name" in created and "type_name" not in row


async def test_late_commit_stores_after_the_client_gave_up() -> None:
    plan = FaultPlan(late_seconds=1.0).add("late-commit", route="POST /enterprise/api/lead/*/task", times=1)
    emulator = SuperfoneEmulator(faults=plan)
    async with served(emulator) as (url, http):
        with pytest.raises(TimeoutError):
            async with http.post(
                url + TASKS, json={"type": "CALLBACK_REQUEST", "due_date": due()}, timeout=aiohttp.ClientTimeout(0.2)
            ):
                pass
        assert await listed(http, url) == [] and len(emulator.tasks) == 0
        for _ in range(60):
            if emulator.tasks:
                break
            await asyncio.sleep(0.05)
        assert len(emulator.tasks) == 1
        assert await listed(http, url) == list(emulator.tasks)
    assert plan.injected == {FaultKind.LATE_COMMIT: 1}


async def test_late_visible_hides_a_new_task_from_the_list_for_a_while() -> None:
    now = [time.time()]
    plan = FaultPlan(late_seconds=4.0).add("late-visible", route="POST /enterprise/api/lead/*/task", times=1)
    emulator = SuperfoneEmulator(faults=plan, clock=lambda: now[0])
    async with served(emulator) as (url, http):
        async with http.post(url + TASKS, json={"type": "REMINDER", "due_date": due()}) as response:
            assert response.status == 200
            task_id = (await response.json())["data"]["id"]
        assert task_id in emulator.tasks
        assert await listed(http, url) == []
        now[0] += 4.0
        assert await listed(http, url) == [task_id]
        async with http.get(url + TASKS) as response:
            assert "_visible_at" not in (await response.json())["data"]["rows"][0]


@pytest.mark.parametrize("bad", ["abc", None, 12.9])
async def test_bad_id_in_the_create_answer_the_write_happened(bad: object) -> None:
    plan = FaultPlan(bad_ids=(bad,)).add("bad-id", route="POST /enterprise/api/lead/*/task", times=1)
    emulator = SuperfoneEmulator(faults=plan)
    async with served(emulator) as (url, http):
        async with http.post(url + TASKS, json={"type": "SITE_VISIT", "due_date": due()}) as response:
            assert response.status == 200
            body = await response.json()
        assert body["data"]["id"] == bad and body["message"] == "success"
        assert body["data"]["customer_id"] == LEAD
        assert len(emulator.tasks) == 1 and await listed(http, url) == list(emulator.tasks)


async def test_reset_21000_and_a_rate_limit_when_switched_on() -> None:
    plan = FaultPlan().add("reset-21000", route="GET *", times=1)
    emulator = SuperfoneEmulator(faults=plan)
    async with served(emulator) as (url, http):
        async with http.get(url + TASKS) as response:
            assert response.status == 429 and response.headers["X-RateLimit-Reset"] == "21000"
        assert await listed(http, url) == []
    limited = SuperfoneEmulator(rate_limit=FixedWindowRateLimit(limit=1, window=3600, headers=False))
    async with served(limited) as (url, http):
        assert await listed(http, url) == []
        async with http.get(url + TASKS) as response:
            assert response.status == 429 and "X-RateLimit-Limit" not in response.headers


async def test_request_log_lean_by_default_and_full_in_the_fixture(superfone_emulator: Any) -> None:
    emulator = SuperfoneEmulator(max_logged=2)
    async with served(emulator) as (url, http):
        for _ in range(4):
            await listed(http, url)
    assert len(emulator.core.requests) == 2 and emulator.core.statuses[200] == 4
    assert emulator.core.requests[0].headers == {} and emulator.core.requests[0].body is None
    assert superfone_emulator.emulator.core.log_bodies


def test_task_store_memory_and_state_replay(tmp_path: Path) -> None:
    emulator = SuperfoneEmulator(state_path=tmp_path / "state.jsonl")
    rows = 5_000
    stamp = "2027-01-01T10:00:00.000Z"
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for i in range(rows):
        record = {
            "id": 10_000 + i,
            "org_id": 42,
            "customer_id": LEAD,
            "title": None,
            "type": "REMINDER",
            "due_date": stamp,
            "notify_at": stamp,
            "notify": True,
            "task_status": "PENDING",
            "status": "ACTIVE",
            "assignee_user_id": 678,
            "created_by": 1,
            "updated_by": None,
            "created_at": stamp,
            "updated_at": stamp,
        }
        emulator._put_task(record)
    per_task = (tracemalloc.get_traced_memory()[0] - before) / rows
    tracemalloc.stop()
    emulator.close()
    assert per_task < 100
    assert emulator.tasks.nbytes() / rows < 50  # was 71 with one interned column per field
    again = SuperfoneEmulator(state_path=tmp_path / "state.jsonl")
    assert len(again.tasks) == rows and again.tasks[10_000] == emulator.tasks[10_000]
    assert len(again.open_tasks(LEAD)) == rows
