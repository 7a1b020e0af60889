"""The emulator and the models agree with Lofty's published OpenAPI spec.

``tests/data/lofty-openapi-subset.json`` holds the operations this SDK covers and every schema
they reference, copied from ``../shared/reference/lofty-openapi.json`` (checked below when that
file is present), so the suite runs on any machine.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import attrs
import jsonschema
import pytest

from crm_core import snake_to_camel
from crm_core.emulator import FixedWindowRateLimit
from lofty_async import (
    AgentInfo,
    Appointment,
    AvailableMeetings,
    CalendarCreateResult,
    CalendarEvent,
    CalendarPage,
    Commission,
    Commissions,
    CustomAttribute,
    CustomFieldValue,
    CustomRole,
    CustomRoleAssignee,
    Lead,
    LeadCreate,
    LeadFamilyMember,
    LeadInquiry,
    LeadProperty,
    LeadTag,
    LeadTransaction,
    LeadUpdate,
    ListMetadata,
    Location,
    MeetingSlot,
    Office,
    RoutingPreview,
    Task,
    TaskV1,
    User,
    Webhook,
)
from lofty_async.testing import SANDBOX_API_KEY, LoftyEmulator, sandbox_lead_ids

SUBSET = Path(__file__).resolve().parents[1] / "data" / "lofty-openapi-subset.json"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "reference" / "lofty-openapi.json"
SPEC: dict[str, Any] = json.loads(SUBSET.read_text(encoding="utf-8"))
SCHEMAS: dict[str, Any] = SPEC["components"]["schemas"]

MODELS: dict[type[Any], str] = {
    Task: "TaskResponseV2",
    TaskV1: "TaskResponse",
    Appointment: "Appointment",
    CalendarEvent: "CalendarItemV2",
    CalendarCreateResult: "CalendarCreateResult",
    MeetingSlot: "AvailableMeetingSlotV2",
    AvailableMeetings: "AvailableMeetingsResponseV2",
    Lead: "LeadResponse",
    LeadTag: "UserLeadTagVo",
    LeadInquiry: "LeadInquiry",
    Location: "Location",
    LeadProperty: "LeadProperty",
    CustomAttribute: "CustomAttribute",
    LeadFamilyMember: "LeadFamilyMember",
    CustomRole: "CustomRole",
    LeadTransaction: "LeadTransaction",
    CustomFieldValue: "CustomFieldRequest",
    Commissions: "Commissions",
    Commission: "Commission",
    ListMetadata: "MetaData",
    RoutingPreview: "LeadCustomRoleAssigneeInfo",
    CustomRoleAssignee: "CustomRoleAssignee",
    User: "UserResponse",
    AgentInfo: "AgentInfo",
    Office: "OfficeBo",
    Webhook: "WebhookResponse",
    LeadCreate: "LeadRequest",
    LeadUpdate: "EditLeadRequest",
}


def test_the_subset_is_a_faithful_copy_of_the_shared_spec() -> None:
    if not SHARED.exists():
        pytest.skip(f"{SHARED} is not beside this checkout")
    full = json.loads(SHARED.read_text(encoding="utf-8"))
    for path, operations in SPEC["paths"].items():
        assert full["paths"][path] == operations, path
    for name, schema in SCHEMAS.items():
        assert full["components"]["schemas"][name] == schema, name


@pytest.mark.parametrize("model", list(MODELS), ids=lambda m: m.__name__)
def test_models_have_every_field_of_their_schema(model: type[Any]) -> None:
    wire = {snake_to_camel(a.name) for a in attrs.fields(model) if not a.metadata.get("extra")}
    assert wire == set(SCHEMAS[MODELS[model]].get("properties", {}))


def test_calendar_page_has_every_field_of_its_schema() -> None:
    wire = {snake_to_camel(a.name) for a in attrs.fields(CalendarPage) if not a.metadata.get("extra")}
    assert wire == set(SCHEMAS["CalendarListResponseV2"]["properties"])


def _strict(schema: Any) -> Any:
    """JSON Schema from an OpenAPI schema, with no undocumented keys allowed in objects."""
    if isinstance(schema, dict):
        out = {k: _strict(v) for k, v in schema.items() if k not in ("example", "nullable")}
        if schema.get("type") == "object" and "properties" in schema:
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    return schema


STRICT_COMPONENTS = _strict(copy.deepcopy(SPEC["components"]))


WRAPPED = {("GET", "/v1.0/leads/{leadId}"): "lead"}
"""Operations whose body the API wraps although the spec's schema shows it bare (lofty_api.md §1.5)."""


