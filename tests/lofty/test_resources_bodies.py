"""Issue 11 §1: attrs resources, bodies through the converter, one function per wire time format."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import attrs
import pytest
from aioresponses import aioresponses

from crm_core._converter import format_epoch_ms, format_iso_offset, format_utc_z
from lofty_async import (
    V1,
    AppointmentsV1,
    Calendar,
    Leads,
    LoftyClient,
    Tasks,
    TasksV1,
    ValidationError,
    Webhooks,
)

BASE = "https://api.lofty.com"
PST = timezone(timedelta(hours=-8))


def wire(value: Any) -> bytes:
    """How the session serialises a body (compact, key order kept)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def sent_bodies(mock: aioresponses, method: str) -> list[bytes]:
    return [call.kwargs["data"] for (m, _url), calls in mock.requests.items() if m == method for call in calls]


def test_resources_are_attrs_classes_holding_the_session() -> None:
    for cls in (Tasks, Calendar, Leads, Webhooks, TasksV1, AppointmentsV1, V1):
        assert attrs.has(cls), cls
        assert "__init__" not in cls.__dict__ or attrs.has(cls)  # generated, not hand-written
    for cls in (Tasks, Calendar, Leads, Webhooks, TasksV1):
        names = [f.name for f in attrs.fields(cls)]
        assert names == ["session", "converter", "ledger", "reconcile"], cls
    lofty = LoftyClient(api_key="k")
    assert lofty.tasks.session is lofty.calendar.session is lofty.v1.tasks.session
    assert lofty.tasks.ledger is lofty.leads.ledger


def test_one_function_per_wire_time_format() -> None:
    moment = datetime(2026, 3, 1, 15, 0, tzinfo=PST)
    assert format_iso_offset(moment) == "2026-03-01T15:00:00-08:00"
    assert format_iso_offset(moment.replace(microsecond=250_000)) == "2026-03-01T15:00:00.250-08:00"
    assert format_epoch_ms(moment) == 1772406000000
    assert format_utc_z(moment) == "2026-03-01T23:00:00Z"
    assert format_utc_z(moment.replace(microsecond=250_000)) == "2026-03-01T23:00:00.250Z"
    for fn in (format_iso_offset, format_epoch_ms, format_utc_z):
        with pytest.raises(ValueError, match=r"start_at=.*naive"):
            fn(datetime(2026, 3, 1), field="start_at")


async def test_bodies_go_out_through_the_converter() -> None:
    async with LoftyClient(api_key="k") as lofty:
        with aioresponses() as mock:
            mock.post(
                f"{BASE}/v1.0/webhook",
                payload={"subscribeId": 1, "teamId": 2, "listId": 2, "callbackUrl": "https://e.x/h"},
            )
            await lofty.webhooks.subscribe(list_id=2, callback_url="https://e.x/h", limit=500, permission_mode=1)
            mock.post(f"{BASE}/v1.0/leads/assignee", payload=[])
            await lofty.leads.preview_routing(first_name="Bob", email="b@e.x", phone="3479033333")
            mock.post(f"{BASE}/v1.0/tasks", payload={"taskId": 9})
            await lofty.v1.tasks.create(
                content="v1",
                lead_id=5,
                deadline=datetime(2026, 3, 1, 15, 0, tzinfo=PST),
                type="Call",
                assigned_role="Agent",
            )
            posts = sent_bodies(mock, "POST")
            assert posts == [
                wire({"listId": 2, "callbackUrl": "https://e.x/h", "limit": 500, "permissionMode": 1}),
                wire({"firstName": "Bob", "email": "b@e.x", "phone": "3479033333"}),
                wire(
                    {"content": "v1", "leadId": 5, "deadline": 1772406000000, "type": "Call", "assignedRole": "Agent"}
                ),
            ]
            mock.put(f"{BASE}/v1.0/tasks/9", body="")
            await lofty.v1.tasks.update(9, deadline="2026-03-01T23:00:00Z", finish_flag=True)
            mock.put(f"{BASE}/v2.0/calendar/12-task", payload={"message": "ok"})
            await lofty.calendar.update("12-task", content="c", start_at_ms=datetime(2027, 1, 1, tzinfo=UTC), lead_id=7)
            assert sent_bodies(mock, "PUT") == [
                wire({"deadline": 1772406000000, "finishFlag": True}),
                wire({"content": "c", "startAtMs": 1798761600000, "leadId": 7}),
            ]


