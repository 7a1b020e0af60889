"""Calendar, V1, leads, webhooks, me and error mapping: request shapes and emulator behaviour."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from aioresponses import aioresponses

from crm_core import FakeClock
from crm_core.emulator import FaultKind, FaultPlan, FixedWindowRateLimit, serve
from lofty_async import (
    AuthenticationError,
    BadRequestError,
    LeadAssignee,
    LeadInfoEvent,
    LeadTransaction,
    LoftyClient,
    NotFoundError,
    PermissionDeniedError,
    TaskEvent,
    ValidationError,
    WebhookEvent,
    webhook_handler,
)
from lofty_async._errors import error_class, parse_error
from lofty_async.testing import SANDBOX_API_KEY, LoftyEmulator, sandbox_lead_ids

BASE = "https://api.lofty.com"
LEAD = sandbox_lead_ids()[0]
SEED_CALENDAR = {
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


def _sent(mock: aioresponses) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m, str(u), c.kwargs) for (m, u), calls in mock.requests.items() for c in calls]


async def test_seed_calendar_example_sends_exactly_the_seed_body() -> None:
    async with LoftyClient(access_token="tok") as lofty:
        with aioresponses() as mock:
            mock.post(f"{BASE}/v2.0/calendar", payload={"data": {"id": "12345-task", "type": "TASK", "message": "ok"}})
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
            [(_, url, kwargs)] = _sent(mock)
    assert result.id == "12345-task"
    assert url == f"{BASE}/v2.0/calendar"
    assert kwargs["data"] == json.dumps(SEED_CALENDAR, separators=(",", ":")).encode()


async def test_seed_lead_guide_examples_request_shapes() -> None:
    async with LoftyClient(access_token="YOUR_ACCESS_TOKEN") as lofty:
        with aioresponses() as mock:
            mock.post(f"{BASE}/v1.0/leads", payload={"leadId": 651095960136641})
            mock.get(
                re.compile(rf"{re.escape(BASE)}/v1\.0/leads\?.*"), payload={"_metadata": {"total": 0}, "leads": []}
            )
            mock.put(f"{BASE}/v1.0/leads/563172647619608", payload={"leadId": 563172647619608})
            mock.post(f"{BASE}/v1.0/leads/563172647619608/assignment", payload={"leadId": 563172647619608})
            mock.delete(f"{BASE}/v1.0/leads/563172647619608?reason=Duplicate+record", status=200)
            new = await lofty.leads.create(
                first_name="Jane",
                last_name="Smith",
                emails=["jane.smith@example.com"],
                phones=["5551234567"],
                lead_types=[2],
                source="Website",
            )
            await lofty.leads.list(limit=20, offset=0, stage="New Lead", sort="LastActivity", desc=True)
            await lofty.leads.update(563172647619608, stage="Contacted", tags=["follow-up"])
            await lofty.leads.assign(563172647619608, [LeadAssignee(role="Agent", assignee="info@lofty-mail.me")])
            await lofty.leads.delete(563172647619608, reason="Duplicate record")
            calls = _sent(mock)
    assert new == 651095960136641
    by_method = {(m, u.split("?")[0]): (u, k) for m, u, k in calls}
    create = by_method[("POST", f"{BASE}/v1.0/leads")][1]
    assert json.loads(create["data"]) == {
        "firstName": "Jane",
        "lastName": "Smith",
        "emails": ["jane.smith@example.com"],
        "phones": ["5551234567"],
        "leadTypes": [2],
        "source": "Website",
    }
    assert create["headers"]["Authorization"] == "Bearer YOUR_ACCESS_TOKEN"
    listed = by_method[("GET", f"{BASE}/v1.0/leads")][0]
    assert "limit=20" in listed and "offset=0" in listed and "stage=New+Lead" in listed and "desc=true" in listed
    assert json.loads(by_method[("PUT", f"{BASE}/v1.0/leads/563172647619608")][1]["data"]) == {
        "stage": "Contacted",
        "tags": ["follow-up"],
    }
    assert json.loads(by_method[("POST", f"{BASE}/v1.0/leads/563172647619608/assignment")][1]["data"]) == [
        {"role": "Agent", "assignee": "info@lofty-mail.me"}
    ]
    assert "reason=Duplicate+record" in by_method[("DELETE", f"{BASE}/v1.0/leads/563172647619608")][0]


async def test_lead_get_accepts_both_envelopes_and_both_metadata_keys() -> None:
    async with LoftyClient(api_key="k", strict_responses=True) as lofty:
        with aioresponses() as mock:
            mock.get(f"{BASE}/v1.0/leads/5", payload={"lead": {"leadId": 5, "firstName": "A"}})
            mock.get(f"{BASE}/v1.0/leads/6", payload={"leadId": 6, "createTime": "2026-04-30T17:33:32GMT"})
            mock.get(f"{BASE}/v1.0/leads?limit=1", payload={"get_metadata": {"total": 9, "scrollId": "s"}, "leads": []})
            assert (await lofty.leads.get(5)).first_name == "A"
            bare = await lofty.leads.get(6)
            page = await lofty.leads.list(limit=1)
    assert bare.create_time == datetime(2026, 4, 30, 17, 33, 32, tzinfo=UTC)
    assert page.total == 9 and page.scroll_id == "s"


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (
            lambda c: c.calendar.create(
                type="MEETING", content="c", lead_id=1, time_zone_code="UTC", start_at_ms=1, end_at_ms=2
            ),
            "type",
        ),
        (
            lambda c: c.calendar.create(
                type="TASK", content="c", lead_id=1, time_zone_code="UTC", start_at_ms=1, end_at_ms=2
            ),
            "task_way",
        ),
        (
            lambda c: c.calendar.create(
                type="APPOINTMENT",
                content="c",
                lead_id=1,
                time_zone_code="UTC",
                start_at_ms=1,
                end_at_ms=2,
                task_way="Call",
            ),
            "task_way",
        ),
        (
            lambda c: c.calendar.create(
                type="TASK", content="c", lead_id=1, time_zone_code="UTC", task_way="Call", end_at_ms=2
            ),
            "start_at",
        ),
        (lambda c: c.calendar.update("12345", content="x"), "calendar_id"),
        (lambda c: c.calendar.list(page_size=10), "start_time"),
        (lambda c: c.calendar.list(start_time="2027-01-01T00:00:00Z", page_size=501), "page_size"),
        (
            lambda c: c.calendar.available_meetings(start_time="2027-01-01T00:00:00Z", end_time="2027-06-01T00:00:00Z"),
            "end_time",
        ),
        (lambda c: c.leads.list(limit=101), "limit"),
        (lambda c: c.leads.list(sort="Newest"), "sort"),
        (lambda c: c.leads.create(first_name=""), "first_name"),
        (lambda c: c.leads.create(first_name="A", lead_types=[3]), "lead_types"),
        (lambda c: c.leads.create(first_name="A", birthday="2001-06-05"), "birthday"),
        (lambda c: c.leads.create(first_name="A", ownership_scope="OFFICE"), "ownership_id"),
        (
            lambda c: c.leads.create(first_name="A", lead_transaction=LeadTransaction(transaction_name="<b>")),
            "lead_transaction.transaction_name",
        ),
        (lambda c: c.leads.update(5), "update"),
        (lambda c: c.leads.delete(5, reason=""), "reason"),
        (lambda c: c.leads.assign(5, []), "assignees"),
        (
            lambda c: c.v1.tasks.create(
                content="c", lead_id=1, deadline="2027-01-01T00:00:00", type="Call", assigned_role="Agent"
            ),
            "deadline",
        ),
        (lambda c: c.webhooks.subscribe(list_id=2, callback_url="http://example.com"), "callback_url"),
        (lambda c: c.webhooks.subscribe(list_id=13, callback_url="https://example.com"), "list_id"),
    ],
)
async def test_bad_input_raises_before_anything_is_sent(call: Any, field: str) -> None:
    async with LoftyClient(api_key="k") as lofty:
        with aioresponses() as mock:
            with pytest.raises(ValidationError) as info:
                await call(lofty)
            assert mock.requests == {}
    assert info.value.field == field


@pytest.fixture
async def lofty_full() -> Any:
    emulator = LoftyEmulator(rate_limit=FixedWindowRateLimit(limit=10**6))
    async with emulator.serve() as url, LoftyClient(api_key=SANDBOX_API_KEY, base_url=url, strict_responses=True) as c:
        yield c, emulator


async def test_calendar_endpoints_and_pagination(lofty_full: Any) -> None:
    lofty, emulator = lofty_full
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    ids = []
    for i in range(7):
        result = await lofty.calendar.create(
            type="APPOINTMENT" if i % 2 else "task",
            content=f"Event {i}",
            lead_id=LEAD,
            time_zone_code="America/Chicago",
            start_at=start + timedelta(hours=i),
            end_at=start + timedelta(hours=i, minutes=30),
            **({} if i % 2 else {"task_way": "Email"}),
        )
        ids.append(result.id)
    assert ids[0].endswith("-task") and ids[1].endswith("-appointment")
    assert int(ids[0].split("-")[0]) in emulator.tasks  # one ID space with /v2.0/tasks
    every = [e async for e in lofty.calendar.iter(start_time=start, end_time=start + timedelta(days=1), page_size=3)]
    assert sorted(e.id for e in every) == sorted(ids) and len(every) == 7
    first = await lofty.calendar.list(
        start_time=start, end_time=start + timedelta(days=1), page=0, page_size=3, desc=False
    )
    assert first.total == 7 and [e.content for e in first.items] == ["Event 0", "Event 1", "Event 2"]
    assert (await lofty.tasks.get(int(ids[0].split("-")[0]))).type == "Email"
    await lofty.calendar.finish(ids[0])
    unfinished = await lofty.calendar.list(start_time=start, end_time=start + timedelta(days=1), page_size=50)
    assert ids[0] not in [e.id for e in unfinished.items]
    await lofty.calendar.unfinish(ids[0])
    await lofty.calendar.update(
        ids[1], content="Moved", start_at=start + timedelta(days=2), end_at=start + timedelta(days=2, hours=1)
    )
    assert emulator.tasks[int(ids[1].split("-")[0])]["content"] == "Moved"
    await lofty.calendar.delete(ids[2])
    with pytest.raises(BadRequestError) as gone:
        await lofty.calendar.finish(ids[2])
    assert gone.value.code == 20012
    with pytest.raises(BadRequestError, match="later than the current time"):
        await lofty.calendar.create(
            type="TASK",
            content="past",
            lead_id=LEAD,
            time_zone_code="UTC",
            task_way="Call",
            start_at="2026-03-01T14:00:00-08:00",
            end_at="2026-03-01T15:00:00-08:00",
        )
    slots = await lofty.calendar.available_meetings(start_time=start, end_time=start + timedelta(days=7), limit=4)
    assert len(slots.slots) == 4 and slots.total >= 4
    assert all(s.end_time - s.start_time == timedelta(hours=1) for s in slots.slots)


async def test_calendar_create_is_reconciled_after_a_lost_response() -> None:
    plan = FaultPlan().add(FaultKind.RESET_AFTER, route="POST /v2.0/calendar", times=1)
    emulator = LoftyEmulator(faults=plan, rate_limit=FixedWindowRateLimit(limit=10**6))
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    async with emulator.serve() as url, LoftyClient(api_key=SANDBOX_API_KEY, base_url=url) as lofty:
        result = await lofty.calendar.create(
            type="TASK",
            content="Once",
            lead_id=LEAD,
            time_zone_code="UTC",
            start_at=start,
            end_at=start + timedelta(hours=1),
            task_way="Call",
        )
    assert len(emulator.tasks) == 1 and result.id == f"{next(iter(emulator.tasks))}-task"
    assert emulator.core.count("POST", "/v2.0/calendar") == 1


async def test_v1_tasks_and_appointments(lofty_full: Any) -> None:
    lofty, _ = lofty_full
    deadline = datetime(2027, 5, 1, 17, 0, tzinfo=UTC)
    task_id = await lofty.v1.tasks.create(
        content="V1", lead_id=LEAD, deadline=deadline, type="Email", assigned_role="Assistant"
    )
    task = await lofty.v1.tasks.get(task_id)
    assert task.deadline == deadline and task.finish_time is None and task.assigned_role == "Assistant"
    await lofty.v1.tasks.update(task_id, content="V1 changed", deadline="2027-05-02T10:00:00-07:00")
    assert (await lofty.v1.tasks.get(task_id)).deadline == datetime(2027, 5, 2, 17, 0, tzinfo=UTC)
    with pytest.raises(BadRequestError) as moved:
        await lofty.v1.tasks.update(task_id, lead_id=sandbox_lead_ids()[1])
    assert moved.value.code == "INVALID_UPDATE_OPERATION_LEADID"
    await lofty.v1.tasks.update(task_id, finish_flag=True)
    listed = await lofty.v1.tasks.list(lead_id=LEAD)
    assert [t.id for t in listed] == [task_id] and listed[0].finish_time is not None
    await lofty.v1.tasks.delete(task_id)
    with pytest.raises(NotFoundError):
        await lofty.v1.tasks.get(task_id)
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    await lofty.calendar.create(
        type="APPOINTMENT",
        content="Showing",
        lead_id=LEAD,
        time_zone_code="UTC",
        start_at=start,
        end_at=start + timedelta(hours=1),
        address="1 Main St",
    )
    [appointment] = await lofty.v1.appointments.list(lead_id=LEAD)
    assert appointment.descr == "Showing" and appointment.deadline == start
    assert appointment.end_time == start + timedelta(hours=1)


async def test_leads_endpoints_scroll_and_trash(lofty_full: Any) -> None:
    lofty, emulator = lofty_full
    created = [
        await lofty.leads.create(
            first_name=f"Lead{i}", emails=[f"lead{i}@example.com"], tags_add=["vip"] if i % 2 else None
        )
        for i in range(9)
    ]
    lead = await lofty.leads.get(created[0])
    assert lead.first_name == "Lead0" and lead.emails == ["lead0@example.com"]
    everyone = [x.lead_id async for x in lofty.leads.iter(page_size=10)]
    assert len(everyone) == len(emulator.leads) == 59 and len(set(everyone)) == 59
    vip = [x.lead_id async for x in lofty.leads.iter(page_size=2, any_tags=["vip"])]
    assert sorted(vip) == sorted(created[1::2])
    exact = await lofty.leads.list(email="lead3@example.com", precise_search=True)
    assert [x.lead_id for x in exact.leads] == [created[3]] and exact.total == 1
    await lofty.leads.update(created[0], stage="Contacted", tags_add=["follow-up"], city="Austin")
    changed = await lofty.leads.get(created[0])
    assert (
        changed.stage == "Contacted"
        and changed.tags is not None
        and [t.tag_name for t in changed.tags] == ["follow-up"]
    )
    await lofty.leads.assign(created[0], ["assistant@sandbox.lofty.test"])
    assert (await lofty.leads.get(created[0])).assigned_user == "Sam Assistant"
    with pytest.raises(NotFoundError) as nobody:
        await lofty.leads.assign(created[0], ["nobody@example.com"])
    assert nobody.value.code == 20003
    preview = await lofty.leads.preview_routing(first_name="Bob", email="lead1@example.com")
    assert preview[0].lead_id == created[1] and preview[0].custom_role_assignees
    await lofty.leads.delete(created[0], reason="Duplicate record")
    with pytest.raises(NotFoundError):
        await lofty.leads.get(created[0])
    assert (await lofty.leads.get(created[0], with_trash=True)).lead_id == created[0]
    me = await lofty.me()
    assert me.member_user_id == emulator.user_id and me.id != me.member_user_id


async def test_eventual_consistency_switch() -> None:
    emulator = LoftyEmulator(rate_limit=FixedWindowRateLimit(limit=10**6), lead_visibility_delay=0.3)
    async with emulator.serve() as url, LoftyClient(api_key=SANDBOX_API_KEY, base_url=url) as lofty:
        lead_id = await lofty.leads.create(first_name="Eve", emails=["eve@example.com"])
        with pytest.raises(NotFoundError):
            await lofty.leads.get(lead_id)
        await asyncio.sleep(0.35)
        assert (await lofty.leads.get(lead_id)).first_name == "Eve"


async def test_webhook_subscriptions(lofty_full: Any) -> None:
    lofty, emulator = lofty_full
    hook = await lofty.webhooks.subscribe(list_id=10, callback_url="https://example.com/hooks/lofty", limit=500)
    assert hook.list_id == 10 and hook.limit == 500
    assert [h.subscribe_id for h in await lofty.webhooks.list()] == [hook.subscribe_id]
    await lofty.webhooks.delete(hook.subscribe_id)
    with pytest.raises(NotFoundError) as missing:
        await lofty.webhooks.delete(hook.subscribe_id)
    assert missing.value.code == "WEBHOOK_DELETE_NOT_EXIST"
    emulator.max_webhooks = 0
    with pytest.raises(BadRequestError) as full:
        await lofty.webhooks.subscribe(list_id=2, callback_url="https://example.com/h")
    assert full.value.code == "WEBHOOK_EXCEED_LIMIT"


async def test_webhook_handler_parses_deliveries() -> None:
    received: list[WebhookEvent] = []

    async def on_event(event: WebhookEvent) -> None:
        received.append(event)

    app = web.Application()
    app.router.add_post("/hooks/lofty/s3cret", webhook_handler(on_event))
    import aiohttp

    async with serve(app) as url, aiohttp.ClientSession() as http:
        batch = [
            {"teamId": 13233324, "listId": 2, "updatedLead": [{"leadId": 651095960136641}], "newKey": "ignored"},
            {"teamId": 13233324, "listId": 10, "taskId": 7, "action": "finished"},
        ]
        async with http.post(f"{url}/hooks/lofty/s3cret", json=batch) as response:
            assert response.status == 200 and await response.json() == {"received": 2}
        async with http.post(f"{url}/hooks/lofty/s3cret", data=b"not json") as bad:
            assert bad.status == 400
    lead_event, task_event = received
    assert isinstance(lead_event, LeadInfoEvent) and lead_event.updated_lead[0].lead_id == 651095960136641
    assert isinstance(task_event, TaskEvent) and task_event.raw["action"] == "finished"


@pytest.mark.parametrize(
    ("status", "body", "cls", "code", "message"),
    [
        (400, '{"code": 20017, "message": "PERMISSION_DENIED"}', PermissionDeniedError, 20017, "PERMISSION_DENIED"),
        (
            403,
            '{"code": 200100, "message": "Sorry, the vendor does not have permission for this API."}',
            PermissionDeniedError,
            200100,
            "Sorry, the vendor does not have permission for this API.",
        ),
        (400, '{"code": "20006", "message": "LEAD_NOT_EXIST"}', NotFoundError, 20006, "LEAD_NOT_EXIST"),
        (
            400,
            '{"code": 200058, "message": "User in token does not exist."}',
            AuthenticationError,
            200058,
            "User in token does not exist.",
        ),
        (
            400,
            '{"errorCode": 20042, "errorMsg": "Limit must be between 1 and 100"}',
            BadRequestError,
            20042,
            "Limit must be between 1 and 100",
        ),
        (404, '"Task or appointment does not exist"', NotFoundError, None, "Task or appointment does not exist"),
        (500, "", None, None, "HTTP 500 with an empty body"),
        (502, "<html><body>Bad Gateway</body></html>", None, None, "HTTP 502 with a non-JSON body"),
    ],
)
def test_error_bodies_and_code_catalogue(
    status: int, body: str, cls: type[Exception] | None, code: int | str | None, message: str
) -> None:
    parsed_code, parsed_message = parse_error(status, body)
    assert parsed_code == code and parsed_message == message
    if cls is not None:
        assert error_class(status, parsed_code) is cls


async def test_forbidden_scope_is_a_permission_error(lofty_full: Any) -> None:
    lofty, emulator = lofty_full
    emulator.forbidden_paths.add("/v1.0/me")
    with pytest.raises(PermissionDeniedError) as info:
        await lofty.me()
    assert info.value.status == 403 and info.value.code == 200100


def test_v1_deadline_is_sent_as_epoch_milliseconds() -> None:
    async def run() -> Any:
        async with LoftyClient(api_key="k", clock=FakeClock()) as lofty:
            with aioresponses() as mock:
                mock.post(f"{BASE}/v1.0/tasks", payload={"taskId": 1})
                await lofty.v1.tasks.create(
                    content="c", lead_id=1, deadline="2017-10-21T10:00:10Z", type="Call", assigned_role="Agent"
                )
                return _sent(mock)[0][2]

    kwargs = asyncio.run(run())
    assert json.loads(kwargs["data"])["deadline"] == 1508580010000
