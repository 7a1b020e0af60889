"""Request shapes for the eight V2 task endpoints (aioresponses: no server)."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aioresponses import aioresponses
from yarl import URL

from lofty_async import LoftyClient, ValidationError

BASE = "https://api.lofty.com"
SEED_BODY = {
    "type": "Call",
    "content": "Send an email to my lead",
    "leadId": 563172647619608,
    "assignedRole": "Agent",
    "startAt": "2026-03-01T15:00:00-08:00",
    "endAt": "2026-03-01T16:00:00-08:00",
    "timeZoneCode": "America/Los_Angeles",
    "address": "123 Main St, Los Angeles, CA",
}


def sent(mock: aioresponses) -> list[tuple[str, URL, dict[str, Any]]]:
    out = []
    for (method, url), calls in mock.requests.items():
        for call in calls:
            out.append((method, url, call.kwargs))
    return out


def body(kwargs: dict[str, Any]) -> Any:
    data = kwargs.get("data")
    return None if data is None else json.loads(data)


async def test_seed_example_sends_exactly_the_seed_body() -> None:
    async with LoftyClient(api_key="k-123") as lofty:
        with aioresponses() as mock:
            mock.post(f"{BASE}/v2.0/tasks", payload={"taskId": 563172647619608})
            task_id = await lofty.tasks.create(
                type="Call",
                content="Send an email to my lead",
                lead_id=563172647619608,
                assigned_role="Agent",
                start_at="2026-03-01T15:00:00-08:00",
                end_at="2026-03-01T16:00:00-08:00",
                time_zone_code="America/Los_Angeles",
                address="123 Main St, Los Angeles, CA",
            )
            [(method, url, kwargs)] = sent(mock)
    assert task_id == 563172647619608
    assert method == "POST" and str(url) == f"{BASE}/v2.0/tasks"
    assert body(kwargs) == SEED_BODY
    assert list(body(kwargs)) == list(SEED_BODY)  # same key order as the seed
    assert kwargs["headers"]["Authorization"] == "token k-123"
    assert kwargs["headers"]["Content-Type"] == "application/json"


async def test_datetimes_are_sent_with_their_offset_and_access_token_as_bearer() -> None:
    zone = ZoneInfo("America/Los_Angeles")
    async with LoftyClient(access_token="tok") as lofty:
        with aioresponses() as mock:
            mock.post(f"{BASE}/v2.0/tasks", payload={"taskId": 7})
            await lofty.tasks.create(
                type="Appointment",
                content="Showing",
                lead_id=5,
                assigned_role="Agent",
                start_at=datetime(2026, 3, 8, 1, 30, tzinfo=zone),
                end_at=datetime(2026, 3, 8, 3, 30, tzinfo=zone),  # after the DST change
            )
            [(_, _, kwargs)] = sent(mock)
    assert body(kwargs)["startAt"] == "2026-03-08T01:30:00-08:00"
    assert body(kwargs)["endAt"] == "2026-03-08T03:30:00-07:00"
    assert kwargs["headers"]["Authorization"] == "Bearer tok"


async def test_other_endpoints_request_shapes() -> None:
    task = {"id": 9, "leadId": 5, "content": "c", "type": "Call"}
    async with LoftyClient(api_key="k") as lofty:
        with aioresponses() as mock:
            mock.get(f"{BASE}/v2.0/tasks/9", payload={"task": task})
            mock.get(f"{BASE}/v2.0/tasks?leadId=5", payload={"tasks": [task]})
            mock.put(f"{BASE}/v2.0/tasks/9", payload={"message": "Operation successful"})
            mock.delete(f"{BASE}/v2.0/tasks/9", payload={"message": "Operation successful"})
            mock.post(f"{BASE}/v2.0/tasks/9/finish", payload={"message": "Operation successful"})
            mock.post(f"{BASE}/v2.0/tasks/9/unfinish", payload={"message": "Operation successful"})
            mock.get(re.compile(rf"{re.escape(BASE)}/v2\.0/tasks/my-tasks.*"), payload={"tasks": [task]})
            assert (await lofty.tasks.get(9)).id == 9
            assert [t.id for t in await lofty.tasks.list(lead_id=5)] == [9]
            assert await lofty.tasks.update(9, content="new") == "Operation successful"
            await lofty.tasks.delete(9)
            await lofty.tasks.finish(9)
            await lofty.tasks.unfinish(9)
            assert [t.id async for t in lofty.tasks.my_tasks(limit=5, time_zone_code="America/New_York")] == [9]
            calls = sent(mock)
    by_path = {(m, u.path): (u, k) for m, u, k in calls}
    assert body(by_path[("PUT", "/v2.0/tasks/9")][1]) == {"content": "new"}
    assert by_path[("DELETE", "/v2.0/tasks/9")][1]["headers"]["Content-Type"] == "application/json"
    assert by_path[("POST", "/v2.0/tasks/9/finish")][1]["data"] is None
    my_url = by_path[("GET", "/v2.0/tasks/my-tasks")][0]
    assert dict(my_url.query) == {"currentId": "0", "limit": "5", "timeZoneCode": "America/New_York"}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"type": "Meeting"}, "type"),
        ({"assigned_role": "Boss"}, "assigned_role"),
        ({"assigned_role": None}, "assigned_role"),
        ({"content": ""}, "content"),
        ({"lead_id": 0}, "lead_id"),
        ({"lead_id": "563172647619608"}, "lead_id"),
        ({"end_at": None}, "end_at"),
        ({"end_at": "2026-03-01T14:00:00-08:00"}, "end_at"),
        ({"start_at": datetime(2026, 3, 1, 15)}, "start_at"),
        ({"end_at": "2026-03-01T16:00:00"}, "end_at"),
        ({"time_zone_code": "America/Atlantis"}, "time_zone_code"),
    ],
)
async def test_bad_input_is_refused_before_anything_is_sent(changes: dict[str, Any], field: str) -> None:
    args: dict[str, Any] = {
        "type": "Call",
        "content": "c",
        "lead_id": 5,
        "assigned_role": "Agent",
        "start_at": "2026-03-01T15:00:00-08:00",
        "end_at": "2026-03-01T16:00:00-08:00",
        **changes,
    }
    async with LoftyClient(api_key="k") as lofty:
        with aioresponses() as mock:
            with pytest.raises(ValidationError) as info:
                await lofty.tasks.create(**args)
            assert mock.requests == {}
    assert info.value.field == field
    assert field in str(info.value) and "expected" in str(info.value)


async def test_empty_update_and_bad_ids_are_refused_before_sending() -> None:
    async with LoftyClient(api_key="k") as lofty:
        with aioresponses() as mock:
            with pytest.raises(ValidationError, match="at least one of"):
                await lofty.tasks.update(9)
            with pytest.raises(ValidationError, match="at least one of"):
                await lofty.tasks.update(9, time_zone_code="America/Denver")
            with pytest.raises(ValidationError, match="task_id"):
                await lofty.tasks.get(-1)
            with pytest.raises(ValidationError, match="limit"):
                [t async for t in lofty.tasks.my_tasks(limit=101)]
            assert mock.requests == {}


def test_client_needs_exactly_one_credential_and_hides_it() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        LoftyClient()
    with pytest.raises(ValueError, match="exactly one"):
        LoftyClient(api_key="a", access_token="b")
    client = LoftyClient(api_key="super-secret")
    assert "super-secret" not in repr(client)
    assert "super-secret" not in repr(client.http.http)
