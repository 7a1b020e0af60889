"""Superfone models keep unknown response fields (``extra``) through a round trip; strict mode flags them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aioresponses import aioresponses

from superfone_async import Address, APIResponseValidationError, Lead, Page, SuperfoneClient, Task

BASE = "https://prod-api.superfone.co.in/superfone"

TASK: dict[str, Any] = {
    "id": 4567,
    "org_id": 42,
    "customer_id": 12345,
    "title": "Follow up on pricing",
    "type": "FOLLOW_UP_CALL",
    "due_date": "2026-05-20T15:00:00.000Z",
    "notify_at": "2026-05-20T14:50:00.000Z",
    "notify": True,
    "task_status": "PENDING",
    "status": "ACTIVE",
    "assignee_user_id": 678,
    "created_by": 1,
    "updated_by": None,
    "created_at": "2026-05-19T08:30:00.000Z",
    "updated_at": "2026-05-19T08:30:00.000Z",
    "priority": "HIGH",  # a field the API added after this SDK
    "reminders": [{"at": "2026-05-20T14:00:00.000Z"}],
}
LEAD: dict[str, Any] = {
    "id": 12345,
    "first_name": "Asha",
    "address": {"text": "12 MG Road", "pincode": "560001"},
    "phones": [{"phone": "+918000000001", "customer_id": 12345, "is_whatsapp": True}],
    "labels": [{"id": 17, "title": "Hot", "sort_order": 2}],
    "custom_fields": {"budget": "50L"},
}
PAGE: dict[str, Any] = {
    "rows": [TASK],
    "total_pages": 1,
    "current_page": 1,
    "page_size": 20,
    "total_items": 1,
    "has_more": False,
}


async def test_unknown_fields_are_kept_on_every_model_and_survive_a_round_trip() -> None:
    async with SuperfoneClient(api_key="k", rate_limit=None) as sf:
        with aioresponses() as mock:
            mock.get(f"{BASE}/enterprise/api/lead/12345/task?page=1&page_size=20", payload={"data": PAGE})
            mock.get(f"{BASE}/enterprise/api/lead?phone=%2B918000000001", payload={"data": LEAD})
            page = await sf.tasks.list(12345)
            lead = await sf.leads.get(phone="+918000000001")
        converter = sf.http.converter
    task = page.rows[0]
    assert page.extra == {"has_more": False}
    assert task.extra == {"priority": "HIGH", "reminders": [{"at": "2026-05-20T14:00:00.000Z"}]}
    assert lead.extra == {"custom_fields": {"budget": "50L"}}
    assert lead.address is not None and lead.address.extra == {"pincode": "560001"}
    assert lead.phones[0].extra == {"is_whatsapp": True} and lead.labels[0].extra == {"sort_order": 2}
    # Back to the wire: the unknown keys are there again, times as UTC "Z" strings.
    wire_task = converter.unstructure(task)
    assert wire_task["priority"] == "HIGH" and wire_task["reminders"] == TASK["reminders"]
    assert wire_task["due_date"] == "2026-05-20T15:00:00Z" and wire_task["type_name"] is None
    assert set(wire_task) == {*TASK, "type_name"}  # known fields are always written
    assert converter.structure(wire_task, Task) == task
    wire_lead = converter.unstructure(lead)
    assert wire_lead["custom_fields"] == {"budget": "50L"} and wire_lead["address"]["pincode"] == "560001"
    assert converter.structure(converter.unstructure(lead), Lead) == lead
    assert converter.structure(converter.unstructure(page), Page[Task]) == page


async def test_strict_responses_still_flag_unknown_fields() -> None:
    async with SuperfoneClient(api_key="k", rate_limit=None, strict_responses=True) as sf:
        with aioresponses() as mock:
            mock.get(f"{BASE}/enterprise/api/lead/12345/task?page=1&page_size=20", payload={"data": PAGE})
            mock.get(f"{BASE}/enterprise/api/lead?phone=%2B918000000001", payload={"data": LEAD})
            with pytest.raises(APIResponseValidationError) as listed:
                await sf.tasks.list(12345)
            with pytest.raises(APIResponseValidationError) as got:
                await sf.leads.get(phone="+918000000001")
    assert "has_more" in listed.value.message or "priority" in listed.value.message
    assert "custom_fields" in got.value.message or "pincode" in got.value.message


async def test_known_fields_only_means_an_empty_extra() -> None:
    known = {k: v for k, v in TASK.items() if k not in ("priority", "reminders")}
    async with SuperfoneClient(api_key="k", rate_limit=None, strict_responses=True) as sf:
        with aioresponses() as mock:
            mock.post(f"{BASE}/enterprise/api/lead/12345/task/complete", payload={"data": known})
            task = await sf.tasks.complete(12345)
    assert task.extra == {} and task.title == "Follow up on pricing"


async def test_an_address_read_back_keeps_its_unknown_keys_in_an_upsert() -> None:
    address = Address(text="12 MG Road", extra={"pincode": "560001"})
    async with SuperfoneClient(api_key="k", rate_limit=None) as sf:
        with aioresponses() as mock:
            mock.post(f"{BASE}/enterprise/api/lead", payload={"data": {"id": 12345}})
            await sf.leads.upsert(customer_phone="+918000000001", address=address)
            [call] = [c for calls in mock.requests.values() for c in calls]
    assert json.loads(call.kwargs["data"])["address"] == {"text": "12 MG Road", "pincode": "560001"}
