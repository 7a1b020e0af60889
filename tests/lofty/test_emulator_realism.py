"""The Lofty emulator behaves as the docs say the real API does, not as our client would like.

Raw aiohttp against the emulator over loopback: late commits, eventual consistency, unusable
ids in 2xx bodies, the documented ``X-RateLimit-Reset: 21000``, read-back in the spec's
whole-second ``GMT`` form, both documented lead tag and assign bodies, and a lean request log.
"""

from __future__ import annotations

import asyncio
import re
import time
import tracemalloc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from crm_core.emulator import FaultKind, FaultPlan, FixedWindowRateLimit, StateLog
from lofty_async.testing import SANDBOX_API_KEY, LoftyEmulator, sandbox_lead_ids

LEAD = sandbox_lead_ids()[2]
AUTH = {"Authorization": f"token {SANDBOX_API_KEY}"}
BODY = {"type": "Call", "content": "Realism", "leadId": LEAD, "assignedRole": "Agent", "endAt": "2027-01-01T10:00:00Z"}
GMT_FORM = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dGMT$")
NO_LIMIT: dict[str, Any] = {"limit": 10**9, "window": 60}


@asynccontextmanager
async def served(emulator: LoftyEmulator) -> AsyncIterator[tuple[str, aiohttp.ClientSession]]:
    async with emulator.serve() as url, aiohttp.ClientSession(headers=AUTH) as http:
        yield url, http


async def listed(http: aiohttp.ClientSession, url: str) -> list[int]:
    async with http.get(f"{url}/v2.0/tasks", params={"leadId": LEAD}) as response:
        assert response.status == 200
        return [t["id"] for t in (await response.json())["tasks"]]


# -- late commit -------------------------------------------------------------------------------


async def test_late_commit_stores_after_the_client_gave_up_and_reads_miss_it_meanwhile() -> None:
    plan = FaultPlan(late_seconds=1.0).add("late-commit", route="POST /v2.0/tasks", times=1)
    emulator = LoftyEmulator(faults=plan, rate_limit=FixedWindowRateLimit(**NO_LIMIT))
    async with served(emulator) as (url, http):
        with pytest.raises(TimeoutError):
            async with http.post(f"{url}/v2.0/tasks", json=BODY, timeout=aiohttp.ClientTimeout(total=0.2)):
                pass
        # The client timed out; the server has the request but has not committed it yet.
        assert await listed(http, url) == []
        assert len(emulator.tasks) == 0
        for _ in range(60):
            if emulator.tasks:
                break
            await asyncio.sleep(0.05)
        assert len(emulator.tasks) == 1  # committed later, once, although nobody waited for it
        assert await listed(http, url) == list(emulator.tasks)
    assert plan.injected == {FaultKind.LATE_COMMIT: 1}


async def test_late_commit_answers_after_the_delay_and_a_concurrent_read_does_not_see_it() -> None:
    plan = FaultPlan(late_seconds=0.6).add("late-commit", route="POST /v2.0/tasks", times=1)
    emulator = LoftyEmulator(faults=plan, rate_limit=FixedWindowRateLimit(**NO_LIMIT))
    async with served(emulator) as (url, http):

        async def create() -> dict[str, Any]:
            async with http.post(f"{url}/v2.0/tasks", json=BODY) as response:
                assert response.status == 200
                body: dict[str, Any] = await response.json()
                return body

        pending = asyncio.ensure_future(create())
        await asyncio.sleep(0.2)
        assert not pending.done()
        assert await listed(http, url) == []
        created = await pending
        assert await listed(http, url) == [created["taskId"]]