def validate(method: str, template: str, status: int, body: Any) -> None:
    operation = SPEC["paths"][template][method.lower()]
    if (method, template) == ("GET", "/v1.0/leads") and isinstance(body, dict) and "_metadata" in body:
        # The API sends _metadata; the spec renders the same object as get_metadata (§1.6).
        body = {("get_metadata" if k == "_metadata" else k): v for k, v in body.items()}
    wrapper = WRAPPED.get((method, template))
    if wrapper is not None and status < 300:
        assert isinstance(body, dict) and set(body) == {wrapper}
        body = body[wrapper]
    declared = operation["responses"]
    assert str(status) in declared, f"{method} {template} answered {status}, the spec declares {sorted(declared)}"
    if status >= 300:
        return
    content = declared[str(status)].get("content")
    if not content:
        return
    schema = next(iter(content.values()))["schema"]
    if schema.get("type") == "object" and "properties" not in schema:
        return  # the spec says only "object" (lead delete): nothing to check
    jsonschema.validate(body, {**_strict(schema), "components": STRICT_COMPONENTS})


LEAD = sandbox_lead_ids()[0]


async def test_every_covered_operation_answers_in_the_spec_shape() -> None:
    emulator = LoftyEmulator(rate_limit=FixedWindowRateLimit(limit=10**6))
    start = datetime.now(UTC) + timedelta(days=3)
    end = start + timedelta(hours=1)
    checked: set[tuple[str, str]] = set()
    async with (
        emulator.serve() as url,
        aiohttp.ClientSession(
            headers={"Authorization": f"token {SANDBOX_API_KEY}", "Content-Type": "application/json"}
        ) as http,
    ):

        async def call(method: str, template: str, path: str, *, params: Any = None, body: Any = None) -> Any:
            async with http.request(method, url + path, params=params, json=body) as response:
                raw = await response.read()
                data = json.loads(raw) if raw.strip() else None
                validate(method, template, response.status, data)
                checked.add((method, template))
                return data

        task = (
            await call(
                "POST",
                "/v2.0/tasks",
                "/v2.0/tasks",
                body={
                    "type": "Call",
                    "content": "c",
                    "leadId": LEAD,
                    "assignedRole": "Agent",
                    "startAt": start.isoformat(),
                    "endAt": end.isoformat(),
                    "timeZoneCode": "America/Denver",
                },
            )
        )["taskId"]
        await call("GET", "/v2.0/tasks", "/v2.0/tasks", params={"leadId": LEAD})
        await call("GET", "/v2.0/tasks/{taskId}", f"/v2.0/tasks/{task}")
        await call("PUT", "/v2.0/tasks/{taskId}", f"/v2.0/tasks/{task}", body={"content": "d"})
        await call("POST", "/v2.0/tasks/{taskId}/finish", f"/v2.0/tasks/{task}/finish")
        await call("POST", "/v2.0/tasks/{taskId}/unfinish", f"/v2.0/tasks/{task}/unfinish")
        await call("GET", "/v2.0/tasks/my-tasks", "/v2.0/tasks/my-tasks", params={"limit": "5"})
        await call("GET", "/v2.0/tasks/{taskId}", "/v2.0/tasks/99")  # 404
        await call("POST", "/v2.0/tasks", "/v2.0/tasks", body={"type": "Call"})  # 400
        await call("DELETE", "/v2.0/tasks/{taskId}", f"/v2.0/tasks/{task}")

        created = await call(
            "POST",
            "/v2.0/calendar",
            "/v2.0/calendar",
            body={
                "type": "APPOINTMENT",
                "content": "Showing",
                "leadId": LEAD,
                "timeZoneCode": "America/New_York",
                "startAt": start.isoformat(),
                "endAt": end.isoformat(),
                "address": "1 Main St",
            },
        )
        calendar_id = created["data"]["id"]
        await call(
            "GET",
            "/v2.0/calendar",
            "/v2.0/calendar",
            params={"startTime": start.isoformat(), "endTime": end.isoformat(), "pageSize": "10"},
        )
        await call("PUT", "/v2.0/calendar/{calendarId}", f"/v2.0/calendar/{calendar_id}", body={"content": "x"})
        await call("POST", "/v2.0/calendar/{calendarId}/finish", f"/v2.0/calendar/{calendar_id}/finish")
        await call("POST", "/v2.0/calendar/{calendarId}/unfinish", f"/v2.0/calendar/{calendar_id}/unfinish")
        await call(
            "GET",
            "/v2.0/calendar/meetings/available",
            "/v2.0/calendar/meetings/available",
            params={"startTime": start.isoformat(), "endTime": (start + timedelta(days=4)).isoformat()},
        )
        await call("DELETE", "/v2.0/calendar/{calendarId}", f"/v2.0/calendar/{calendar_id}")
        await call("DELETE", "/v2.0/calendar/{calendarId}", "/v2.0/calendar/12-task")  # 400

        v1 = (
            await call(
                "POST",
                "/v1.0/tasks",
                "/v1.0/tasks",
                body={
                    "content": "v1",
                    "leadId": LEAD,
                    "deadline": int(end.timestamp() * 1000),
                    "type": "Text",
                    "assignedRole": "Agent",
                },
            )
        )["taskId"]
        await call("GET", "/v1.0/tasks", "/v1.0/tasks", params={"leadId": LEAD})
        await call("GET", "/v1.0/tasks/{taskId}", f"/v1.0/tasks/{v1}")
        await call("PUT", "/v1.0/tasks/{taskId}", f"/v1.0/tasks/{v1}", body={"finishFlag": True})
        await call("DELETE", "/v1.0/tasks/{taskId}", f"/v1.0/tasks/{v1}")
        await call("GET", "/v1.0/appts", "/v1.0/appts", params={"leadId": LEAD})

        lead = (
            await call(
                "POST",
                "/v1.0/leads",
                "/v1.0/leads",
                body={
                    "firstName": "Jane",
                    "lastName": "Smith",
                    "emails": ["jane.smith@example.com"],
                    "phones": ["5551234567"],
                    "leadTypes": [2],
                    "source": "Website",
                    "tagsAdd": ["vip"],
                },
            )
        )["leadId"]
        await call("GET", "/v1.0/leads/{leadId}", f"/v1.0/leads/{lead}")
        await call("GET", "/v1.0/leads", "/v1.0/leads", params={"limit": "3"})
        await call("PUT", "/v1.0/leads/{leadId}", f"/v1.0/leads/{lead}", body={"stage": "Contacted", "tags": ["a"]})
        await call(
            "POST",
            "/v1.0/leads/{leadId}/assignment",
            f"/v1.0/leads/{lead}/assignment",
            body=[{"role": "Agent", "assignee": "agent@sandbox.lofty.test"}],
        )
        await call("POST", "/v1.0/leads/assignee", "/v1.0/leads/assignee", body={"firstName": "Bob", "email": "b@x.io"})
        await call("DELETE", "/v1.0/leads/{leadId}", f"/v1.0/leads/{lead}", params={"reason": "Duplicate"})
        await call("GET", "/v1.0/leads", "/v1.0/leads", params={"limit": "101"})  # 400

        hook = await call(
            "POST",
            "/v1.0/webhook",
            "/v1.0/webhook",
            body={"listId": 10, "callbackUrl": "https://example.com/hook", "limit": 50},
        )
        await call("GET", "/v1.0/webhooks", "/v1.0/webhooks")
        await call("DELETE", "/v1.0/webhook/{subscribeId}", f"/v1.0/webhook/{hook['subscribeId']}")
        await call("GET", "/v1.0/me", "/v1.0/me")
    assert {(m.upper(), p) for p, ops in SPEC["paths"].items() for m in ops} == checked