async def test_calendar_seed_body_byte_for_byte() -> None:
    seed = {
        "type": "TASK",
        "content": "Follow up with client about property",
        "leadId": 563172647619608,
        "timeZoneCode": "America/Los_Angeles",
        "startAt": "2026-03-01T14:00:00-08:00",
        "endAt": "2026-03-01T15:00:00-08:00",
        "startAtMs": 1740866400000,
        "endAtMs": 1740870000000,
        "taskWay": "Call",
        "assignedRole": "Agent",
        "address": "123 Main St, Los Angeles, CA",
    }
    async with LoftyClient(api_key="k") as lofty:
        with aioresponses() as mock:
            mock.post(f"{BASE}/v2.0/calendar", payload={"data": {"id": "12345-task", "type": "TASK", "message": "m"}})
            result = await lofty.calendar.create(
                type="TASK",
                content="Follow up with client about property",
                lead_id=563172647619608,
                time_zone_code="America/Los_Angeles",
                start_at="2026-03-01T14:00:00-08:00",
                end_at="2026-03-01T15:00:00-08:00",
                start_at_ms=1740866400000,
                end_at_ms=1740870000000,
                task_way="Call",
                assigned_role="Agent",
                address="123 Main St, Los Angeles, CA",
            )
            assert result.id == "12345-task"
            assert sent_bodies(mock, "POST") == [wire(seed)]


async def test_unknown_task_way_only_when_asked() -> None:
    args: dict[str, Any] = {
        "type": "TASK",
        "content": "c",
        "lead_id": 5,
        "time_zone_code": "UTC",
        "start_at": "2027-03-01T14:00:00Z",
        "end_at": "2027-03-01T15:00:00Z",
    }
    async with LoftyClient(api_key="k") as lofty:
        with pytest.raises(ValidationError, match="allow_unknown=True") as caught:
            await lofty.calendar.create(**args, task_way="Meeting")
        assert caught.value.field == "task_way"
        with pytest.raises(ValidationError, match="task_way"):
            await lofty.calendar.create(**args, task_way="  ", allow_unknown=True)
        with aioresponses() as mock:
            mock.post(f"{BASE}/v2.0/calendar", payload={"data": {"id": "1-task", "type": "TASK"}})
            await lofty.calendar.create(**args, task_way="Meeting", allow_unknown=True)
            body = json.loads(sent_bodies(mock, "POST")[0])
            assert body["taskWay"] == "Meeting"
            assert not [k for k in mock.requests if re.search("GET", k[0])]


def test_calendar_builders_are_pure() -> None:
    from lofty_async._calendar import build_calendar_query, build_calendar_update, build_meeting_query

    with pytest.raises(ValidationError) as nothing:
        build_calendar_update()
    assert nothing.value.field == "update"
    with pytest.raises(ValidationError) as order:
        build_calendar_update(start_at="2027-01-02T00:00:00Z", end_at="2027-01-01T00:00:00Z")
    assert order.value.field == "end_at"
    start = datetime(2027, 1, 1, tzinfo=UTC)
    assert build_meeting_query(start_time=start, end_time=start + timedelta(days=1))["startTime"] == (
        "2027-01-01T00:00:00+00:00"
    )
    with pytest.raises(ValidationError, match="90 days"):
        build_meeting_query(start_time=start, end_time=start + timedelta(days=91))
    query = build_calendar_query(
        lead_id=5,
        start_time=None,
        end_time=None,
        start_time_ms=1,
        end_time_ms=None,
        time_zone_code=None,
        include_finished=True,
        page_size=10,
        sort=None,
        desc=None,
        source_types=[1, 2],
    )
    assert query["sourceType"] == "1,2" and query["startTimeMs"] == 1
