"""Issue 11 §3 for Lofty: client views, raw responses, unknown fields kept, resumable iteration."""

from __future__ import annotations

import asyncio
import inspect
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import cattrs
import pytest

from crm_core import APITimeoutError, Event, EventKind, FakeClock, RetryPolicy, ServerError
from crm_core._converter import make_converter
from crm_core._options import RawResponse
from crm_core.emulator import FaultPlan, FixedWindowRateLimit
from lofty_async import (
    AppointmentsV1,
    Calendar,
    Lead,
    Leads,
    LoftyClient,
    Task,
    Tasks,
    TasksV1,
    Webhooks,
)
from lofty_async._raw import (
    AppointmentsV1WithRawResponse,
    CalendarWithRawResponse,
    LeadsWithRawResponse,
    TasksV1WithRawResponse,
    TasksWithRawResponse,
    WebhooksWithRawResponse,
)
from lofty_async.testing import SANDBOX_API_KEY, LoftyEmulator, sandbox_lead_ids

LEAD = sandbox_lead_ids()[1]


def task_args(n: int) -> dict[str, Any]:
    day = datetime(2027, 3, 1, 15, tzinfo=UTC) + timedelta(days=n)
    return {
        "type": "Call",
        "content": f"Task {n}",
        "lead_id": LEAD,
        "assigned_role": "Agent",
        "start_at": day,
        "end_at": day + timedelta(hours=1),
    }


class InFlight:
    """An event hook measuring requests in flight at once."""

    def __init__(self) -> None:
        self.now = 0
        self.peak = 0

    def __call__(self, event: Event) -> None:
        if event.kind is EventKind.REQUEST:
            self.now += 1
            self.peak = max(self.peak, self.now)
        elif event.kind is EventKind.RESPONSE:
            self.now -= 1


async def test_with_options_is_a_view_sharing_session_limiter_and_budget(lofty_url: str) -> None:
    flight = InFlight()
    async with LoftyClient(api_key=SANDBOX_API_KEY, base_url=lofty_url, max_concurrency=8, hooks=[flight]) as lofty:
        view = lofty.with_options(max_concurrency=2, retry=RetryPolicy(max_retries=1))
        assert view.http is lofty.http  # same core: session, limiter, concurrency, budget, ledger
        assert view.tasks.session is not lofty.tasks.session
        assert view.tasks.ledger is lofty.tasks.ledger
        ids = await asyncio.gather(*(view.tasks.create(**task_args(n)) for n in range(12)))
        assert flight.peak <= 2  # the view's cap, many gathered calls
        assert len(set(ids)) == 12
        flight.peak = 0
        await asyncio.gather(*(lofty.tasks.get(task_id) for task_id in ids))
        assert 2 < flight.peak <= 8  # the client itself keeps its own cap
        await view.aclose()  # closing a view closes nothing
        assert (await lofty.tasks.get(ids[0])).id == ids[0]
        nested = view.with_options(timeout=None)
        assert nested.tasks.session.options.max_concurrency == 2  # type: ignore[attr-defined]


async def test_with_options_retry_policy_applies_to_the_view_only() -> None:
    emulator = LoftyEmulator(faults=FaultPlan(), rate_limit=FixedWindowRateLimit(limit=10**9, window=60))
    async with emulator.serve() as url:
        clock = FakeClock(start=time.time())
        async with LoftyClient(api_key=SANDBOX_API_KEY, base_url=url, clock=clock, seed=1) as lofty:
            task_id = await lofty.tasks.create(**task_args(0))
            assert emulator.core.faults is not None
            emulator.core.faults.add("503", route="GET /v2.0/tasks/*", times=1)
            no_retry = lofty.with_options(retry=RetryPolicy(max_retries=0))
            with pytest.raises(ServerError) as caught:
                await no_retry.tasks.get(task_id)
            assert caught.value.status == 503 and caught.value.attempts == 1
            emulator.core.faults.add("503", route="GET /v2.0/tasks/*", times=1)
            assert (await lofty.tasks.get(task_id)).id == task_id  # the client still retries


