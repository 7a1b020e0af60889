"""Reconciliation against servers that behave like real ones (issue 8 §2, core side).

A small loopback server stores creates the way the real APIs may: late (after the client gave
up waiting), or with a 2xx whose ID is unusable. Plus dedupe keys under ``asyncio.gather``, the
set-aside outcome for bulk jobs, the ledger's bounded memory, and ``parse_record_id``.
"""

from __future__ import annotations

import asyncio
import time
import tracemalloc
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web

from crm_core import (
    APIResponseValidationError,
    CreateLedger,
    Dialect,
    HTTPSession,
    Outcome,
    ReconcilePending,
    ReconcileSettings,
    ReconciliationError,
    Request,
    RequestKind,
    Response,
    StaticAuth,
    parse_record_id,
)
from crm_core._reconcile import Candidate, send_create_once
from crm_core.emulator import FixedWindowRateLimit
from lofty_async import LoftyClient
from lofty_async.testing import SANDBOX_API_KEY, LoftyEmulator, sandbox_lead_ids


class Store:
    """A loopback server with ``POST /things`` and ``GET /things``."""

    def __init__(self, *, commit_after: float = 0.0, answer_id: Any = None, stores: bool = True) -> None:
        self.commit_after = commit_after  # seconds between arrival and storing (then answering)
        self.answer_id = answer_id  # what the 2xx says the id is (None: the real one)
        self.stores = stores
        self.records: list[dict[str, Any]] = []
        self.posts = 0

    async def post(self, request: web.Request) -> web.Response:
        self.posts += 1
        body = await request.json()
        await asyncio.sleep(self.commit_after)
        record = {"id": len(self.records) + 1, "name": body["name"], "created_at": time.time()}
        if self.stores:
            self.records.append(record)
        return web.json_response({"id": record["id"] if self.answer_id is None else self.answer_id})

    async def get(self, request: web.Request) -> web.Response:
        return web.json_response(self.records)

    @asynccontextmanager
    async def serve(self) -> AsyncIterator[str]:
        app = web.Application()
        app.router.add_post("/things", self.post)
        app.router.add_get("/things", self.get)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        try:
            yield f"http://127.0.0.1:{runner.addresses[0][1]}"
        finally:
            await runner.cleanup()


def session(url: str, timeout: float = 5.0) -> HTTPSession:
    return HTTPSession(
        base_url=url,
        auth=StaticAuth({"Authorization": "token k"}),
        dialect=Dialect(name="test_sdk", version="0", parse_error=lambda s, t: (None, t)),
        timeout=timeout,
    )


async def create(
    http: HTTPSession,
    name: str,
    *,
    ledger: CreateLedger | None = None,
    settings: ReconcileSettings | None = None,
    check_first: bool = False,
    sent_at: datetime | None = None,
) -> int:
    request = Request(
        method="POST", path="/things", operation="things.create", kind=RequestKind.CREATE, json={"name": name}
    )

    async def lookup() -> list[Candidate[Hashable, int]]:
        listed = await http.send(Request(method="GET", path="/things", operation="things.list", kind=RequestKind.READ))
        return [
            Candidate(id=r["id"], created_at=datetime.fromtimestamp(r["created_at"], UTC), value=r["id"])
            for r in listed.data
            if r["name"] == name
        ]

    def decode(response: Response) -> int:
        return parse_record_id(response.data["id"], response=response, field="id")

    return await send_create_once(
        http,
        request,
        decode=decode,
        lookup=lookup,
        id_of=lambda value: value,
        ledger=ledger or CreateLedger(),
        settings=settings or ReconcileSettings(),
        sent_at=sent_at or datetime.now(UTC),
        check_first=check_first,
    )


@pytest.mark.slow
async def test_a_late_commit_is_found_during_the_settle_period_not_duplicated() -> None:
    store = Store(commit_after=2.5)
    async with store.serve() as url:
        http = session(url, timeout=1.0)  # gives up 1.5 s before the server stores the write
        started = time.monotonic()
        record_id = await create(http, "late")
        elapsed = time.monotonic() - started
        await http.aclose()
    assert [r["id"] for r in store.records] == [record_id]  # one record, found, not re-sent
    assert store.posts == 1
    assert elapsed < 1.0 + 2.0 + 1.0  # timeout + settle period (2 x timeout), plus slack


@pytest.mark.parametrize("bad", ["abc", None, 12.9, True, 0])
async def test_an_unusable_id_in_a_2xx_is_looked_up_never_re_sent(bad: Any) -> None:
    store = Store(answer_id=bad)
    async with store.serve() as url:
        http = session(url)
        record_id = await create(http, "odd id", settings=ReconcileSettings(settle=0.5))
        await http.aclose()
    assert store.posts == 1
    assert [r["id"] for r in store.records] == [record_id]


async def test_an_unusable_id_and_nothing_visible_raises_without_re_sending() -> None:
    store = Store(answer_id="abc", stores=False)
    async with store.serve() as url:
        http = session(url)
        with pytest.raises(ReconciliationError) as info:
            await create(http, "ghost", settings=ReconcileSettings(settle=0.3, lookup_delay=0.05))
        await http.aclose()
    assert store.posts == 1
    assert info.value.outcome is Outcome.MAYBE_PROCESSED


