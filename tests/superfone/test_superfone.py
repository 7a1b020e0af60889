"""Superfone: request shapes (aioresponses) and behaviour (emulator over loopback)."""

from __future__ import annotations

import csv
import json
import shutil
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aioresponses import aioresponses
from click.testing import CliRunner

from crm_core import FakeClock
from superfone_async import (
    UNSET,
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    SuperfoneClient,
    ValidationError,
)
from superfone_async._cli import main
from superfone_async.testing import (
    SANDBOX_API_KEY,
    SuperfoneEmulator,
    SuperfoneSandbox,
    sandbox_lead_ids,
    sandbox_lead_phone,
)

BASE = "https://prod-api.superfone.co.in/superfone"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
LEAD = sandbox_lead_ids()[0]


@pytest.fixture
def state() -> SuperfoneEmulator:
    return SuperfoneEmulator()


@pytest.fixture
async def sf(state: SuperfoneEmulator) -> AsyncIterator[SuperfoneClient]:
    async with (
        state.serve() as url,
        SuperfoneClient(api_key=SANDBOX_API_KEY, base_url=url, strict_responses=True, rate_limit=None) as client,
    ):
        yield client


def _calls(mock: aioresponses) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m, str(u), c.kwargs) for (m, u), calls in mock.requests.items() for c in calls]


async def test_seed_example_sends_exactly_the_seed_path_and_body() -> None:
    task = {
        "id": 4567,
        "org_id": 42,
        "customer_id": 12345,
        "title": None,
        "type": "FOLLOW_UP_CALL",
        "type_name": None,
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
    }
    clock = FakeClock(start=1_779_000_000)  # 2026-05-17, before the seed's due date
    async with SuperfoneClient(api_key="your_api_key_here", clock=clock, strict_responses=True) as sf:
        with aioresponses() as mock:
            mock.post(f"{BASE}/enterprise/api/lead/12345/task", payload={"data": task, "message": "success"})
            created = await sf.tasks.create(
                12345,
                type="FOLLOW_UP_CALL",
                due_date="2026-05-20T15:00:00Z",
                customer_note="Customer asked about volume discount.",
            )
            [(method, url, kwargs)] = _calls(mock)
    assert method == "POST" and url == f"{BASE}/enterprise/api/lead/12345/task"
    assert (
        kwargs["data"]
        == json.dumps(
            {
                "type": "FOLLOW_UP_CALL",
                "due_date": "2026-05-20T15:00:00Z",
                "customer_note": "Customer asked about volume discount.",
            },
            separators=(",", ":"),
        ).encode()
    )
    assert kwargs["headers"]["x-api-key"] == "your_api_key_here"
    assert kwargs["headers"]["Content-Type"] == "application/json"
    assert created.id == 4567 and created.notify_at is not None and created.task_status == "PENDING"


async def test_request_shapes_of_the_other_endpoints() -> None:
    page = {"rows": [], "total_pages": 0, "current_page": 1, "page_size": 20, "total_items": 0}
    lead = {"id": 12345, "phones": [], "labels": []}
    async with SuperfoneClient(api_key="k", rate_limit=None) as sf:
        with aioresponses() as mock:
            mock.get(f"{BASE}/enterprise/api/lead/12345/task?page=2&page_size=5", payload={"data": page})
            mock.get(f"{BASE}/enterprise/api/lead?phone=%2B918000000001", payload={"data": lead})
            mock.post(f"{BASE}/enterprise/api/lead", payload={"data": lead})
            mock.get(f"{BASE}/enterprise/api/label?text=hot&page=1&page_size=20", payload={"data": page})
            await sf.tasks.list(12345, page=2, page_size=5)
            await sf.leads.get(phone="+918000000001")
            await sf.leads.upsert(customer_phone="+918000000001", lead_stage_name=None, add_labels=["Hot"])
            await sf.labels.list(text="hot", page_size=20)
            calls = _calls(mock)
    urls = [u for _, u, _ in calls]
    assert f"{BASE}/enterprise/api/lead?phone=%2B918000000001" in urls
    upsert = next(k for m, u, k in calls if m == "POST")
    assert json.loads(upsert["data"]) == {
        "customer_phone": "+918000000001",
        "lead_stage_name": None,
        "add_labels": ["Hot"],
    }


