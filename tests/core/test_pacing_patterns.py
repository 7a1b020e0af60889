"""Pacing under the calling patterns users have (issue 8 §1).

Against the Lofty emulator over loopback with a fixed window of 20 requests per second,
announced only through ``X-RateLimit-Limit/-Remaining/-Reset`` (as Lofty documents), every
pattern must: succeed on every call, see at most one window's worth (20) of 429s in all, and
finish within 1.15x the ideal time plus one window. These run in real time (a few seconds each).

Then FakeClock unit tests of the pure limiter rules: the probe, the hint cap, the budget rule.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aioresponses import aioresponses

from crm_core import (
    Dialect,
    Event,
    EventKind,
    FakeClock,
    HTTPSession,
    LimiterState,
    LocalRateLimiter,
    RateLimitError,
    Request,
    RequestKind,
    RetryBudget,
    RetryPolicy,
    StaticAuth,
)
from crm_core._ratelimit import observe_response, reserve_detail
from crm_core.emulator import FixedWindowRateLimit
from lofty_async import LoftyClient
from lofty_async.testing import SANDBOX_API_KEY, LoftyEmulator, sandbox_lead_ids

LIMIT = 20
WINDOW = 1.0
LEAD = sandbox_lead_ids()[1]


def task(i: int) -> dict[str, Any]:
    return {
        "type": "Call",
        "content": f"Paced {i}",
        "lead_id": LEAD,
        "assigned_role": "Agent",
        "end_at": "2027-01-01T10:00:00+00:00",
    }


class Throttles:
    """Counts 429 responses seen by every client it is hooked into."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, event: Event) -> None:
        if event.kind is EventKind.RESPONSE and event.status == 429:
            self.count += 1


@asynccontextmanager
async def paced_emulator() -> AsyncIterator[tuple[LoftyEmulator, str]]:
    emulator = LoftyEmulator(rate_limit=FixedWindowRateLimit(limit=LIMIT, window=WINDOW))
    async with emulator.serve() as url:
        yield emulator, url


def check(calls: int, elapsed: float, throttles: Throttles, emulator: LoftyEmulator, ids: list[int]) -> None:
    ideal = calls / LIMIT * WINDOW
    assert len(ids) == calls and len(set(ids)) == calls
    assert len(emulator.tasks) == calls  # exactly once each
    assert throttles.count <= LIMIT, f"{throttles.count} 429s"
    assert elapsed <= 1.15 * ideal + WINDOW, f"{elapsed:.2f} s for an ideal {ideal:.2f} s"


@pytest.mark.slow
async def test_gather_of_200_creates_on_one_client() -> None:
    throttles = Throttles()
    async with (
        paced_emulator() as (emulator, url),
        LoftyClient(api_key=SANDBOX_API_KEY, base_url=url, max_concurrency=10, hooks=[throttles]) as lofty,
    ):
        started = time.monotonic()
        ids = await asyncio.gather(*(lofty.tasks.create(**task(i)) for i in range(200)))
        elapsed = time.monotonic() - started
    check(200, elapsed, throttles, emulator, list(ids))


@pytest.mark.slow
async def test_50_aiohttp_handlers_sharing_one_client() -> None:
    throttles = Throttles()
    async with (
        paced_emulator() as (emulator, url),
        LoftyClient(api_key=SANDBOX_API_KEY, base_url=url, max_concurrency=8, hooks=[throttles]) as lofty,
    ):

        async def handler(request: web.Request) -> web.Response:
            number = int(request.match_info["n"])
            task_id = await lofty.tasks.create(**task(number))
            return web.json_response({"taskId": task_id})

        app = web.Application()
        app.router.add_post("/follow-up/{n}", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        try:
            async with aiohttp.ClientSession() as browser:
                gate = asyncio.Semaphore(50)  # 50 handlers at once, 100 requests in all

                async def visit(n: int) -> int:
                    async with gate, browser.post(f"http://127.0.0.1:{port}/follow-up/{n}") as resp:
                        assert resp.status == 200
                        return int((await resp.json())["taskId"])

                started = time.monotonic()
                ids = await asyncio.gather(*(visit(n) for n in range(100)))
                elapsed = time.monotonic() - started
        finally:
            await runner.cleanup()
    check(100, elapsed, throttles, emulator, list(ids))


@pytest.mark.slow
async def test_several_clients_of_one_credential_in_one_process() -> None:
    throttles = Throttles()
    async with paced_emulator() as (emulator, url):
        clients = [
            LoftyClient(api_key=SANDBOX_API_KEY, base_url=url, max_concurrency=5, hooks=[throttles]) for _ in range(4)
        ]
        try:
            started = time.monotonic()
            ids = await asyncio.gather(
                *(clients[i % 4].tasks.create(**task(i)) for i in range(100)),
            )
            elapsed = time.monotonic() - started
        finally:
            for c in clients:
                await c.aclose()
    check(100, elapsed, throttles, emulator, list(ids))


@pytest.mark.slow
async def test_bounded_create_many() -> None:
    throttles = Throttles()
    async with (
        paced_emulator() as (emulator, url),
        LoftyClient(api_key=SANDBOX_API_KEY, base_url=url, hooks=[throttles]) as lofty,
    ):
        started = time.monotonic()
        summary = await lofty.tasks.create_many([task(i) for i in range(100)], concurrency=10)
        elapsed = time.monotonic() - started
    assert summary.created == 100
    ids = [int(t) for t in emulator.tasks]
    check(100, elapsed, throttles, emulator, ids)


# -- pure rules, fake clock ---------------------------------------------------------------

NOW = 1_800_000_000.0


def announced(remaining: int, reset_in: float, limit: int = 20) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": str(int(NOW + reset_in)),
    }