def test_with_options_checks_its_arguments() -> None:
    lofty = LoftyClient(api_key="k")
    with pytest.raises(ValueError, match="timeout"):
        lofty.with_options(timeout=0)
    with pytest.raises(ValueError, match="max_concurrency"):
        lofty.with_options(max_concurrency=0)


async def test_raw_response_gives_status_headers_and_model_from_one_request(
    lofty: LoftyClient, lofty_state: LoftyEmulator
) -> None:
    ids = [await lofty.tasks.create(**task_args(n)) for n in range(5)]
    before = lofty_state.core.count("GET", "/v2.0/tasks/*")
    raws = await asyncio.gather(*(lofty.with_raw_response.tasks.get(task_id) for task_id in ids))
    for task_id, raw in zip(ids, raws, strict=True):
        assert isinstance(raw, RawResponse)
        assert isinstance(raw.parsed, Task) and raw.parsed.id == task_id
        assert raw.status == 200
        assert raw.http_response.request.path == f"/v2.0/tasks/{task_id}"  # each call its own response
        assert int(raw.headers["X-RateLimit-Remaining"]) >= 0
        assert len(raw.responses) == 1
    assert lofty_state.core.count("GET", "/v2.0/tasks/*") - before == 5  # no second request
    created = await lofty.with_options(max_concurrency=1).with_raw_response.tasks.create(**task_args(9))
    assert isinstance(created.parsed, int) and created.status == 200
    listed = await lofty.with_raw_response.v1.tasks.list(lead_id=LEAD)
    assert listed.status == 200 and {t.id for t in listed.parsed} >= set(ids)
    me = await lofty.with_raw_response.me()
    assert me.parsed.id is not None and me.http_response.request.path == "/v1.0/me"
    listed_v2 = await lofty.with_raw_response.tasks.list(lead_id=LEAD)
    assert {t.id for t in listed_v2.parsed} >= set(ids) and listed_v2.status == 200


@pytest.mark.parametrize(
    ("resource", "raw"),
    [
        (Tasks, TasksWithRawResponse),
        (Calendar, CalendarWithRawResponse),
        (Leads, LeadsWithRawResponse),
        (Webhooks, WebhooksWithRawResponse),
        (TasksV1, TasksV1WithRawResponse),
        (AppointmentsV1, AppointmentsV1WithRawResponse),
    ],
)
def test_raw_views_cover_every_coroutine_method(resource: type[Any], raw: type[Any]) -> None:
    lofty = LoftyClient(api_key="k")
    instance = {
        Tasks: lofty.tasks,
        Calendar: lofty.calendar,
        Leads: lofty.leads,
        Webhooks: lofty.webhooks,
        TasksV1: lofty.v1.tasks,
        AppointmentsV1: lofty.v1.appointments,
    }[resource]
    public = {
        name
        for name, member in inspect.getmembers(resource)
        if not name.startswith("_") and inspect.iscoroutinefunction(member)
    }
    assert public == set(vars(raw(instance)))


def test_models_keep_unknown_fields_and_write_them_back() -> None:
    wire = {"id": 7, "content": "c", "endAt": "2026-03-01T23:00:00GMT", "newField": {"a": [1]}, "zeta": None}
    lenient = make_converter(naming="camel")
    task = lenient.structure(wire, Task)
    assert task.id == 7 and task.extra == {"newField": {"a": [1]}, "zeta": None}
    out = lenient.unstructure(task)
    assert out["newField"] == {"a": [1]} and "zeta" in out and "extra" not in out
    assert lenient.structure(out, Task) == task  # round trip
    assert lenient.structure({"id": 7}, Task).extra == {}
    nested = lenient.structure({"leadId": 1, "tags": [{"tagName": "x", "colour": "red"}]}, Lead)
    assert nested.tags is not None and nested.tags[0].extra == {"colour": "red"}
    strict = make_converter(naming="camel", strict=True)
    with pytest.raises(cattrs.BaseValidationError) as caught:
        strict.structure(wire, Task)
    assert "newField" in "; ".join(cattrs.transform_error(caught.value))