async def test_shutdown_commits_a_pending_late_write() -> None:
    plan = FaultPlan(late_seconds=30.0).add("late-commit", route="POST /v2.0/tasks", times=1)
    emulator = LoftyEmulator(faults=plan, rate_limit=FixedWindowRateLimit(**NO_LIMIT))
    async with served(emulator) as (url, http):
        with pytest.raises(TimeoutError):
            async with http.post(f"{url}/v2.0/tasks", json=BODY, timeout=aiohttp.ClientTimeout(total=0.2)):
                pass
        assert len(emulator.tasks) == 0
    assert len(emulator.tasks) == 1  # the accepted write landed when the server stopped


# -- eventual consistency ----------------------------------------------------------------------


async def test_late_visible_answers_at_once_but_reads_miss_the_record_for_a_while() -> None:
    now = [time.time()]
    plan = FaultPlan(late_seconds=5.0).add("late-visible", route="POST /v2.0/tasks", times=1)
    emulator = LoftyEmulator(faults=plan, clock=lambda: now[0], rate_limit=FixedWindowRateLimit(**NO_LIMIT))
    async with served(emulator) as (url, http):
        async with http.post(f"{url}/v2.0/tasks", json=BODY) as response:
            task_id = (await response.json())["taskId"]
        assert task_id in emulator.tasks  # the write happened
        assert await listed(http, url) == []
        async with http.get(f"{url}/v2.0/tasks/{task_id}") as response:
            assert response.status == 404
            assert (await response.json())["code"] == "TASK_NOT_EXIST"
        async with http.get(f"{url}/v1.0/tasks", params={"leadId": LEAD}) as response:
            assert (await response.json())["taskList"] == []
        now[0] += 5.0
        assert await listed(http, url) == [task_id]
        async with http.get(f"{url}/v2.0/tasks/{task_id}") as response:
            assert response.status == 200


async def test_late_visible_lead_create() -> None:
    now = [time.time()]
    plan = FaultPlan(late_seconds=3.0).add("late-visible", route="POST /v1.0/leads", times=1)
    emulator = LoftyEmulator(faults=plan, clock=lambda: now[0], rate_limit=FixedWindowRateLimit(**NO_LIMIT))
    async with served(emulator) as (url, http):
        async with http.post(f"{url}/v1.0/leads", json={"firstName": "Eve"}) as response:
            lead_id = (await response.json())["leadId"]
        async with http.get(f"{url}/v1.0/leads/{lead_id}") as response:
            assert response.status == 404
        now[0] += 3.0
        async with http.get(f"{url}/v1.0/leads/{lead_id}") as response:
            assert response.status == 200


# -- unusable ids ------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["abc", None, 12.9])
async def test_bad_id_answers_an_unusable_task_id_but_the_write_happened(bad: object) -> None:
    plan = FaultPlan(bad_ids=(bad,)).add("bad-id", route="POST /v2.0/tasks", times=1)
    emulator = LoftyEmulator(faults=plan, rate_limit=FixedWindowRateLimit(**NO_LIMIT))
    async with served(emulator) as (url, http):
        async with http.post(f"{url}/v2.0/tasks", json=BODY) as response:
            assert response.status == 200
            assert response.headers["X-RateLimit-Limit"] == str(10**9)  # the rest of the answer is intact
            assert await response.json() == {"taskId": bad}
        assert len(emulator.tasks) == 1
        assert await listed(http, url) == list(emulator.tasks)


async def test_bad_id_draws_from_the_documented_trio_and_hits_other_creates() -> None:
    plan = FaultPlan(seed=3).add("bad-id", probability=1.0, route="POST *")
    emulator = LoftyEmulator(faults=plan, rate_limit=FixedWindowRateLimit(**NO_LIMIT))
    seen = []
    async with served(emulator) as (url, http):
        for _ in range(12):
            async with http.post(f"{url}/v2.0/tasks", json=BODY) as response:
                seen.append((await response.json())["taskId"])
        async with http.post(f"{url}/v1.0/leads", json={"firstName": "Bad"}) as response:
            assert (await response.json())["leadId"] in ("abc", None, 12.9)
        async with http.post(f"{url}/v2.0/tasks", json={"type": "Nope"}) as response:
            assert response.status == 400  # an error answer is left alone
    assert set(seen) <= {"abc", None, 12.9} and len(set(map(repr, seen))) > 1
    assert len(emulator.tasks) == 12


