"""Exactly once under faults: the fault matrix, budgets, pacing, cancellation, resumption.

Every test runs the real client against an emulator over loopback and asserts the emulator's
final state: nothing duplicated, nothing lost.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from crm_core import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APITimeoutError,
    Event,
    EventKind,
    FakeClock,
    LocalRateLimiter,
    Outcome,
    ReconciliationError,
    RetryPolicy,
    RowResult,
    RowStatus,
    ServerError,
)
from crm_core._journal import Journal
from crm_core.emulator import TRANSPORT_FAULTS, FaultKind, FaultPlan, FixedWindowRateLimit
from lofty_async import LoftyClient
from lofty_async.testing import SANDBOX_API_KEY, LoftyEmulator, sandbox_lead_ids

LEAD = sandbox_lead_ids()[1]
CREATE: dict[str, Any] = {
    "type": "Call",
    "content": "Matrix task",
    "lead_id": LEAD,
    "assigned_role": "Agent",
    "end_at": "2027-01-01T10:00:00+00:00",
}
NO_LIMIT = FixedWindowRateLimit(limit=10**9, window=60)


def emulator_with(plan: FaultPlan) -> LoftyEmulator:
    plan.slow_seconds = 1.0
    return LoftyEmulator(faults=plan, rate_limit=FixedWindowRateLimit(limit=10**9, window=60))


def client(url: str, **kwargs: Any) -> LoftyClient:
    kwargs.setdefault("clock", FakeClock(start=time.time()))  # backoff sleeps return at once
    return LoftyClient(api_key=SANDBOX_API_KEY, base_url=url, timeout=0.4, seed=5, **kwargs)


@pytest.mark.parametrize("kind", TRANSPORT_FAULTS, ids=[k.value for k in TRANSPORT_FAULTS])
async def test_fault_matrix_create(kind: FaultKind) -> None:
    emulator = emulator_with(FaultPlan().add(kind, route="POST /v2.0/tasks", times=1))
    async with emulator.serve() as url, client(url) as lofty:
        task_id = await lofty.tasks.create(**CREATE)
    assert list(emulator.tasks) == [task_id]  # exactly once, whatever the fault
    posts = emulator.core.count("POST", "/v2.0/tasks")
    if kind.processes:
        assert posts == 1  # the write landed: found by the lookup, never re-sent
    else:
        assert posts == 2  # refused or dropped before processing: sent once more


@pytest.mark.parametrize("kind", TRANSPORT_FAULTS, ids=[k.value for k in TRANSPORT_FAULTS])
async def test_fault_matrix_idempotent_write_and_read(kind: FaultKind) -> None:
    emulator = emulator_with(FaultPlan())
    async with emulator.serve() as url, client(url) as lofty:
        task_id = await lofty.tasks.create(**CREATE)
        assert emulator.core.faults is not None
        emulator.core.faults.add(kind, route="PUT /v2.0/tasks/*", times=1)
        emulator.core.faults.add(kind, route="GET /v2.0/tasks/*", times=1)
        assert await lofty.tasks.update(task_id, content="Updated once") == "Operation successful"
        task = await lofty.tasks.get(task_id)
    assert task.content == "Updated once"
    assert emulator.tasks[task_id]["content"] == "Updated once" and len(emulator.tasks) == 1


@pytest.mark.parametrize(
    ("kind", "route", "error", "tasks_left"),
    [
        (FaultKind.THROTTLE, "GET /v2.0/tasks/*", None, 1),  # paced, not failed: waits it out
        (FaultKind.ERROR_503, "GET /v2.0/tasks/*", ServerError, 1),
        (FaultKind.RESET_BEFORE, "GET /v2.0/tasks/*", APIConnectionError, 1),
        (FaultKind.SLOW, "GET /v2.0/tasks/*", APITimeoutError, 1),
        (FaultKind.MALFORMED, "GET /v2.0/tasks/*", APIResponseValidationError, 1),
        (FaultKind.ERROR_503, "POST /v2.0/tasks", ServerError, 0),
        (FaultKind.ERROR_500, "POST /v2.0/tasks", ReconciliationError, 0),
        (FaultKind.RESET_AFTER, "POST /v2.0/tasks", None, 1),
    ],
)
async def test_the_right_error_when_the_budget_is_spent(
    kind: FaultKind, route: str, error: type[APIError] | None, tasks_left: int
) -> None:
    emulator = emulator_with(FaultPlan().add(kind, route=route, times=50))
    async with emulator.serve() as url, client(url, retry=RetryPolicy(max_retries=2)) as lofty:
        if route.startswith("GET") and error is None:
            # 50 429s with Retry-After: the server is pacing the call, which spends neither
            # max_retries nor the retry budget, so it succeeds once the server lets it.
            task_id = await lofty.tasks.create(**CREATE)
            assert (await lofty.tasks.get(task_id)).id == task_id
            assert lofty.http.http.retry_budget.spent == 0
        elif route.startswith("GET"):
            task_id = await lofty.tasks.create(**CREATE)
            assert error is not None
            with pytest.raises(error) as info:
                await lofty.tasks.get(task_id)
            assert info.value.attempts == 3
        elif error is None:
            await lofty.tasks.create(**CREATE)  # landed on the first try: found, not re-sent
        else:
            with pytest.raises(error) as failed:
                await lofty.tasks.create(**CREATE)
            expected = Outcome.NOT_SENT if kind is FaultKind.ERROR_503 else Outcome.MAYBE_PROCESSED
            assert failed.value.outcome is expected
    assert len(emulator.tasks) == tasks_left


async def test_pacing_gets_at_most_one_window_of_429s_and_then_none() -> None:
    window = 2.0
    emulator = LoftyEmulator(rate_limit=FixedWindowRateLimit(limit=20, window=window))
    started = time.time()
    async with emulator.serve() as url, LoftyClient(api_key=SANDBOX_API_KEY, base_url=url, max_concurrency=10) as lofty:
        summary = await lofty.tasks.create_many([{**CREATE, "content": f"Paced {i}"} for i in range(50)])
    assert summary.created == 50 and len(emulator.tasks) == 50
    throttled = [r for r in emulator.core.requests if r.status == 429]
    assert len(throttled) <= 20
    # The client read the headers from the first responses on: it waited for each window to
    # reopen instead of running into 429s, so none came after the first window.
    elapsed = time.time() - started
    assert elapsed >= window  # 50 writes cannot fit in one 20-request window
    assert all(r.status != 429 for r in list(emulator.core.requests)[20:])


async def test_cancelling_in_flight_creates_frees_everything_and_journals_maybe(tmp_path: Path) -> None:
    plan = FaultPlan(slow_seconds=30).add(FaultKind.SLOW, route="POST /v2.0/tasks", times=100)
    emulator = LoftyEmulator(faults=plan, rate_limit=NO_LIMIT)
    journal = Journal(tmp_path / "job.sqlite", job="cancel")
    on_wire = asyncio.Event()
    sent: list[Event] = []

    def on_event(event: Event) -> None:
        if event.kind is EventKind.REQUEST:
            sent.append(event)
            if len(sent) >= 3:
                on_wire.set()

    async with (
        emulator.serve() as url,
        LoftyClient(api_key=SANDBOX_API_KEY, base_url=url, max_concurrency=3, hooks=[on_event]) as lofty,
    ):
        job = asyncio.create_task(
            lofty.tasks.create_many([{**CREATE, "content": f"c{i}"} for i in range(6)], concurrency=3, journal=journal)
        )
        await on_wire.wait()  # three creates are on the wire
        job.cancel()
        with pytest.raises(asyncio.CancelledError):
            await job
        core = lofty.http
        assert core.concurrency.in_flight == 0
        assert core.http.limiter.snapshot().cooldown_remaining == 0
        limiter = core.http.limiter
        assert isinstance(limiter, LocalRateLimiter) and limiter.state.outstanding == 0
    states = journal.counts()
    journal.close()
    assert states == {"maybe": 3}  # the three on the wire may have landed: reconciled on resume


async def test_resuming_a_journaled_job_creates_each_row_once(tmp_path: Path) -> None:
    emulator = LoftyEmulator(rate_limit=NO_LIMIT)
    rows = [{**CREATE, "content": "Same row"} for _ in range(4)] + [{**CREATE, "content": f"Row {i}"} for i in range(4)]
    results: list[RowResult[int]] = []
    async with emulator.serve() as url:
        journal = Journal(tmp_path / "job.sqlite", job="resume")
        async with LoftyClient(api_key=SANDBOX_API_KEY, base_url=url) as lofty:
            await lofty.tasks.create_many(rows[:5], journal=journal)
        # Simulate a crash between sending row 6 and recording it: the write landed, the
        # journal still says "sending".
        async with LoftyClient(api_key=SANDBOX_API_KEY, base_url=url) as lofty:
            await lofty.tasks.create(**rows[5])
        journal.sending(
            6, __import__("crm_core._journal", fromlist=["row_fingerprint"]).row_fingerprint(rows[5]), time.time()
        )
        async with LoftyClient(api_key=SANDBOX_API_KEY, base_url=url) as lofty:
            summary = await lofty.tasks.create_many(rows, journal=journal, on_result=results.append)
        journal.close()
    assert len(emulator.tasks) == 8  # four identical rows stayed four tasks
    assert summary.skipped == 5 and summary.created == 3
    assert sorted(r.row_number for r in results if r.status is RowStatus.CREATED) == [6, 7, 8]
    assert emulator.core.count("POST", "/v2.0/tasks") == 8


async def test_a_429_on_one_client_pauses_another_client_with_the_same_key() -> None:
    plan = FaultPlan(retry_after=1.0).add(FaultKind.THROTTLE, route="GET /v2.0/tasks", times=1)
    emulator = LoftyEmulator(faults=plan, rate_limit=NO_LIMIT)
    async with emulator.serve() as url:
        first = LoftyClient(api_key=SANDBOX_API_KEY, base_url=url)
        second = LoftyClient(api_key=SANDBOX_API_KEY, base_url=url)
        other_key = LoftyClient(api_key="another-key", base_url=url)
        async with first, second, other_key:
            assert first.http.http.limiter is second.http.http.limiter
            assert first.http.http.limiter is not other_key.http.http.limiter
            await first.tasks.list(lead_id=LEAD)  # 429 with Retry-After: 1, then success
            assert second.http.http.limiter.wait_time() == 0  # the cooldown already passed
            first.http.http.limiter.pause(0.5)
            started = time.monotonic()
            await second.tasks.list(lead_id=LEAD)
            assert time.monotonic() - started >= 0.45  # paused by the shared cooldown
