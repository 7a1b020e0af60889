"""Issue 11 §2: seed 003's tag and assignment forms byte for byte, with the spec's forms kept."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aioresponses import aioresponses

from lofty_async import LeadAssignee, LeadTagRef, LoftyClient, ValidationError
from lofty_async.testing import sandbox_lead_ids

BASE = "https://api.lofty.com"
LEAD = 563172647619608


def bodies(mock: aioresponses) -> list[bytes]:
    return [call.kwargs["data"] for calls in mock.requests.values() for call in calls]


@pytest.mark.parametrize(
    "tags",
    [[{"tagName": "follow-up"}], [LeadTagRef(tag_name="follow-up")]],
    ids=["mapping", "model"],
)
async def test_seed_003_update_with_tag_objects_byte_for_byte(tags: Any) -> None:
    async with LoftyClient(api_key="k") as lofty:
        with aioresponses() as mock:
            mock.put(f"{BASE}/v1.0/leads/{LEAD}", payload={"leadId": LEAD})
            assert await lofty.leads.update(LEAD, stage="Contacted", tags=tags) == LEAD
            assert bodies(mock) == [b'{"stage":"Contacted","tags":[{"tagName":"follow-up"}]}']


async def test_spec_form_of_tags_still_goes_out_as_strings() -> None:
    async with LoftyClient(api_key="k") as lofty:
        with aioresponses() as mock:
            mock.put(f"{BASE}/v1.0/leads/{LEAD}", payload={"leadId": LEAD})
            await lofty.leads.update(LEAD, tags=["follow-up", "hot"])
            mock.post(f"{BASE}/v1.0/leads", payload={"leadId": 7})
            await lofty.leads.create(first_name="Ann", emails=["a@e.x"], tags=[{"tagName": "new"}])
            assert [json.loads(b) for b in bodies(mock)] == [
                {"tags": ["follow-up", "hot"]},
                {"firstName": "Ann", "emails": ["a@e.x"], "tags": [{"tagName": "new"}]},
            ]


@pytest.mark.parametrize(
    ("tags", "field"),
    [
        ([1, 2], "tags[0]"),
        (["ok", 5], "tags[1]"),
        (["ok", {"tagName": "x"}], "tags"),
        ([{"name": "x"}], "tags[0]"),
        ([{"tagName": 3}], "tags[0].tagName"),
        (["  "], "tags[0]"),
        ("follow-up", "tags"),
    ],
)
async def test_bad_tags_are_refused_before_sending(tags: Any, field: str) -> None:
    async with LoftyClient(api_key="k") as lofty:
        with aioresponses() as mock:
            with pytest.raises(ValidationError) as caught:
                await lofty.leads.update(LEAD, tags=tags)
            assert caught.value.field == field
            assert not mock.requests


async def test_seed_003_assign_by_user_id_byte_for_byte() -> None:
    async with LoftyClient(api_key="k") as lofty:
        with aioresponses() as mock:
            mock.post(f"{BASE}/v1.0/leads/{LEAD}/assignment", payload={"leadId": LEAD}, repeat=True)
            assert await lofty.leads.assign(LEAD, user_ids=[10000000514]) == LEAD
            await lofty.leads.assign(LEAD, [LeadAssignee(role="Assistant", assignee="info@lofty-mail.me")])
            assert bodies(mock) == [
                b'{"assignees":[{"userId":10000000514}]}',
                b'[{"role":"Assistant","assignee":"info@lofty-mail.me"}]',
            ]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"user_ids": []}, "user_ids"),
        ({"user_ids": [0]}, "user_ids[0]"),
        ({"user_ids": ["10000000514"]}, "user_ids[0]"),
        ({"user_ids": [1], "assignees": ["a@e.x"]}, "user_ids"),
        ({}, "assignees"),
    ],
)
async def test_bad_assignments_are_refused_before_sending(kwargs: dict[str, Any], field: str) -> None:
    async with LoftyClient(api_key="k") as lofty:
        with aioresponses() as mock:
            with pytest.raises(ValidationError) as caught:
                await lofty.leads.assign(LEAD, **kwargs)
            assert caught.value.field == field
            assert not mock.requests


async def test_both_forms_against_the_emulator(lofty: LoftyClient) -> None:
    lead = sandbox_lead_ids()[3]
    assert await lofty.leads.update(lead, stage="Contacted", tags=[{"tagName": "follow-up"}]) == lead
    assert await lofty.leads.update(lead, tags_add=["hot"]) == lead
    names = {t.tag_name for t in (await lofty.leads.get(lead)).tags or []}
    assert names == {"follow-up", "hot"}
    assert await lofty.leads.update(lead, tags=["only"]) == lead
    assert {t.tag_name for t in (await lofty.leads.get(lead)).tags or []} == {"only"}
    me = await lofty.me()
    assert me.member_user_id is not None
    assert await lofty.leads.assign(lead, user_ids=[me.member_user_id]) == lead
    assert (await lofty.leads.get(lead)).assigned_user_id == me.member_user_id


async def test_seed_003_create_and_delete_byte_for_byte() -> None:
    async with LoftyClient(api_key="k") as lofty:
        with aioresponses() as mock:
            mock.post(f"{BASE}/v1.0/leads", payload={"leadId": 651095960136641})
            lead_id = await lofty.leads.create(
                first_name="Jane",
                last_name="Smith",
                emails=["jane.smith@example.com"],
                phones=["5551234567"],
                lead_types=[2],
                source="Website",
            )
            assert lead_id == 651095960136641
            assert bodies(mock) == [
                b'{"firstName":"Jane","lastName":"Smith","emails":["jane.smith@example.com"],'
                b'"phones":["5551234567"],"leadTypes":[2],"source":"Website"}'
            ]
            mock.delete(f"{BASE}/v1.0/leads/{LEAD}?reason=Duplicate+record", body="")
            await lofty.leads.delete(LEAD, reason="Duplicate record")
            deletes = [str(url) for (method, url) in mock.requests if method == "DELETE"]
            assert deletes == [f"{BASE}/v1.0/leads/{LEAD}?reason=Duplicate+record"]
