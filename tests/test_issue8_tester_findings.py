"""Cases an independent tester found against issue 8, kept as regressions.

- Two identical creates, both committed late by the server, give two records (not three).
- A Superfone ``dedupe_key`` repeat returns the first task while the server does not show it yet.
- A token endpoint that keeps failing is tried by its own retry loop only, not once per retry of
  the call that needed the token.
- ``slow=P@ROUTE`` schedules the ``slow`` fault instead of setting its duration.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web

from crm_core.emulator import FaultKind, FaultPlan, FaultRule
from lofty_async import LoftyClient, OAuthApp, OAuthAuth, ServerError
from lofty_async.testing import SANDBOX_API_KEY, LoftyEmulator, sandbox_lead_ids
from superfone_async import SuperfoneClient
from superfone_async.testing import SANDBOX_API_KEY as SUPERFONE_KEY
from superfone_async.testing import SuperfoneEmulator
from superfone_async.testing import sandbox_lead_ids as superfone_leads


async def test_two_identical_superfone_creates_both_committed_late_give_two_records() -> None:
    plan = FaultPlan(
        rules=[FaultRule(kind=FaultKind.LATE_COMMIT, route="POST /enterprise/api/lead/*/task", times=2)],
        late_seconds=2.9,
    )
    emulator = SuperfoneEmulator(faults=plan)
    due = "2027-01-01T10:00:00.123456+05:30"
    async with (
        emulator.serve() as url,
        SuperfoneClient(api_key=SUPERFONE_KEY, base_url=url, timeout=1.0, rate_limit=None) as sf,
    ):

        async def one(delay: float) -> int:
            await asyncio.sleep(delay)
            return (await sf.tasks.create(superfone_leads()[0], type="REMINDER", due_date=due)).id

        ids = await asyncio.gather(one(0.0), one(0.5))
    assert len(set(ids)) == 2 and len(emulator.tasks) == 2


async def test_two_identical_lofty_creates_both_committed_late_give_two_records() -> None:
    plan = FaultPlan(rules=[FaultRule(kind=FaultKind.LATE_COMMIT, route="POST /v2.0/tasks", times=2)], late_seconds=2.5)
    emulator = LoftyEmulator(faults=plan)
    end = datetime.now(UTC).replace(microsecond=250_000) + timedelta(days=2)
    args = {
        "type": "Call",
        "content": "Same",
        "lead_id": sandbox_lead_ids()[0],
        "assigned_role": "Agent",
        "end_at": end,
    }
    async with emulator.serve() as url, LoftyClient(api_key=SANDBOX_API_KEY, base_url=url, timeout=1.0) as lofty:

        async def one(delay: float) -> int:
            await asyncio.sleep(delay)
            return await lofty.tasks.create(**args)  # type: ignore[arg-type]

        ids = await asyncio.gather(one(0.0), one(1.2))
    assert len(set(ids)) == 2 and len(emulator.tasks) == 2


async def test_a_superfone_dedupe_key_repeat_returns_the_first_task_before_it_is_visible() -> None:
    plan = FaultPlan(
        rules=[FaultRule(kind=FaultKind.LATE_VISIBLE, route="POST /enterprise/api/lead/*/task", times=1)],
        late_seconds=2.5,
    )
    emulator = SuperfoneEmulator(faults=plan)
    lead = superfone_leads()[1]
    async with emulator.serve() as url, SuperfoneClient(api_key=SUPERFONE_KEY, base_url=url, rate_limit=None) as sf:
        first = await sf.tasks.create(lead, type="REMINDER", due_date="2027-03-01T09:00:00Z", dedupe_key="k1")
        again = await asyncio.gather(
            *(
                sf.tasks.create(lead, type="REMINDER", due_date="2027-03-01T09:00:00Z", dedupe_key="k1")
                for _ in range(8)
            )
        )
    assert {task.id for task in again} == {first.id}
    assert len(emulator.tasks) == 1


async def test_a_failing_token_endpoint_is_retried_by_its_own_loop_only() -> None:
    hits = 0

    async def token(request: web.Request) -> web.Response:
        nonlocal hits
        hits += 1
        return web.json_response({"message": "unavailable"}, status=503)

    app = web.Application()
    app.router.add_post("/oauth/token", token)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    base = f"http://127.0.0.1:{port}"
    try:
        oauth_app = OAuthApp(client_id="id", client_secret="secret", token_url=f"{base}/oauth/token")
        async with LoftyClient(oauth=OAuthAuth(oauth_app, customer_key="customer"), base_url=base) as lofty:
            with pytest.raises(ServerError):
                await lofty.me()
    finally:
        await runner.cleanup()
    assert hits == 4  # the token request's own 1 + 3 retries, not 4 x 4


def test_slow_with_a_route_schedules_the_slow_fault() -> None:
    plan = FaultPlan.parse("slow=0.25@POST /v2.0/tasks,slow=3")
    assert [(r.kind, r.probability, r.route) for r in plan.rules] == [(FaultKind.SLOW, 0.25, "POST /v2.0/tasks")]
    assert plan.slow_seconds == 3.0


async def test_calls_started_just_before_the_server_is_up_all_succeed() -> None:
    """Refused connections (nothing sent) spend ``max_retries`` with backoff, not the shared retry
    budget: 60 gathered creates started 0.3 s before the server binds all land, once each."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    emulator = LoftyEmulator()
    end = datetime.now(UTC) + timedelta(days=2)
    lead = sandbox_lead_ids()[2]
    async with LoftyClient(api_key=SANDBOX_API_KEY, base_url=f"http://127.0.0.1:{port}", seed=3) as lofty:

        async def start_server_late() -> None:
            await asyncio.sleep(0.3)
            async with emulator.serve(port=port):
                await asyncio.sleep(15)

        server = asyncio.create_task(start_server_late())
        calls = [
            lofty.tasks.create(type="Call", content=f"Early {n}", lead_id=lead, assigned_role="Agent", end_at=end)
            for n in range(60)
        ]
        ids = await asyncio.wait_for(asyncio.gather(*calls), 15)
        server.cancel()
        with pytest.raises(asyncio.CancelledError):
            await server
    assert len(set(ids)) == 60 and len(emulator.tasks) == 60
