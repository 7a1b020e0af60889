"""Behaviour of all eight V2 task endpoints against the emulator over loopback."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from crm_core.emulator import FaultPlan, FixedWindowRateLimit
from lofty_async import (
    AuthenticationError,
    BadRequestError,
    LoftyClient,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RetryPolicy,
)
from lofty_async.testing import (
    SANDBOX_ACCESS_TOKEN,
    SANDBOX_API_KEY,
    LoftyEmulator,
    sandbox_lead_ids,
)

LEAD = sandbox_lead_ids()[0]
CREATE: dict[str, Any] = {
    "type": "Call",
    "content": "Call back about the pre-approval",
    "lead_id": LEAD,
    "assigned_role": "Agent",
    "start_at": "2026-03-01T15:00:00-08:00",
    "end_at": "2026-03-01T16:00:00-08:00",
    "time_zone_code": "America/Los_Angeles",
}


async def test_all_eight_endpoints(lofty: LoftyClient, lofty_state: LoftyEmulator) -> None:
    task_id = await lofty.tasks.create(**CREATE)
    appointment_id = await lofty.tasks.create(**{**CREATE, "type": "Appointment", "address": "1 Main St"})
    assert task_id != appointment_id and task_id > 2**32  # int64 IDs, one ID space

    task = await lofty.tasks.get(task_id)
    assert task.content == CREATE["content"] and task.lead_id == LEAD
    assert task.start_at == datetime(2026, 3, 1, 23, 0, tzinfo=UTC)
    assert task.finish_flag is False and task.create_time is not None

    listed = await lofty.tasks.list(lead_id=LEAD)
    assert [t.id for t in listed] == [task_id, appointment_id]
    assert listed[1].address == "1 Main St"

    assert (
        await lofty.tasks.update(task_id, content="Changed", end_at="2026-03-01T17:00:00-08:00")
        == "Operation successful"
    )
    changed = await lofty.tasks.get(task_id)
    assert changed.content == "Changed" and changed.end_at == datetime(2026, 3, 2, 1, 0, tzinfo=UTC)

    await lofty.tasks.finish(task_id)
    assert (await lofty.tasks.get(task_id)).finish_flag is True
    await lofty.tasks.unfinish(task_id)
    assert (await lofty.tasks.get(task_id)).finish_flag is False

    mine = [t.id async for t in lofty.tasks.my_tasks(limit=1)]
    assert sorted(t for t in mine if t is not None) == sorted([task_id, appointment_id])

    await lofty.tasks.delete(appointment_id)
    with pytest.raises(NotFoundError) as info:
        await lofty.tasks.get(appointment_id)
    assert info.value.code == "TASK_NOT_EXIST"
    assert list(lofty_state.tasks) == [task_id]


async def test_my_tasks_follows_the_cursor_over_many_pages(lofty: LoftyClient) -> None:
    created = {
        await lofty.tasks.create(
            **{**CREATE, "end_at": f"2026-03-{day:02d}T16:00:00-08:00", "start_at": f"2026-03-{day:02d}T15:00:00-08:00"}
        )
        for day in range(1, 24)
    }
    seen = [t async for t in lofty.tasks.my_tasks(limit=5)]
    assert {t.id for t in seen} == created and len(seen) == 23
    starts = [t.start_at for t in seen if t.start_at is not None]
    assert len(starts) == 23 and starts == sorted(starts, reverse=True)


async def test_server_side_errors_map_to_typed_errors(lofty: LoftyClient, lofty_state: LoftyEmulator) -> None:
    with pytest.raises(PermissionDeniedError) as denied:
        await lofty.tasks.create(**{**CREATE, "lead_id": 12345})
    assert denied.value.status == 400 and denied.value.code == 20017
    with pytest.raises(NotFoundError) as missing:
        await lofty.tasks.list(lead_id=12345)
    assert missing.value.code == 20006
    task_id = await lofty.tasks.create(**CREATE)
    lofty_state.smart_plan_tasks.add(task_id)
    with pytest.raises(BadRequestError) as smart:
        await lofty.tasks.finish(task_id)
    assert smart.value.code == "TASK_IS_SMARTPLAN"


async def test_auth_schemes(lofty_url: str) -> None:
    async with LoftyClient(access_token=SANDBOX_ACCESS_TOKEN, base_url=lofty_url) as ok:
        assert await ok.tasks.list(lead_id=LEAD) == []
    async with LoftyClient(access_token=SANDBOX_API_KEY, base_url=lofty_url) as wrong_scheme:
        with pytest.raises(AuthenticationError) as info:
            await wrong_scheme.tasks.list(lead_id=LEAD)
    assert info.value.status == 400 and info.value.code == 200058
    async with LoftyClient(api_key="not-a-key", base_url=lofty_url) as bad:
        with pytest.raises(AuthenticationError) as unauthorized:
            await bad.tasks.list(lead_id=LEAD)
    assert unauthorized.value.status == 401
    assert "not-a-key" not in str(unauthorized.value)


async def test_rate_limit_headers_and_429_body() -> None:
    emulator = LoftyEmulator(rate_limit=FixedWindowRateLimit(limit=3, window=3600), log_bodies=True)
    async with (
        emulator.serve() as url,
        LoftyClient(api_key=SANDBOX_API_KEY, base_url=url, retry=RetryPolicy(max_retry_after=5)) as lofty,
    ):
        for _ in range(3):
            await lofty.tasks.list(lead_id=LEAD)
        with pytest.raises(RateLimitError) as info:
            await lofty.tasks.list(lead_id=LEAD)
    # The client paced itself from the headers: it never sent the 4th request, and says when
    # the window reopens.
    assert info.value.retry_at is not None and info.value.retry_at > datetime.now(UTC).timestamp()
    assert emulator.core.count("GET") == 3
    first = emulator.core.requests[0]
    assert first.headers["Authorization"] == "***"


async def test_emulator_answers_429_with_documented_body_and_headers() -> None:
    import aiohttp

    emulator = LoftyEmulator(rate_limit=FixedWindowRateLimit(limit=1, window=3600))
    async with emulator.serve() as url, aiohttp.ClientSession() as http:
        headers = {"Authorization": f"token {SANDBOX_API_KEY}"}
        async with http.get(f"{url}/v2.0/tasks", params={"leadId": LEAD}, headers=headers) as first:
            assert first.headers["X-RateLimit-Limit"] == "1"
            assert first.headers["X-RateLimit-Remaining"] == "0"
            assert int(first.headers["X-RateLimit-Reset"]) > 1e9
        async with http.get(f"{url}/v2.0/tasks", params={"leadId": LEAD}, headers=headers) as second:
            assert second.status == 429
            assert await second.json() == {"message": "Too Many Requests"}


async def test_create_after_a_lost_response_is_reconciled_not_duplicated() -> None:
    plan = FaultPlan().add("reset-after", route="POST /v2.0/tasks", times=1)
    emulator = LoftyEmulator(faults=plan, rate_limit=FixedWindowRateLimit(limit=10_000))
    async with emulator.serve() as url, LoftyClient(api_key=SANDBOX_API_KEY, base_url=url) as lofty:
        task_id = await lofty.tasks.create(**CREATE)
    assert list(emulator.tasks) == [task_id]
    assert emulator.core.count("POST", "/v2.0/tasks") == 1
    assert emulator.core.count("GET", "/v2.0/tasks") == 1


async def test_create_without_reconciliation_says_it_may_have_landed() -> None:
    from lofty_async import APIConnectionError, Outcome

    plan = FaultPlan().add("reset-after", route="POST /v2.0/tasks", times=1)
    emulator = LoftyEmulator(faults=plan, rate_limit=FixedWindowRateLimit(limit=10_000))
    async with emulator.serve() as url, LoftyClient(api_key=SANDBOX_API_KEY, base_url=url, reconcile=False) as lofty:
        with pytest.raises(APIConnectionError) as info:
            await lofty.tasks.create(**CREATE)
    assert info.value.outcome is Outcome.MAYBE_PROCESSED
    assert "may have been processed" in str(info.value)
    assert emulator.core.count("POST", "/v2.0/tasks") == 1  # not re-sent blindly
    assert len(emulator.tasks) == 1


def test_pytest_fixture_serves_an_emulator(lofty_emulator: object) -> None:
    import asyncio

    from lofty_async.testing import LoftySandbox

    assert isinstance(lofty_emulator, LoftySandbox)

    async def use() -> int:
        async with lofty_emulator.client() as lofty:
            return await lofty.tasks.create(**CREATE)

    task_id = asyncio.run(use())
    assert task_id in lofty_emulator.emulator.tasks
