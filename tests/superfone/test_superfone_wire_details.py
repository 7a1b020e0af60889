"""Superfone wire details: Complete Task has no body (so no Content-Type); task types the docs
call "currently allowed" are checked, with a deliberate escape hatch for newer ones."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import pytest
from aioresponses import aioresponses

from crm_core import FakeClock, RowResult
from crm_core._bulk import RowStatus
from superfone_async import BadRequestError, SuperfoneClient, Task, ValidationError
from superfone_async.testing import SANDBOX_API_KEY, SuperfoneEmulator, SuperfoneSandbox, sandbox_lead_ids

BASE = "https://prod-api.superfone.co.in/superfone"
LEAD = sandbox_lead_ids()[5]


@pytest.fixture
def state() -> SuperfoneEmulator:
    return SuperfoneEmulator(log_bodies=True)  # these tests read request headers and bodies


@pytest.fixture
async def sf(state: SuperfoneEmulator) -> AsyncIterator[SuperfoneClient]:
    async with (
        state.serve() as url,
        SuperfoneClient(api_key=SANDBOX_API_KEY, base_url=url, strict_responses=True, rate_limit=None) as client,
    ):
        yield client


def _header(headers: Mapping[str, str], name: str) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == name.lower()), None)


async def test_complete_task_sends_no_body_and_no_content_type(sf: SuperfoneClient, state: SuperfoneEmulator) -> None:
    await sf.tasks.create(LEAD, type="REMINDER", due_date="2027-06-01T09:00:00Z")
    closed = await sf.tasks.complete(LEAD)
    assert closed.task_status == "COMPLETE"
    create, complete = [r for r in state.core.requests if r.method == "POST"]
    assert _header(create.headers, "Content-Type") == "application/json"
    assert complete.path.endswith("/task/complete") and complete.body is None
    assert _header(complete.headers, "Content-Type") is None  # not application/octet-stream
    assert _header(complete.headers, "Content-Length") in (None, "0")


async def test_reads_send_no_content_type_either(sf: SuperfoneClient, state: SuperfoneEmulator) -> None:
    await sf.tasks.list(LEAD)
    await sf.labels.list(text="hot")
    assert all(_header(r.headers, "Content-Type") is None for r in state.core.requests)


# -- task types ----------------------------------------------------------------------------


async def test_unknown_type_is_refused_before_sending_and_names_the_escape_hatch() -> None:
    async with SuperfoneClient(api_key="k", rate_limit=None) as sf:
        with aioresponses() as mock:
            with pytest.raises(ValidationError) as info:
                await sf.tasks.create(12345, type="SITE_INSPECTION", due_date="2027-05-20T15:00:00Z")
            assert mock.requests == {}
    assert info.value.field == "type"
    assert "allow_unknown=True" in str(info.value) and "FOLLOW_UP_CALL" in str(info.value)


async def test_allow_unknown_sends_a_type_newer_than_the_sdk() -> None:
    task = {
        "id": 9,
        "customer_id": 12345,
        "type": "SITE_INSPECTION",
        "type_name": "Site inspection",
        "due_date": "2027-05-20T15:00:00.000Z",
        "task_status": "PENDING",
    }
    async with SuperfoneClient(api_key="k", rate_limit=None, clock=FakeClock(start=1_779_000_000)) as sf:
        with aioresponses() as mock:
            mock.post(f"{BASE}/enterprise/api/lead/12345/task", payload={"data": task, "message": "success"})
            created = await sf.tasks.create(
                12345, type="SITE_INSPECTION", due_date="2027-05-20T15:00:00Z", allow_unknown=True
            )
            [call] = [c for calls in mock.requests.values() for c in calls]
    assert json.loads(call.kwargs["data"]) == {"type": "SITE_INSPECTION", "due_date": "2027-05-20T15:00:00Z"}
    assert created.type == "SITE_INSPECTION" and created.type_name == "Site inspection"


@pytest.mark.parametrize("bad", ["", "site visit", "follow_up_call", 7, None])
async def test_allow_unknown_still_refuses_what_cannot_be_a_type(bad: object) -> None:
    async with SuperfoneClient(api_key="k") as sf:
        with aioresponses() as mock:
            with pytest.raises(ValidationError) as info:
                await sf.tasks.create(12345, type=bad, due_date="2027-05-20T15:00:00Z", allow_unknown=True)  # type: ignore[arg-type]
            assert mock.requests == {}
    assert info.value.field == "type"


async def test_the_server_decides_on_an_unknown_type(sf: SuperfoneClient) -> None:
    with pytest.raises(BadRequestError, match='type "SITE_INSPECTION" is not available for creation'):
        await sf.tasks.create(LEAD, type="SITE_INSPECTION", due_date="2027-06-01T09:00:00Z", allow_unknown=True)


def test_bulk_rows_with_a_newer_type_pass_only_when_allowed(
    superfone_emulator_factory: Callable[..., SuperfoneSandbox],
) -> None:
    import asyncio

    sandbox = superfone_emulator_factory()
    rows: list[dict[str, Any]] = [
        {"lead_id": LEAD, "type": "REMINDER", "due_date": "2027-06-01T09:00:00Z"},
        {"lead_id": LEAD, "type": "SITE_INSPECTION", "due_date": "2027-06-01T10:00:00Z"},
        {"lead_id": LEAD + 11, "type": "FOLLOW_UP_CALL", "due_date": "2027-06-01T11:00:00Z"},
    ]

    async def run(allow: bool) -> list[tuple[int, str]]:
        results: list[RowResult[Task]] = []
        async with sandbox.client(rate_limit=None) as sf:
            summary = await sf.tasks.create_many(rows, allow_unknown=allow, on_result=results.append)
        assert (summary.created, summary.failed) == (2, 1)
        return [(r.row_number, type(r.error).__name__) for r in results if r.status is RowStatus.FAILED]

    assert asyncio.run(run(False)) == [(2, "ValidationError")]  # refused before sending, the rest go on
    # Sent: the server decides (the sandbox knows only the documented types).
    assert asyncio.run(run(True)) == [(2, "BadRequestError")]
