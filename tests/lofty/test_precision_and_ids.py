"""Issue 8 §2 (Lofty side): server precision in reconciliation, and unusable IDs in 2xx bodies."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from aioresponses import aioresponses

from crm_core import APIResponseValidationError, FakeClock, Outcome, ReconciliationError
from crm_core._converter import parse_int, same_instant_at_precision
from crm_core.emulator import FaultKind, FaultPlan, FixedWindowRateLimit
from lofty_async import LoftyClient
from lofty_async.testing import SANDBOX_API_KEY, LoftyEmulator, sandbox_lead_ids

BASE = "https://api.lofty.com"
LEAD = 563172647619608
SECOND = timedelta(seconds=1)


def test_precision_accepts_exact_truncated_and_rounded_forms() -> None:
    sent = datetime(2026, 3, 1, 15, 0, 0, 750_000, tzinfo=timezone(timedelta(hours=-8)))
    truncated = datetime(2026, 3, 1, 23, 0, 0, tzinfo=UTC)
    rounded = datetime(2026, 3, 1, 23, 0, 1, tzinfo=UTC)
    assert same_instant_at_precision(sent, sent)
    assert same_instant_at_precision(sent, truncated)
    assert same_instant_at_precision(sent, rounded)
    assert not same_instant_at_precision(sent, rounded + SECOND)
    assert not same_instant_at_precision(sent, truncated - SECOND)
    early = sent.replace(microsecond=250_000)
    assert same_instant_at_precision(early, truncated)
    assert not same_instant_at_precision(early, rounded)  # .25 never rounds up
    ms = timedelta(milliseconds=1)
    assert same_instant_at_precision(sent.replace(microsecond=750_400), sent.replace(microsecond=750_000), precision=ms)
    with pytest.raises(ValueError, match="naive"):
        same_instant_at_precision(sent.replace(tzinfo=None), truncated)


def test_parse_int_never_truncates() -> None:
    assert parse_int(12) == 12
    assert parse_int("563172647619608") == 563172647619608
    assert parse_int(5.0) == 5
    for bad in (12.9, "abc", True, None, "1.5"):
        with pytest.raises(ValueError, match="not an integer"):
            parse_int(bad)


def _task_json(task_id: int, end_at: str, content: str = "Precise") -> dict[str, Any]:
    return {
        "id": task_id,
        "leadId": LEAD,
        "content": content,
        "type": "Call",
        "endAt": end_at,
        "timeZoneCode": "America/Los_Angeles",
    }


def _client() -> LoftyClient:
    return LoftyClient(api_key="k", clock=FakeClock(start=time.time()), seed=1)


@pytest.mark.parametrize("bad_id", ["abc", None, 12.9, True, -5, "12.9"])
async def test_unusable_task_id_is_looked_up_not_trusted(bad_id: object) -> None:
    async with _client() as lofty:
        with aioresponses() as mock:
            mock.post(f"{BASE}/v2.0/tasks", payload={"taskId": bad_id})
            # Lofty stores whole seconds and rounds here: .600 -> :01
            listing = {"tasks": [_task_json(777, "2026-03-02T00:00:01GMT")]}
            mock.get(re.compile(rf"{BASE}/v2.0/tasks\?leadId={LEAD}.*"), payload=listing, repeat=True)
            task_id = await lofty.tasks.create(
                type="Call",
                content="Precise",
                lead_id=LEAD,
                assigned_role="Agent",
                end_at="2026-03-01T16:00:00.600-08:00",
            )
            posts = [k for k in mock.requests if k[0] == "POST"]
            assert task_id == 777
            assert len(mock.requests[posts[0]]) == 1  # never re-sent: the write happened


@pytest.mark.parametrize("bad_id", ["abc", None, 12.9])
async def test_unusable_id_without_a_match_raises_processed(bad_id: object) -> None:
    async with _client() as lofty:
        with aioresponses() as mock:
            mock.post(f"{BASE}/v2.0/tasks", payload={"taskId": bad_id})
            mock.get(re.compile(rf"{BASE}/v2.0/tasks\?leadId=.*"), payload={"tasks": []}, repeat=True)
            with pytest.raises(ReconciliationError) as caught:
                await lofty.tasks.create(
                    type="Call", content="x", lead_id=LEAD, assigned_role="Agent", end_at="2026-03-01T16:00:00Z"
                )
            assert caught.value.status == 200  # the 2xx whose ID was unusable: looked up, not found
            posts = [k for k in mock.requests if k[0] == "POST"]
            assert len(mock.requests[posts[0]]) == 1  # looked up, not re-sent


async def test_unusable_id_with_reconciliation_off_is_the_typed_error() -> None:
    async with LoftyClient(api_key="k", reconcile=False) as lofty:
        with aioresponses() as mock:
            mock.post(f"{BASE}/v2.0/tasks", payload={"taskId": 12.9})
            with pytest.raises(APIResponseValidationError) as caught:
                await lofty.tasks.create(
                    type="Call", content="x", lead_id=LEAD, assigned_role="Agent", end_at="2026-03-01T16:00:00Z"
                )
            assert caught.value.outcome is Outcome.PROCESSED
            assert "12.9" in caught.value.message


@pytest.mark.parametrize(
    ("path", "key", "call"),
    [
        ("/v1.0/leads/5", "leadId", lambda lofty: lofty.leads.update(5, stage="Contacted")),
        ("/v1.0/leads/5/assignment", "leadId", lambda lofty: lofty.leads.assign(5, ["agent@example.com"])),
    ],
)
async def test_unusable_lead_id_is_a_typed_error(path: str, key: str, call: Any) -> None:
    async with _client() as lofty:
        with aioresponses() as mock:
            mock.put(f"{BASE}{path}", payload={key: 12.9})
            mock.post(f"{BASE}{path}", payload={key: 12.9})
            with pytest.raises(APIResponseValidationError) as caught:
                await call(lofty)
            assert caught.value.outcome is Outcome.PROCESSED


async def test_unusable_calendar_and_v1_ids() -> None:
    async with _client() as lofty:
        with aioresponses() as mock:
            mock.post(f"{BASE}/v2.0/calendar", payload={"data": {"id": 12.9, "type": "TASK"}})
            mock.get(
                re.compile(rf"{BASE}/v2.0/calendar\?.*"),
                payload={"data": {"total": 0, "page": 0, "pageSize": 100, "items": []}},
                repeat=True,
            )
            with pytest.raises(ReconciliationError) as caught:
                await lofty.calendar.create(
                    type="TASK",
                    content="c",
                    lead_id=LEAD,
                    time_zone_code="UTC",
                    start_at="2027-03-01T15:00:00Z",
                    end_at="2027-03-01T16:00:00Z",
                    task_way="Call",
                )
            assert caught.value.status == 200
            mock.post(f"{BASE}/v1.0/tasks", payload={"taskId": "abc"})
            deadline_read_back = {
                "taskList": [
                    {"id": 31, "leadId": LEAD, "content": "v1", "type": "Call", "deadline": "2027-03-01 16:00:00"}
                ]
            }
            mock.get(re.compile(rf"{BASE}/v1.0/tasks\?leadId=.*"), payload=deadline_read_back, repeat=True)
            task_id = await lofty.v1.tasks.create(
                content="v1", lead_id=LEAD, deadline="2027-03-01T08:00:00.400-08:00", type="Call", assigned_role="Agent"
            )
            assert task_id == 31  # matched at whole seconds (truncated), not re-sent


@pytest.mark.parametrize("fault", [FaultKind.ERROR_504, FaultKind.RESET_AFTER])
async def test_fractional_times_with_offsets_match_their_stored_form(fault: FaultKind) -> None:
    """The emulator stores whole seconds and reads back '...GMT'; an ambiguous create still lands once."""
    plan = FaultPlan().add(fault, route="POST /v2.0/tasks", times=3)
    emulator = LoftyEmulator(faults=plan, rate_limit=FixedWindowRateLimit(limit=10**9, window=60))
    lead = sandbox_lead_ids()[1]
    async with (
        emulator.serve() as url,
        LoftyClient(
            api_key=SANDBOX_API_KEY, base_url=url, timeout=2, seed=3, clock=FakeClock(start=time.time())
        ) as lofty,
    ):
        ids = []
        for n, offset in enumerate((-8, 0, 5)):
            zone = timezone(timedelta(hours=offset, minutes=30 if offset == 5 else 0))
            end = datetime(2027, 1, 1, 10, 0, n, 987_654, tzinfo=zone)
            ids.append(
                await lofty.tasks.create(
                    type="Call",
                    content=f"Fractional {n}",
                    lead_id=lead,
                    assigned_role="Agent",
                    start_at=end - timedelta(minutes=30, microseconds=123_456),
                    end_at=end,
                )
            )
    assert sorted(emulator.tasks) == sorted(ids)  # exactly once each
    assert emulator.core.count("POST", "/v2.0/tasks") == 3  # found by the lookup, never re-sent


@pytest.mark.parametrize("bad_id", ["abc", None, 12.9])
async def test_bad_id_fault_from_the_emulator_leaves_each_create_once(bad_id: object) -> None:
    """The emulator answers 2xx with an unusable id after storing: every resource looks it up."""
    plan = FaultPlan(seed=1)
    plan.bad_ids = (bad_id,)
    for route in ("POST /v2.0/tasks", "POST /v2.0/calendar", "POST /v1.0/tasks", "POST /v1.0/leads"):
        plan.add(FaultKind.BAD_ID, route=route, times=1)
    emulator = LoftyEmulator(faults=plan, rate_limit=FixedWindowRateLimit(limit=10**9, window=60))
    lead = sandbox_lead_ids()[2]
    async with (
        emulator.serve() as url,
        LoftyClient(api_key=SANDBOX_API_KEY, base_url=url, seed=3, clock=FakeClock(start=time.time())) as lofty,
    ):
        task_id = await lofty.tasks.create(
            type="Call",
            content="bad id",
            lead_id=lead,
            assigned_role="Agent",
            end_at=datetime(2027, 2, 1, 10, 0, 0, 400_000, tzinfo=UTC),
        )
        event = await lofty.calendar.create(
            type="APPOINTMENT",
            content="bad id event",
            lead_id=lead,
            time_zone_code="America/New_York",
            start_at=datetime(2027, 2, 2, 10, 0, 0, 900_000, tzinfo=UTC),
            end_at=datetime(2027, 2, 2, 11, 0, tzinfo=UTC),
        )
        v1_id = await lofty.v1.tasks.create(
            content="bad id v1",
            lead_id=lead,
            deadline=datetime(2027, 2, 3, 10, 0, 0, 500_000, tzinfo=UTC),
            type="Call",
            assigned_role="Agent",
        )
        lead_id = await lofty.leads.create(first_name="Bad", emails=["bad.id@example.com"])
        assert task_id in emulator.tasks
        assert int(event.id.split("-")[0]) in emulator.tasks
        assert (await lofty.v1.tasks.get(v1_id)).content == "bad id v1"
        assert (await lofty.leads.get(lead_id)).first_name == "Bad"
        assert [t.content for t in await lofty.tasks.list(lead_id=lead)].count("bad id") == 1
    assert plan.injected.get(FaultKind.BAD_ID) == 4
    for path in ("/v2.0/tasks", "/v2.0/calendar", "/v1.0/tasks", "/v1.0/leads"):
        assert emulator.core.count("POST", path) == 1, path  # looked up, never re-sent