# -- rate limits -------------------------------------------------------------------------------


async def test_reset_21000_fault_sends_the_docs_429_example() -> None:
    plan = FaultPlan().add("reset-21000", route="GET /v2.0/tasks", times=1)
    emulator = LoftyEmulator(faults=plan, rate_limit=FixedWindowRateLimit(limit=20, window=60))
    async with served(emulator) as (url, http):
        async with http.get(f"{url}/v2.0/tasks", params={"leadId": LEAD}) as response:
            assert response.status == 429
            assert await response.json() == {"message": "Too Many Requests"}
            assert response.headers["X-RateLimit-Limit"] == "20"
            assert response.headers["X-RateLimit-Remaining"] == "0"
            assert response.headers["X-RateLimit-Reset"] == "21000"
            assert "Retry-After" not in response.headers
        assert await listed(http, url) == []


async def test_window_announced_only_by_headers_and_the_docs_429() -> None:
    emulator = LoftyEmulator(rate_limit=FixedWindowRateLimit(limit=2, window=3600))
    async with served(emulator) as (url, http):
        answers = []
        for _ in range(3):
            async with http.get(f"{url}/v2.0/tasks", params={"leadId": LEAD}) as response:
                answers.append((response.status, dict(response.headers), await response.json()))
    (s1, h1, _), (s2, h2, _), (s3, h3, b3) = answers
    assert (s1, s2, s3) == (200, 200, 429)
    assert [h["X-RateLimit-Remaining"] for h in (h1, h2, h3)] == ["1", "0", "0"]
    reset = int(h1["X-RateLimit-Reset"])
    assert reset % 3600 == 0 and 0 < reset - time.time() <= 3600  # UTC epoch seconds of the window's end
    assert b3 == {"message": "Too Many Requests"} and "Retry-After" not in h3


async def test_every_response_can_carry_the_docs_odd_reset_value() -> None:
    emulator = LoftyEmulator(rate_limit=FixedWindowRateLimit(limit=1, window=60, reset_format="21000"))
    async with served(emulator) as (url, http):
        for status in (200, 429):
            async with http.get(f"{url}/v2.0/tasks", params={"leadId": LEAD}) as response:
                assert response.status == status and response.headers["X-RateLimit-Reset"] == "21000"


# -- read-back precision and form --------------------------------------------------------------


async def test_times_read_back_whole_second_utc_with_gmt_suffix() -> None:
    emulator = LoftyEmulator(rate_limit=FixedWindowRateLimit(**NO_LIMIT))
    sent = {
        **BODY,
        "type": "Appointment",
        "startAt": "2027-03-01T15:00:00.999-08:00",
        "endAt": "2027-03-02T06:30:59.5+05:30",
    }
    async with served(emulator) as (url, http):
        async with http.post(f"{url}/v2.0/tasks", json=sent) as response:
            task_id = (await response.json())["taskId"]
        async with http.post(f"{url}/v2.0/tasks/{task_id}/finish", json={}) as response:
            assert response.status == 200
        async with http.get(f"{url}/v2.0/tasks/{task_id}") as response:
            task = (await response.json())["task"]
        async with http.get(f"{url}/v1.0/leads/{LEAD}") as response:
            lead = (await response.json())["lead"]
        async with http.get(
            f"{url}/v2.0/calendar",
            params={"startTime": "2027-03-01T00:00:00Z", "endTime": "2027-03-02T00:00:00Z", "includeFinished": "true"},
        ) as response:
            item = (await response.json())["data"]["items"][0]
    assert task["startAt"] == "2027-03-01T23:00:00GMT"  # cut to the second, not rounded
    assert task["endAt"] == "2027-03-02T01:00:59GMT"
    for field in ("startAt", "endAt", "finishTime", "createTime", "lastUpdate"):
        assert GMT_FORM.match(task[field]), (field, task[field])
    for field in ("createTime", "assignTime", "lastUpdateTime"):
        assert GMT_FORM.match(lead[field]), (field, lead[field])
    assert item["startAtMs"] == 1_803_942_000_999  # the calendar's documented epoch ms keep the milliseconds
    assert emulator.tasks[task_id]["startAt"] == task["startAt"]


