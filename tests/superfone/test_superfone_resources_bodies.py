"""Superfone resources are attrs classes; request bodies go out through the cattrs converter."""

from __future__ import annotations

import json
from typing import Any

import attrs
import pytest
from aioresponses import aioresponses

from crm_core import FakeClock
from crm_core._options import SessionView, Transport
from superfone_async import UNSET, Address, Catalog, Leads, SuperfoneClient, Tasks
from superfone_async._leads import LeadUpsert, build_lead_upsert
from superfone_async._tasks import TaskCreate, build_task_create
from superfone_async._wire import BODY_CONVERTER

BASE = "https://prod-api.superfone.co.in/superfone"
LEAD = {"id": 12345, "phones": [], "labels": []}


@pytest.mark.parametrize("cls", [Tasks, Leads, Catalog])
def test_resources_are_attrs_classes_holding_the_session(cls: type) -> None:
    assert attrs.has(cls)
    fields = attrs.fields_dict(cls)
    assert fields["session"].type in (Transport, "Transport")


async def test_client_resources_share_one_session_and_hide_the_key() -> None:
    async with SuperfoneClient(api_key="secret-key-123") as sf:
        views = {r.session for r in (sf.tasks, sf.leads, sf.labels, sf.products, sf.source_types)}
        assert len(views) == 1
        [view] = views
        assert isinstance(view, SessionView) and view.session is sf.http.http
        assert "secret-key-123" not in repr(sf.tasks) + repr(sf.leads) + repr(sf.labels)
        assert attrs.evolve(sf.labels, name="tags").path == "/enterprise/api/label"


def test_task_create_body_is_the_converter_output_without_the_path_parameter() -> None:
    payload = build_task_create(
        lead_id=12345,
        type="FOLLOW_UP_CALL",
        due_date="2026-05-20T15:00:00Z",
        notify_at="2026-05-20T14:50:00Z",
        customer_note="Customer asked about volume discount.",
        now=1_779_000_000,
    )
    assert isinstance(payload, TaskCreate)
    assert payload.body() == BODY_CONVERTER.unstructure(payload)
    assert list(payload.body()) == ["type", "due_date", "notify_at", "customer_note"]
    bare = TaskCreate(lead_id=1, type="REMINDER", due_date="2026-05-20T15:00:00Z")
    assert bare.body() == {"type": "REMINDER", "due_date": "2026-05-20T15:00:00Z"}


def _upsert_body(**kwargs: Any) -> dict[str, Any]:
    checked = build_lead_upsert(customer_phone="+918000000001", **kwargs)
    assert isinstance(checked, LeadUpsert)
    body: dict[str, Any] = checked.body()
    return body


def test_upsert_none_clears_and_unset_leaves_alone() -> None:
    assert _upsert_body() == {"customer_phone": "+918000000001"}
    assert _upsert_body(lead_stage_name=UNSET, lead_group_name=UNSET, assignee_user_phone=UNSET) == {
        "customer_phone": "+918000000001"
    }
    assert _upsert_body(lead_stage_name=None, lead_group_name=None, assignee_user_phone=None) == {
        "customer_phone": "+918000000001",
        "assignee_user_phone": None,
        "lead_stage_name": None,
        "lead_group_name": None,
    }
    # Plain optional fields: None means "not given", never null.
    assert _upsert_body(first_name=None, email=None, address=None, deal_value=None) == {
        "customer_phone": "+918000000001"
    }
    assert _upsert_body(create_if_not_found=False) == {"customer_phone": "+918000000001"}
    assert _upsert_body(create_if_not_found=True) == {
        "customer_phone": "+918000000001",
        "create_customer_if_customer_phone_not_found": True,
    }
    assert _upsert_body(deal_value=0) == {"customer_phone": "+918000000001", "deal_value": 0}


async def test_full_upsert_goes_out_byte_for_byte_in_the_docs_order() -> None:
    async with SuperfoneClient(api_key="k", rate_limit=None, clock=FakeClock()) as sf:
        with aioresponses() as mock:
            mock.post(f"{BASE}/enterprise/api/lead", payload={"data": LEAD, "message": "success"})
            await sf.leads.upsert(
                customer_phone="+918000000001",
                create_if_not_found=True,
                first_name="Asha",
                last_name="Kumar",
                email=["asha@example.com"],
                website="https://acme.example",
                address=Address(text="12 MG Road", latitude=12.97),
                city="Bengaluru",
                business_name="Acme Pvt Ltd",
                additional_info="VIP",
                deal_value=50000,
                source="website-form",
                source_type="OTHERS",
                assignee_user_phone="+918000000099",
                lead_stage_name="New Lead",
                lead_group_name=None,
                add_labels=["Hot"],
                add_products=["Plan A"],
                add_phones=["+918000000002"],
                customer_note="Asked for a demo",
            )
            [call] = [c for calls in mock.requests.values() for c in calls]
    expected = (
        '{"customer_phone":"+918000000001","create_customer_if_customer_phone_not_found":true,'
        '"first_name":"Asha","last_name":"Kumar","email":["asha@example.com"],"website":"https://acme.example",'
        '"address":{"text":"12 MG Road","latitude":12.97},"city":"Bengaluru","business_name":"Acme Pvt Ltd",'
        '"additional_info":"VIP","deal_value":50000,"source":"website-form","source_type":"OTHERS",'
        '"assignee_user_phone":"+918000000099","lead_stage_name":"New Lead","lead_group_name":null,'
        '"add_labels":["Hot"],"add_products":["Plan A"],"add_phones":["+918000000002"],'
        '"customer_note":"Asked for a demo"}'
    )
    assert call.kwargs["data"] == expected.encode()
    assert json.loads(expected)["lead_group_name"] is None


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"create_if_not_found": "yes"}, "create_if_not_found"),
        ({"assignee_user_phone": "8000000099"}, "assignee_user_phone"),
        ({"lead_stage_name": ""}, "lead_stage_name"),
        ({"email": "asha@example.com"}, "email"),
        ({"add_phones": ["+91"]}, "add_phones"),
        ({"deal_value": -1}, "deal_value"),
        ({"first_name": 7}, "first_name"),
    ],
)
def test_bad_upsert_fields_are_named(kwargs: dict[str, Any], field: str) -> None:
    from superfone_async import ValidationError

    with pytest.raises(ValidationError) as info:
        _upsert_body(**kwargs)
    assert info.value.field == field
