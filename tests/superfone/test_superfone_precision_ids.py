"""Superfone against real-server forms: millisecond read-back and unusable IDs in 2xx bodies."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from aioresponses import aioresponses
from hypothesis import given
from hypothesis import strategies as st

from crm_core import FakeClock
from crm_core.emulator import FaultKind, FaultPlan
from superfone_async import (
    APIResponseValidationError,
    Outcome,
    ReconciliationError,
    SuperfoneClient,
    Task,
)
from superfone_async._tasks import TaskCreate, matches_create
from superfone_async._wire import record_id, same_millisecond, utc_z
from superfone_async.testing import SuperfoneSandbox, sandbox_lead_ids

BASE = "https://prod-api.superfone.co.in/superfone"
CREATE_URL = f"{BASE}/enterprise/api/lead/12345/task"
LIST_URL = f"{CREATE_URL}?page=1&page_size=20"
IST = timezone(timedelta(hours=5, minutes=30))
NOW = 1_779_000_000  # 2026-05-17T06:40:00Z, before the due dates below


def _task(
    task_id: Any, *, due: str = "2026-05-20T15:00:00.123Z", created: str = "2026-05-17T06:40:00.000Z"
) -> dict[str, Any]:
    return {
        "id": task_id,
        "org_id": 42,
        "customer_id": 12345,
        "title": None,
        "type": "FOLLOW_UP_CALL",
        "due_date": due,
        "notify_at": "2026-05-20T14:50:00.123Z",
        "notify": True,
        "task_status": "PENDING",
        "status": "ACTIVE",
        "assignee_user_id": 678,
        "created_by": 1,
        "updated_by": None,
        "created_at": created,
        "updated_at": created,
    }


def _page(rows: list[dict[str, Any]]) -> dict[str, Any]:
    body = {"rows": rows, "total_pages": 1, "current_page": 1, "page_size": 20, "total_items": len(rows)}
    return {"data": body, "message": "success"}


def _posts(mock: aioresponses) -> int:
    return sum(len(calls) for (method, _), calls in mock.requests.items() if method == "POST")


# -- millisecond precision -------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        (datetime(2026, 5, 20, 20, 30, 0, 123456, tzinfo=IST), "2026-05-20T15:00:00.123Z"),  # truncated
        (datetime(2026, 5, 20, 15, 0, 0, 123999, tzinfo=UTC), "2026-05-20T15:00:00.124Z"),  # rounded
        (datetime(2026, 5, 20, 10, 0, 0, tzinfo=timezone(timedelta(hours=-5))), "2026-05-20T15:00:00.000Z"),
    ],
)
def test_same_millisecond_in_utc_whatever_the_offset(sent: datetime, stored: str) -> None:
    read_back = datetime.fromisoformat(stored.replace("Z", "+00:00"))
    assert same_millisecond(sent, read_back)
    assert not same_millisecond(sent + timedelta(milliseconds=2), read_back)


def test_matcher_compares_type_due_and_sent_notify_at() -> None:
    task = Task(
        id=1,
        customer_id=12345,
        type="FOLLOW_UP_CALL",
        due_date=datetime(2026, 5, 20, 15, 0, 0, 123000, tzinfo=UTC),
        notify_at=datetime(2026, 5, 20, 14, 50, 0, 123000, tzinfo=UTC),
        task_status="PENDING",
    )
    sent = TaskCreate(lead_id=12345, type="FOLLOW_UP_CALL", due_date="2026-05-20T20:30:00.123456+05:30")
    assert matches_create(sent, task)
    assert not matches_create(TaskCreate(lead_id=12345, type="REMINDER", due_date=sent.due_date), task)
    assert matches_create(
        TaskCreate(lead_id=12345, type="FOLLOW_UP_CALL", due_date=sent.due_date, notify_at="2026-05-20T14:50:00.1234Z"),
        task,
    )
    assert not matches_create(
        TaskCreate(lead_id=12345, type="FOLLOW_UP_CALL", due_date=sent.due_date, notify_at="2026-05-20T14:40:00Z"),
        task,
    )


def test_superfone_emulator_late_read_back_matches_a_fractional_offset_create(
    superfone_emulator_factory: Callable[..., SuperfoneSandbox],
) -> None:
    """The first create's response is lost after the write; the lookup must find the stored
    (millisecond, UTC) form of a microsecond, +05:30 due date instead of creating a duplicate."""
    lead = sandbox_lead_ids()[3]
    plan = FaultPlan().add(FaultKind.RESET_AFTER, route=f"POST /enterprise/api/lead/{lead}/task", times=1)
    sandbox = superfone_emulator_factory(faults=plan)
    due = "2027-06-01T14:30:00.123456+05:30"

    async def run() -> list[Task]:
        async with sandbox.client(strict_responses=True, rate_limit=None, seed=1) as sf:
            created = await asyncio.gather(
                sf.tasks.create(lead, type="FOLLOW_UP_CALL", due_date=due, customer_note="call back"),
                sf.tasks.create(lead + 11, type="REMINDER", due_date=datetime(2027, 6, 1, 9, 0, 0, 654321, tzinfo=IST)),
            )
            return list(created)

    first, second = asyncio.run(run())
    stored = sandbox.emulator.lead_tasks(lead)
    assert [t["id"] for t in stored] == [first.id]
    assert stored[0]["due_date"] == "2027-06-01T09:00:00.123Z"
    assert first.due_date == datetime(2027, 6, 1, 9, 0, 0, 123000, tzinfo=UTC)
    assert [t["id"] for t in sandbox.emulator.lead_tasks(lead + 11)] == [second.id]
    assert sandbox.emulator.core.faults is not None
    assert sandbox.emulator.core.faults.injected == {FaultKind.RESET_AFTER: 1}


# -- unusable IDs --------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["abc", None, 12.9, 12.0, True, "12", float("nan")])
def test_record_id_refuses_anything_but_a_whole_number(value: object) -> None:
    with pytest.raises(ValueError, match="ID"):
        record_id(value)


def test_record_id_keeps_whole_numbers() -> None:
    assert record_id(4567) == 4567 and record_id(0) == 0  # page counts may be 0


@pytest.mark.parametrize("bad_id", ["abc", None, 12.9])
async def test_unusable_task_id_in_a_2xx_is_looked_up_not_truncated(bad_id: object) -> None:
    """A 2xx with an unusable ``id``: the write landed, so the client looks it up (once) and
    returns the stored task; it neither re-sends nor trusts 12.9 as task 12."""
    clock = FakeClock(start=NOW)
    async with SuperfoneClient(api_key="k", clock=clock, rate_limit=None, strict_responses=True) as sf:
        with aioresponses() as mock:
            mock.post(CREATE_URL, payload={"data": {**_task(bad_id), "type_name": None}, "message": "success"})
            mock.get(LIST_URL, payload=_page([_task(4567)]))
            task = await sf.tasks.create(
                12345, type="FOLLOW_UP_CALL", due_date=datetime(2026, 5, 20, 20, 30, 0, 123456, tzinfo=IST)
            )
            assert _posts(mock) == 1
            [post] = mock.requests[("POST", next(u for m, u in mock.requests if m == "POST"))]
    assert task.id == 4567
    assert json.loads(post.kwargs["data"])["due_date"] == "2026-05-20T15:00:00.123Z"


async def test_unusable_task_id_not_visible_yet_is_a_reconciliation_error() -> None:
    clock = FakeClock(start=NOW)
    async with SuperfoneClient(api_key="k", clock=clock, rate_limit=None) as sf:
        with aioresponses() as mock:
            mock.post(CREATE_URL, payload={"data": _task(12.9), "message": "success"})
            mock.get(LIST_URL, payload=_page([]), repeat=True)
            with pytest.raises(ReconciliationError) as info:
                await sf.tasks.create(12345, type="REMINDER", due_date="2026-05-20T15:00:00Z")
            assert _posts(mock) == 1  # landed for sure: never re-sent
    assert info.value.outcome is Outcome.MAYBE_PROCESSED
    assert isinstance(info.value.__cause__, APIResponseValidationError)


@pytest.mark.parametrize("bad_id", ["abc", None, 12.9])
async def test_unusable_ids_on_reads_and_upserts_are_typed_errors(bad_id: object) -> None:
    lead = {"id": bad_id, "phones": [], "labels": []}
    async with SuperfoneClient(api_key="k", rate_limit=None) as sf:
        with aioresponses() as mock:
            mock.post(f"{BASE}/enterprise/api/lead", payload={"data": lead, "message": "success"})
            mock.get(f"{BASE}/enterprise/api/lead?phone=%2B918000000001", payload={"data": lead})
            mock.post(f"{CREATE_URL}/complete", payload={"data": _task(bad_id), "message": "success"})
            with pytest.raises(APIResponseValidationError) as upsert:
                await sf.leads.upsert(customer_phone="+918000000001", first_name="Asha")
            with pytest.raises(APIResponseValidationError) as got:
                await sf.leads.get(phone="+918000000001")
            with pytest.raises(APIResponseValidationError) as completed:
                await sf.tasks.complete(12345)
    for error in (upsert.value, got.value, completed.value):
        assert error.outcome is Outcome.PROCESSED
        assert "id" in error.message


@given(
    moment=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
    offset_minutes=st.integers(min_value=-12 * 60, max_value=14 * 60),
    rounds=st.booleans(),
)
def test_any_offset_and_sub_millisecond_time_matches_its_read_back(
    moment: datetime, offset_minutes: int, rounds: bool
) -> None:
    sent = moment.astimezone(timezone(timedelta(minutes=offset_minutes)))
    millis = moment.microsecond // 1000
    if rounds and moment.microsecond % 1000 >= 500:
        millis += 1
    stored = moment.replace(microsecond=0) + timedelta(milliseconds=millis)
    assert same_millisecond(sent, stored)
    assert not same_millisecond(sent, stored + timedelta(milliseconds=2))
    # What the SDK sends for a datetime is what the server keeps.
    sent_wire = datetime.fromisoformat(utc_z(sent).replace("Z", "+00:00"))
    assert same_millisecond(sent, sent_wire) and sent_wire.microsecond % 1000 == 0


def test_emulator_bad_ids_and_lost_responses_leave_each_create_exactly_once(
    superfone_emulator_factory: Callable[..., SuperfoneSandbox],
) -> None:
    """30 creates at once on one client (fractional times, +05:30), against a server that answers
    some with unusable ids ("abc", null, 12.9) and drops some responses after the write."""
    plan = (
        FaultPlan(seed=7)
        .add(FaultKind.BAD_ID, probability=0.3, route="POST /enterprise/api/lead/*/task")
        .add(FaultKind.RESET_AFTER, probability=0.15, route="POST /enterprise/api/lead/*/task")
    )
    sandbox = superfone_emulator_factory(faults=plan)
    leads = sandbox_lead_ids()[10:40]

    async def run() -> list[Task]:
        async with sandbox.client(strict_responses=True, rate_limit=None, seed=3, max_concurrency=8) as sf:
            return list(
                await asyncio.gather(
                    *(
                        sf.tasks.create(
                            lead, type="CALLBACK_REQUEST", due_date=f"2027-07-01T1{i % 10}:15:00.{i:03d}987+05:30"
                        )
                        for i, lead in enumerate(leads)
                    )
                )
            )

    created = asyncio.run(run())
    assert plan.injected.get(FaultKind.BAD_ID, 0) >= 3
    for lead, task in zip(leads, created, strict=True):
        stored = sandbox.emulator.lead_tasks(lead)
        assert [t["id"] for t in stored] == [task.id]  # exactly once, and the id is the stored one
        assert isinstance(task.id, int) and not isinstance(task.id, bool)