async def test_a_bulk_job_can_set_an_ambiguous_row_aside_and_re_check_it() -> None:
    store = Store(commit_after=1.0)
    async with store.serve() as url:
        http = session(url, timeout=0.3)
        sent_at = datetime.now(UTC)
        ledger = CreateLedger()
        with pytest.raises(ReconcilePending) as info:
            await create(
                http, "aside", ledger=ledger, settings=ReconcileSettings(wait_to_settle=False), sent_at=sent_at
            )
        assert info.value.recheck_at > time.time()
        assert store.posts == 1
        await asyncio.sleep(max(0.0, info.value.recheck_at - time.time()) + 0.1)
        record_id = await create(http, "aside", ledger=ledger, check_first=True, sent_at=sent_at)
        await http.aclose()
    assert store.posts == 1  # found on re-check: not sent again
    assert [r["id"] for r in store.records] == [record_id]


def test_parse_record_id_accepts_only_real_ids() -> None:
    response = Response(
        status=200,
        headers={},
        data={},
        attempts=1,
        request=Request(method="POST", path="/t", operation="t.create", kind=RequestKind.CREATE),
    )
    assert parse_record_id(563172647700000, response=response, field="taskId") == 563172647700000
    assert parse_record_id("42", response=response, field="id", digit_strings=True) == 42
    for bad in ["abc", None, 12.9, 12.0, True, False, 0, -3, "42", "4 2", "٤٢"]:
        with pytest.raises(APIResponseValidationError) as info:
            parse_record_id(bad, response=response, field="taskId")
        assert info.value.outcome is Outcome.PROCESSED
        assert "taskId" in str(info.value)


async def test_gathered_creates_sharing_a_dedupe_key_make_one_task() -> None:
    emulator = LoftyEmulator(rate_limit=FixedWindowRateLimit(limit=10**6, window=60))
    lead = sandbox_lead_ids()[1]
    row: dict[str, Any] = {
        "type": "Call",
        "content": "Once",
        "lead_id": lead,
        "assigned_role": "Agent",
        "end_at": "2027-01-01T10:00:00Z",
    }
    async with emulator.serve() as url, LoftyClient(api_key=SANDBOX_API_KEY, base_url=url, max_concurrency=10) as lofty:
        ids = await asyncio.gather(*(lofty.tasks.create(**row, dedupe_key="row-7") for _ in range(25)))
        other = await lofty.tasks.create(**row, dedupe_key="row-8")  # another key: another task
    assert len(set(ids)) == 1
    assert len(emulator.tasks) == 2 and other != ids[0]
    assert emulator.core.count("POST", "/v2.0/tasks") == 2


def test_the_ledger_forgets_ids_past_the_lookup_window_and_keeps_the_rest() -> None:
    now = [0.0]
    ledger = CreateLedger(retention=600.0, max_claimed=1000, clock=lambda: now[0])
    for i in range(100):
        ledger.claim(i)
        now[0] += 1.0
    assert 0 in ledger and 99 in ledger  # identical rows created recently stay distinct
    now[0] += 550.0
    ledger.claim(1000)
    assert 0 not in ledger.claimed and 60 in ledger  # claimed over 600 s ago: dropped (at the latest when read)
    for i in range(5000):
        ledger.claim(10_000 + i)
    assert 1000 - 64 <= len(ledger.claimed) <= 1000  # never more than max_claimed (trimmed every 64 claims)
    assert 14_999 in ledger


def test_the_ledger_packs_integer_ids_and_still_answers_exactly() -> None:
    now = [0.0]
    ledger = CreateLedger(retention=600.0, clock=lambda: now[0])
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for i in range(100_000):  # server-allocated IDs arrive roughly, not strictly, in order
        ledger.claim(563_172_647_700_000 + 7 * (i ^ 5))
    per_id = (tracemalloc.get_traced_memory()[0] - before) / 100_000
    tracemalloc.stop()
    assert per_id < 12  # 8 bytes per ID once sealed (was about 160 with a dict of ints and times)
    assert len(ledger.claimed) == 100_000
    assert all(563_172_647_700_000 + 7 * i in ledger for i in range(0, 100_000, 997))
    assert 563_172_647_700_001 not in ledger and 7 not in ledger and "563172647700000" not in ledger
    now[0] += 10.0
    for i in range(2048):  # IDs of other shapes are kept too, in sets
        ledger.claim(f"task-{i}")
    ledger.claim(2**70)
    assert "task-0" in ledger and "task-2047" in ledger and 2**70 in ledger and "task-2048" not in ledger
    now[0] += 595.0  # the first 100,000 were claimed over 600 s ago; the strings 595 s ago
    ledger.claim(1)
    assert 563_172_647_700_000 not in ledger.claimed and "task-0" in ledger and 1 in ledger
    # Sealed blocks expire whole (by their newest claim), so a few older IDs may stay a while
    # longer: never shorter than the retention, which is the side that matters.
    assert 2048 + 2 <= len(ledger.claimed) < 2048 + 2 + 1024