def fold(state: LimiterState, status: int | None, headers: dict[str, str], now: float = NOW) -> float | None:
    pause, _ = observe_response(
        state, status=status, headers=headers, now=now, latency=0.01, aimd=None, fallback_pause=1.0
    )
    return pause


def fresh_state(**kwargs: Any) -> LimiterState:
    return LimiterState(rate=None, capacity=1.0, tokens=1.0, refilled_at=NOW, **kwargs)


def test_only_a_probe_leaves_while_the_budget_is_unknown() -> None:
    state = fresh_state()
    assert reserve_detail(state, NOW) == (0.0, "")  # the probe
    wait, why = reserve_detail(state, NOW)
    assert why == "probe" and wait > 0  # everyone else waits for its answer
    fold(state, 200, announced(remaining=19, reset_in=10))
    granted = 0
    while reserve_detail(state, NOW)[0] == 0:
        granted += 1
    assert granted == 19  # exactly the announced budget
    assert reserve_detail(state, NOW)[1] == "window"
    # The window rolls over: the budget is unknown again, so one probe, not everyone.
    later = NOW + 10.5
    for _ in range(19):
        fold(state, 200, announced(remaining=0, reset_in=10), now=later)
    assert reserve_detail(state, later) == (0.0, "")
    assert reserve_detail(state, later)[1] == "probe"


def test_a_failed_probe_releases_the_next_one_and_a_slow_probe_lets_one_more_go() -> None:
    state = fresh_state(probe_patience=1.0)
    assert reserve_detail(state, NOW)[0] == 0
    assert reserve_detail(state, NOW)[1] == "probe"
    fold(state, None, {})  # the probe got no response (connection error)
    assert reserve_detail(state, NOW)[0] == 0  # the next probe goes
    assert reserve_detail(state, NOW + 0.5)[1] == "probe"
    assert reserve_detail(state, NOW + 1.01)[0] == 0  # the probe is slow: one more goes


def test_a_server_without_rate_limit_headers_is_not_probed() -> None:
    state = fresh_state()
    assert reserve_detail(state, NOW)[0] == 0
    fold(state, 200, {})
    assert state.announces is False
    assert all(reserve_detail(state, NOW)[0] == 0 for _ in range(50))


@pytest.mark.parametrize(
    "headers",
    [
        {"X-RateLimit-Limit": "20", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "21000"},  # Lofty's docs
        {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(NOW + 6 * 3600))},  # epoch, hours away
        {"Retry-After": "86400"},
    ],
    ids=["reset-21000", "reset-epoch-hours-away", "retry-after-a-day"],
)
def test_an_implausible_hint_is_capped_at_the_window(headers: dict[str, str]) -> None:
    state = fresh_state(max_pause=60.0)
    reserve_detail(state, NOW)
    pause = fold(state, 429, headers)
    assert pause == pytest.approx(60.0)
    assert state.cooldown_until <= NOW + 60.0
    assert state.implausible_hints == 1
    wait, _ = reserve_detail(state, NOW)
    assert wait <= 60.0 + 0.5  # never locked for longer than one window