@pytest.mark.parametrize(
    ("call", "field"),
    [
        ({"type": "MEETING"}, "type"),
        ({"due_date": "2027-05-20T15:00:00"}, "due_date"),
        ({"notify_at": "2027-05-20T16:00:00Z"}, "notify_at"),  # after due_date
        ({"notify_at": "2020-05-20T14:00:00Z"}, "notify_at"),  # in the past
    ],
)
async def test_bad_task_input_is_refused_before_sending(call: dict[str, Any], field: str) -> None:
    args: dict[str, Any] = {"type": "REMINDER", "due_date": "2027-05-20T15:00:00Z", **call}
    async with SuperfoneClient(api_key="k") as sf:
        with aioresponses() as mock:
            with pytest.raises(ValidationError) as info:
                await sf.tasks.create(12345, **args)
            assert mock.requests == {}
    assert info.value.field == field


async def test_bad_lead_input_is_refused_before_sending() -> None:
    async with SuperfoneClient(api_key="k") as sf:
        with aioresponses() as mock:
            with pytest.raises(ValidationError, match="add_labels"):
                await sf.leads.upsert(customer_phone="+918000000001", add_labels=["a"], remove_labels=["b"])
            with pytest.raises(ValidationError, match=r"E\.164"):
                await sf.leads.get(phone="8000000001")
            with pytest.raises(ValidationError, match="page_size"):
                await sf.tasks.list(12345, page_size=21)
            assert mock.requests == {}


async def test_task_rules_auto_complete_and_complete_newest(sf: SuperfoneClient, state: SuperfoneEmulator) -> None:
    reminder = await sf.tasks.create(LEAD, type="REMINDER", due_date="2027-06-01T09:00:00Z")
    first = await sf.tasks.create(LEAD, type="FIRST_CALL", due_date="2027-06-01T10:00:00Z")
    follow = await sf.tasks.create(LEAD, type="FOLLOW_UP_CALL", due_date="2027-06-02T10:00:00Z")
    assert reminder.notify_at == reminder.due_date
    assert follow.notify_at is not None and (follow.due_date - follow.notify_at).total_seconds() == 600
    assert first.notify_at is not None and first.notify_at < first.due_date
    by_id = {t.id: t for t in (await sf.tasks.list(LEAD)).rows}
    assert by_id[first.id].task_status == "COMPLETE" and by_id[first.id].status == "COMPLETE"
    assert by_id[reminder.id].task_status == "PENDING"  # reminders are independent
    assert by_id[follow.id].task_status == "PENDING" and by_id[follow.id].type_name is None
    closed = await sf.tasks.complete(LEAD)
    assert closed.id == follow.id and closed.task_status == "COMPLETE" and closed.updated_by is not None
    closed_again = await sf.tasks.complete(LEAD)
    assert closed_again.id == reminder.id
    with pytest.raises(BadRequestError, match="No open task found for this lead"):
        await sf.tasks.complete(LEAD)


async def test_list_pages_and_iter(sf: SuperfoneClient) -> None:
    for day in range(1, 26):
        await sf.tasks.create(LEAD, type="REMINDER", due_date=f"2027-07-{day:02d}T09:00:00Z")
    first = await sf.tasks.list(LEAD, page=1, page_size=20)
    assert (first.total_items, first.total_pages, len(first.rows)) == (25, 2, 20)
    every = [t async for t in sf.tasks.iter(LEAD, page_size=7)]
    assert len(every) == 25 and [t.id for t in every] == sorted((t.id for t in every), reverse=True)