async def test_v2_update_reads_back_in_the_same_form() -> None:
    emulator = LoftyEmulator(rate_limit=FixedWindowRateLimit(**NO_LIMIT))
    async with served(emulator) as (url, http):
        async with http.post(f"{url}/v2.0/tasks", json=BODY) as response:
            task_id = (await response.json())["taskId"]
        async with http.put(f"{url}/v2.0/tasks/{task_id}", json={"endAt": "2027-06-30T23:59:59.999999-04:00"}):
            pass
        async with http.get(f"{url}/v2.0/tasks/{task_id}") as response:
            assert (await response.json())["task"]["endAt"] == "2027-07-01T03:59:59GMT"


# -- both documented lead bodies (issue 11 §2) -------------------------------------------------


async def test_lead_update_accepts_tags_as_strings_and_as_objects() -> None:
    emulator = LoftyEmulator(rate_limit=FixedWindowRateLimit(**NO_LIMIT))
    async with served(emulator) as (url, http):
        seed_body = {"stage": "Contacted", "tags": [{"tagName": "follow-up"}]}  # seed 003, byte for byte
        async with http.put(f"{url}/v1.0/leads/{LEAD}", json=seed_body) as response:
            assert response.status == 200
        assert [t["tagName"] for t in emulator.leads[LEAD]["tags"]] == ["follow-up"]
        assert emulator.leads[LEAD]["stage"] == "Contacted"
        async with http.put(f"{url}/v1.0/leads/{LEAD}", json={"tags": ["hot", "follow-up"]}) as response:
            assert response.status == 200
        assert [t["tagName"] for t in emulator.leads[LEAD]["tags"]] == ["hot", "follow-up"]
        for bad in ([{"name": "x"}], [1], "hot", [{"tagName": 5}]):
            async with http.put(f"{url}/v1.0/leads/{LEAD}", json={"tags": bad}) as response:
                assert response.status == 400
                assert "tags" in (await response.json())["message"]


async def test_lead_assign_accepts_the_guides_user_ids_and_the_specs_role_assignee() -> None:
    emulator = LoftyEmulator(rate_limit=FixedWindowRateLimit(**NO_LIMIT))
    assistant = emulator.user_id + 1
    async with served(emulator) as (url, http):
        body = {"assignees": [{"userId": assistant}]}
        async with http.post(f"{url}/v1.0/leads/{LEAD}/assignment", json=body) as response:
            assert response.status == 200 and await response.json() == {"leadId": LEAD}
        assert emulator.leads[LEAD]["assignedUserId"] == assistant
        spec_body = [{"role": "Agent", "assignee": "agent@sandbox.lofty.test"}]
        async with http.post(f"{url}/v1.0/leads/{LEAD}/assignment", json=spec_body) as response:
            assert response.status == 200
        assert emulator.leads[LEAD]["assignedUserId"] == emulator.user_id
        for bad, code in (
            ({"assignees": [{"userId": 42}]}, 20003),
            ({"assignees": [{"userId": "10000000514"}]}, 20012),
            ({"assignees": []}, 20012),
            ({"other": 1}, 20012),
        ):
            async with http.post(f"{url}/v1.0/leads/{LEAD}/assignment", json=bad) as response:
                assert response.status == 400 and (await response.json())["code"] == code


# -- request log and memory --------------------------------------------------------------------


