"""``SuperfoneClient.with_options(...)`` views and ``with_raw_response``, on the shared core."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from crm_core import FakeClock
from crm_core._events import Event, EventKind
from crm_core._options import RawResponse
from crm_core.emulator import FaultKind, FaultPlan
from superfone_async import Lead, RetryPolicy, ServerError, SuperfoneClient, Task
from superfone_async.testing import SANDBOX_API_KEY, SuperfoneEmulator, sandbox_lead_ids, sandbox_lead_phone

LEAD = sandbox_lead_ids()[2]


@pytest.fixture
def state() -> SuperfoneEmulator:
    return SuperfoneEmulator(faults=FaultPlan())


@pytest.fixture
async def url(state: SuperfoneEmulator) -> AsyncIterator[str]:
    async with state.serve() as base:
        yield base


async def test_a_view_shares_the_client_and_closing_it_closes_nothing(url: str) -> None:
    async with SuperfoneClient(api_key=SANDBOX_API_KEY, base_url=url, rate_limit=None) as sf:
        view = sf.with_options(retry=RetryPolicy(max_retries=0), max_concurrency=2)
        assert isinstance(view, SuperfoneClient) and view.http is sf.http
        assert view.tasks.ledger is sf.tasks.ledger and view.tasks.converter is sf.tasks.converter
        task = await view.tasks.create(LEAD, type="REMINDER", due_date="2027-06-01T09:00:00Z")
        await view.aclose()  # a view: no-op
        assert [t.id async for t in sf.tasks.iter(LEAD)] == [task.id]


async def test_a_view_without_retries_fails_where_the_client_retries(url: str, state: SuperfoneEmulator) -> None:
    assert state.core.faults is not None
    phone = sandbox_lead_phone(LEAD)
    async with SuperfoneClient(api_key=SANDBOX_API_KEY, base_url=url, rate_limit=None, clock=FakeClock()) as sf:
        state.core.faults.add(FaultKind.ERROR_503, route="GET /enterprise/api/lead", times=1)
        with pytest.raises(ServerError):
            await sf.with_options(retry=RetryPolicy(max_retries=0)).leads.get(phone=phone)
        state.core.faults.add(FaultKind.ERROR_503, route="GET /enterprise/api/lead", times=1)
        lead = await sf.leads.get(phone=phone)  # the client's own policy retries
    assert lead.id == LEAD


async def test_a_view_caps_its_own_concurrency_under_gather(url: str, state: SuperfoneEmulator) -> None:
    assert state.core.faults is not None
    state.core.faults.slow_seconds = 0.05
    state.core.faults.add(FaultKind.SLOW, route="GET /enterprise/api/label", times=40)
    in_flight = 0
    peak = 0

    def track(event: Event) -> None:
        nonlocal in_flight, peak
        if event.kind is EventKind.REQUEST:
            in_flight += 1
            peak = max(peak, in_flight)
        elif event.kind is EventKind.RESPONSE:
            in_flight -= 1

    async with SuperfoneClient(
        api_key=SANDBOX_API_KEY, base_url=url, rate_limit=None, max_concurrency=8, hooks=[track]
    ) as sf:
        await asyncio.gather(*(sf.labels.list() for _ in range(16)))
        client_peak, peak = peak, 0
        narrow = sf.with_options(max_concurrency=2)
        await asyncio.gather(*(narrow.labels.list() for _ in range(16)))
    assert client_peak > 2
    assert peak <= 2


async def test_raw_response_gives_status_headers_and_the_model_from_one_request(
    url: str, state: SuperfoneEmulator
) -> None:
    async with SuperfoneClient(api_key=SANDBOX_API_KEY, base_url=url, rate_limit=None) as sf:
        before = len(state.core.requests)
        raw = await sf.with_raw_response.leads.get(phone=sandbox_lead_phone(LEAD))
        assert len(state.core.requests) == before + 1
        created = await sf.with_options(max_concurrency=1).with_raw_response.tasks.create(
            LEAD, type="REMINDER", due_date="2027-06-01T09:00:00Z"
        )
    assert isinstance(raw, RawResponse) and isinstance(raw.parsed, Lead) and raw.parsed.id == LEAD
    assert raw.status == 200 and raw.headers["Content-Type"].startswith("application/json")
    assert isinstance(created.parsed, Task) and created.parsed.customer_id == LEAD