async def test_leads_and_catalogs(sf: SuperfoneClient, state: SuperfoneEmulator) -> None:
    lead = await sf.leads.get(phone=sandbox_lead_phone(LEAD))
    assert lead.id == LEAD and lead.phones[0].phone == sandbox_lead_phone(LEAD)
    updated = await sf.leads.upsert(
        customer_phone=sandbox_lead_phone(LEAD),
        city="Mysuru",
        add_labels=["Hot", "VIP"],
        lead_stage_name="Qualified",
        assignee_user_phone="+919800000679",
        add_phones=["+918111111111"],
        add_products=["Villa Plot"],
        source_type="PABBLY",
    )
    assert updated.city == "Mysuru" and [label.title for label in updated.labels] == ["Hot", "VIP"]
    assert updated.lead_stage is not None and updated.lead_stage.title == "Qualified"
    assert updated.assignee_user is not None and updated.assignee_user.id == 679
    assert (await sf.leads.get(phone="+918111111111")).id == LEAD  # any phone finds it
    cleared = await sf.leads.upsert(
        customer_phone=sandbox_lead_phone(LEAD),
        lead_stage_name=None,
        assignee_user_phone=None,
        remove_labels=["Hot"],
        lead_group_name=UNSET,
    )
    assert cleared.lead_stage is None and cleared.assignee_user is None and [x.title for x in cleared.labels] == ["VIP"]
    with pytest.raises(BadRequestError) as unknown:
        await sf.leads.upsert(customer_phone="+917777777777")
    assert unknown.value.message == "Customer not found"
    with pytest.raises(BadRequestError, match="Multiple lead groups found with this name"):
        await sf.leads.upsert(customer_phone=sandbox_lead_phone(LEAD), lead_group_name="Channel Partners")
    created = await sf.leads.upsert(customer_phone="+917777777777", create_if_not_found=True, first_name="Zoya")
    assert created.first_name == "Zoya" and created.id in state.leads
    with pytest.raises(NotFoundError, match="Lead not found"):
        await sf.leads.get(phone="+916666666666")
    assert [s.title async for s in sf.source_types.iter()][-1] == "OTHERS"
    stages = [s.title async for s in sf.lead_stages.iter(page_size=2)]
    assert stages[0] == "New Lead" and len(stages) == 5
    assert [p.currency async for p in sf.products.iter()] == ["INR", "INR", "INR"]
    assert [g.title for g in (await sf.lead_groups.list(text="channel")).rows] == ["Channel Partners"] * 2
    assert [label.title async for label in sf.labels.iter(text="HOT")] == ["Hot", "Hot Lead - Mumbai"]


async def test_documented_errors_word_for_word(sf: SuperfoneClient, state: SuperfoneEmulator) -> None:
    with pytest.raises(NotFoundError) as missing:
        await sf.tasks.create(99999, type="REMINDER", due_date="2027-06-01T09:00:00Z")
    assert missing.value.message == "Lead not found"
    state.lead_storage_full = True
    with pytest.raises(NotFoundError) as full:
        await sf.tasks.create(LEAD, type="REMINDER", due_date="2027-06-01T09:00:00Z")
    assert full.value.message == "Lead storage is full"
    async with SuperfoneClient(api_key="wrong", base_url=sf.base_url) as bad:
        with pytest.raises(AuthenticationError) as denied:
            await bad.tasks.list(LEAD)
    assert denied.value.message == "UnAuthorized, Please Provide Valid API Key"
    assert "wrong" not in str(denied.value)