async def test_request_log_is_lean_and_bounded_unless_asked() -> None:
    lean = LoftyEmulator(rate_limit=FixedWindowRateLimit(**NO_LIMIT), max_logged=3)
    async with served(lean) as (url, http):
        for _ in range(5):
            async with http.post(f"{url}/v2.0/tasks", json=BODY):
                pass
    assert len(lean.core.requests) == 3 and lean.core.statuses[200] == 5
    entry = lean.core.requests[-1]
    assert (entry.method, entry.path, entry.status, dict(entry.headers), entry.body) == (
        "POST",
        "/v2.0/tasks",
        200,
        {},
        None,
    )
    full = LoftyEmulator(rate_limit=FixedWindowRateLimit(**NO_LIMIT), log_bodies=True)
    async with served(full) as (url, http), http.post(f"{url}/v2.0/tasks", json=BODY):
        pass
    entry = full.core.requests[0]
    assert entry.body == BODY and entry.headers["Authorization"] == "***"


def test_the_fixture_logs_bodies(lofty_emulator: Any) -> None:
    assert lofty_emulator.emulator.core.log_bodies


def test_task_store_memory_per_record() -> None:
    emulator = LoftyEmulator(rate_limit=FixedWindowRateLimit(**NO_LIMIT))
    lead = emulator.leads[LEAD]
    end = datetime(2027, 1, 1, tzinfo=UTC)
    rows = 20_000
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for i in range(rows):
        record = emulator.new_task_record(
            lead=lead,
            kind="Call",
            content=f"Follow up {i:06d}",
            role="Agent",
            start=None,
            end=end,
            zone="UTC",
            address=None,
        )
        emulator.put_task(record)
    per_task = (tracemalloc.get_traced_memory()[0] - before) / rows
    tracemalloc.stop()
    assert len(emulator.tasks) == rows
    assert per_task < 100  # was about 3.8 KB with dicts and full request logs, then 150 (issue 10)


async def test_clean_shutdown_fsyncs_the_state_log(tmp_path: Path) -> None:
    path = tmp_path / "state.jsonl"
    emulator = LoftyEmulator(
        state_path=path, rate_limit=FixedWindowRateLimit(**NO_LIMIT), fsync_every=10_000, fsync_interval=600
    )
    state = emulator._state
    assert isinstance(state, StateLog)
    async with served(emulator) as (url, http):
        for _ in range(3):
            async with http.post(f"{url}/v2.0/tasks", json=BODY):
                pass
        assert state.fsyncs == 0  # batched: nothing forced yet ...
        assert len(path.read_text().splitlines()) == 3  # ... but every line is with the OS already
    assert state.fsyncs == 1 and state._fd is None  # the shutdown fsynced and closed it
    again = LoftyEmulator(state_path=path)
    assert list(again.tasks) == list(emulator.tasks) and len(again.tasks) == 3
    first = next(iter(emulator.tasks))
    assert again.tasks[first] == emulator.tasks[first]


async def test_a_long_lead_scroll_reads_a_snapshot_of_the_first_pages_matches() -> None:
    from lofty_async import LoftyClient

    emulator = LoftyEmulator(rate_limit=FixedWindowRateLimit(**NO_LIMIT), leads=range(1, 2_501))
    async with emulator.serve() as url, LoftyClient(api_key=SANDBOX_API_KEY, base_url=url) as lofty:
        seen = []
        async for lead in lofty.leads.iter(page_size=100):
            seen.append(lead.lead_id)
            if len(seen) == 150:
                emulator.add_lead(9_999_999)  # a lead created mid-scroll is not in this scroll
        assert len(seen) == len(set(seen)) == 2_500 and 9_999_999 not in seen
        assert len(emulator.lead_scrolls) == 1  # the matching ran once, on the first page
        fresh = [lead.lead_id async for lead in lofty.leads.iter(page_size=100)]
        assert len(fresh) == 2_501