async def test_an_implausible_hint_is_logged_once_per_limiter(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    limiter = LocalRateLimiter(clock=clock, max_pause=60.0)
    odd = {"X-RateLimit-Limit": "20", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "21000"}
    with caplog.at_level(logging.WARNING, logger="crm_core.ratelimit"):
        for _ in range(3):
            await limiter.acquire()
            limiter.observe(status=429, headers=odd, latency=0.1)
    assert len([r for r in caplog.records if "capped" in r.getMessage()]) == 1
    assert limiter.state.implausible_hints == 3
    assert limiter.wait_time() <= 60.0


BASE = "http://api.test"
GET = Request(method="GET", path="/things", operation="things.list", kind=RequestKind.READ)


def session(clock: FakeClock, **kwargs: Any) -> HTTPSession:
    return HTTPSession(
        base_url=BASE,
        auth=StaticAuth({"Authorization": "token k"}),
        dialect=Dialect(name="test_sdk", version="0", parse_error=lambda s, t: (None, t)),
        clock=clock,
        **kwargs,
    )


async def test_paced_429s_spend_neither_the_budget_nor_max_retries(clock: FakeClock) -> None:
    budget = RetryBudget(ratio=0.0, reserve=0)  # no failure retries at all
    http = session(clock, retry=RetryPolicy(max_retries=1), retry_budget=budget)
    with aioresponses() as mock:
        for _ in range(6):
            mock.get(f"{BASE}/things", status=429, headers={"Retry-After": "2"})
        mock.get(f"{BASE}/things", status=200, payload={"ok": True})
        response = await http.send(GET)
    await http.aclose()
    assert response.attempts == 7
    assert budget.spent == 0 and budget.refused == 0
    assert sum(clock.sleeps) == pytest.approx(12.0, abs=0.01)  # the server's pace, no extra backoff


async def test_an_unhinted_429_is_a_failure_retry(clock: FakeClock) -> None:
    budget = RetryBudget(ratio=0.0, reserve=0)
    http = session(clock, retry_budget=budget)
    with aioresponses() as mock:
        mock.get(f"{BASE}/things", status=429)
        mock.get(f"{BASE}/things", status=200, payload={"ok": True})
        with pytest.raises(RateLimitError) as info:
            await http.send(GET)
    await http.aclose()
    assert "budget is spent" in str(info.value)


async def test_a_paced_call_ends_at_its_deadline(clock: FakeClock) -> None:
    http = session(clock, retry=RetryPolicy(deadline=10.0))
    with aioresponses() as mock:
        mock.get(f"{BASE}/things", status=429, headers={"Retry-After": "3"}, repeat=True)
        with pytest.raises(RateLimitError) as info:
            await http.send(GET)
    await http.aclose()
    assert info.value.attempts == 4  # at 0, 3, 6, 9 s; the next would start past 10 s
    assert clock.monotonic() < 10.0


async def test_a_lofty_21000_reset_on_a_429_waits_one_window_not_hours(clock: FakeClock) -> None:
    http = session(clock)
    odd = {"X-RateLimit-Limit": "20", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "21000"}
    with aioresponses() as mock:
        mock.get(f"{BASE}/things", status=429, headers=odd)
        mock.get(f"{BASE}/things", status=200, payload={"ok": True}, headers=announced(19, 60))
        response = await http.send(GET)
    await http.aclose()
    assert response.attempts == 2
    assert sum(clock.sleeps) <= 61.0


def test_an_implausible_hint_is_capped_at_the_window_the_server_has_shown() -> None:
    """A server whose windows last 2 s (seen from its resets) is not waited on for 60 s when it
    sends Lofty's documented ``X-RateLimit-Reset: 21000``; plausible hints are left alone."""
    state = fresh_state(max_pause=60.0)
    for second in (0.0, 2.0, 4.0):  # three windows, 2 s apart
        reserve_detail(state, NOW + second)
        fold(state, 200, announced(10, 2.0 + second), now=NOW + second)
    assert state.window_seen == pytest.approx(2.0)
    reserve_detail(state, NOW + 5.0)
    odd = {"X-RateLimit-Limit": "20", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "21000"}
    assert fold(state, 429, odd, now=NOW + 5.0) == pytest.approx(2.0)
    assert state.implausible_hints == 1
    reserve_detail(state, NOW + 8.0)
    assert fold(state, 429, {"Retry-After": "30"}, now=NOW + 8.0) == pytest.approx(30.0)  # plausible: kept