async def test_leads_iteration_resumes_from_a_saved_scroll_id(lofty: LoftyClient, lofty_state: LoftyEmulator) -> None:
    everyone = {lead.lead_id async for lead in lofty.leads.iter(page_size=7)}
    assert len(everyone) == len(lofty_state.leads)
    first_run: list[int | None] = []
    leads = lofty.leads.iter(page_size=7)
    saved: str | None = None
    async for lead in leads:
        first_run.append(lead.lead_id)
        if leads.at_page_end:
            saved = leads.scroll_id
        if len(first_run) == 17:  # "crash" in the middle of the third page
            break
    assert saved is not None and leads.pages_fetched == 3
    resumed = lofty.leads.iter(page_size=7, scroll_id=saved)
    second_run = [lead.lead_id async for lead in resumed]
    assert resumed.exhausted
    assert set(first_run[:14]) | set(second_run) == everyone  # nothing skipped
    assert not set(first_run[:14]) & set(second_run)  # checkpointed pages not repeated
    assert set(first_run[14:]) <= set(second_run)  # the unfinished page comes again


async def test_my_tasks_resumes_from_a_saved_current_id(lofty: LoftyClient) -> None:
    created = {await lofty.tasks.create(**task_args(n)) for n in range(11)}
    tasks = lofty.tasks.my_tasks(limit=4)
    handled: list[int | None] = []
    async for task in tasks:
        handled.append(task.id)
        checkpoint = tasks.current_id  # saved after every item
        if len(handled) == 6:
            break
    resumed = [t.id async for t in lofty.tasks.my_tasks(limit=4, current_id=checkpoint)]
    assert set(handled) | set(resumed) == created
    assert len(handled) + len(resumed) <= 11 + 4  # at most one page repeated


async def test_calendar_iteration_resumes_from_a_saved_page(lofty: LoftyClient) -> None:
    start = datetime(2027, 5, 1, 9, tzinfo=UTC)
    for n in range(8):
        await lofty.calendar.create(
            type="APPOINTMENT",
            content=f"Event {n}",
            lead_id=LEAD,
            time_zone_code="UTC",
            start_at=start + timedelta(hours=n),
            end_at=start + timedelta(hours=n, minutes=30),
        )
    window: dict[str, Any] = {"start_time": start, "end_time": start + timedelta(days=1), "page_size": 3}
    events = lofty.calendar.iter(**window)
    seen = []
    async for event in events:
        seen.append(event.id)
        if events.at_page_end:
            break
    assert events.page == 1 and len(seen) == 3
    rest = [e.id async for e in lofty.calendar.iter(**window, page=events.page)]
    assert len(set(seen) | set(rest)) == 8 and len(rest) == 5


async def test_with_options_timeout_applies_to_the_view_only() -> None:
    plan = FaultPlan()
    plan.slow_seconds = 1.0
    emulator = LoftyEmulator(faults=plan, rate_limit=FixedWindowRateLimit(limit=10**9, window=60))
    async with (
        emulator.serve() as url,
        LoftyClient(api_key=SANDBOX_API_KEY, base_url=url, timeout=10, seed=1) as lofty,
    ):
        task_id = await lofty.tasks.create(**task_args(0))
        plan.add("slow", route="GET /v2.0/tasks/*", times=1)
        hasty = lofty.with_options(timeout=0.2, retry=RetryPolicy(max_retries=0))
        with pytest.raises(APITimeoutError):
            await hasty.tasks.get(task_id)
        plan.add("slow", route="GET /v2.0/tasks/*", times=1)
        assert (await lofty.tasks.get(task_id)).id == task_id  # the client's own 10 s still applies
        emulator.core.stop_slow_responses()