async def test_emulator_answers_the_documented_400s() -> None:
    import aiohttp

    emulator = SuperfoneEmulator()
    async with emulator.serve() as url, aiohttp.ClientSession(headers={"x-api-key": SANDBOX_API_KEY}) as http:

        async def post(path: str, body: Any) -> tuple[int, Any]:
            async with http.post(f"{url}{path}", json=body) as response:
                return response.status, await response.json()

        assert await post("/enterprise/api/lead/abc/task", {"type": "REMINDER"}) == (
            400,
            {"message": "lead_id must be a number"},
        )
        assert await post(f"/enterprise/api/lead/{LEAD}/task", {}) == (400, {"message": "Request body is empty"})
        assert await post(f"/enterprise/api/lead/{LEAD}/task", {"due_date": "2027-01-01T00:00:00Z"}) == (
            400,
            {"message": "type is required"},
        )
        status, body = await post(f"/enterprise/api/lead/{LEAD}/task", {"type": "MEETING"})
        assert status == 400 and body["message"].startswith('type "MEETING" is not available for creation. Allowed:')
        assert await post(f"/enterprise/api/lead/{LEAD}/task", {"type": "REMINDER"}) == (
            400,
            {"message": "due_date is required"},
        )
        async with http.get(f"{url}/enterprise/api/lead/{LEAD}/task", params={"page_size": "21"}) as response:
            assert response.status == 400


def test_pytest_fixture(superfone_emulator: SuperfoneSandbox) -> None:
    import asyncio

    async def use() -> int:
        async with superfone_emulator.client() as sf:
            task = await sf.tasks.create(LEAD, type="REMINDER", due_date="2027-06-01T09:00:00Z")
            return int(task.id)

    assert asyncio.run(use()) in superfone_emulator.emulator.tasks


def test_import_keeps_file_order_per_lead_under_concurrency(tmp_path: Path) -> None:
    source = tmp_path / "superfone_tasks.csv"
    shutil.copy(EXAMPLES / "superfone_tasks.csv", source)
    run = CliRunner().invoke(
        main,
        ["tasks", "import", str(source), "--sandbox", "--no-progress", "--concurrency", "16", "--rate-limit", "off"],
    )
    assert run.exit_code == 0, run.output
    assert "320 rows: 320 created, 0 failed" in run.output
    state = SuperfoneEmulator(state_path=tmp_path / "superfone_tasks.csv.sandbox-state.jsonl")
    with source.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    last_non_reminder: dict[int, str] = {}
    reminders: defaultdict[int, int] = defaultdict(int)
    for row in rows:
        if row["type"] == "REMINDER":
            reminders[int(row["lead_id"])] += 1
        else:
            last_non_reminder[int(row["lead_id"])] = row["type"]
    assert len(state.tasks) == 320
    for lead_id, kind in last_non_reminder.items():
        open_non_reminders = [t for t in state.open_tasks(lead_id) if t["type"] != "REMINDER"]
        assert len(open_non_reminders) == 1, lead_id
        newest = max((t for t in state.lead_tasks(lead_id) if t["type"] != "REMINDER"), key=lambda t: t["id"])
        assert open_non_reminders[0]["id"] == newest["id"] and newest["type"] == kind
    for lead_id, count in reminders.items():
        assert sum(1 for t in state.open_tasks(lead_id) if t["type"] == "REMINDER") == count


def test_bad_rows_file_reports_each_bad_row(tmp_path: Path) -> None:
    source = tmp_path / "bad.csv"
    shutil.copy(EXAMPLES / "superfone_tasks_bad_rows.csv", source)
    run = CliRunner().invoke(main, ["tasks", "import", str(source), "--sandbox", "--no-progress"])
    assert run.exit_code == 1
    with (tmp_path / "bad.csv.results.csv").open(encoding="utf-8") as handle:
        by_row = {int(r["row"]): r for r in csv.DictReader(handle)}
    assert sorted(n for n, r in by_row.items() if r["status"] == "created") == [1, 4]
    fields = {n: r["field"] for n, r in by_row.items() if r["status"] == "failed"}
    assert fields == {2: "type", 3: "due_date", 5: "notify_at", 6: "notify_at", 7: "lead_id", 9: ""}
    # Later rows of a lead whose earlier row failed wait for it (file order is the data).
    assert "waits for row 3 of the same lead" in by_row[8]["error"] and by_row[8]["status"] == "skipped"
    assert "waits for row 5 of the same lead" in by_row[10]["error"] and by_row[10]["status"] == "skipped"
    assert "Lead not found" in by_row[9]["error"]
