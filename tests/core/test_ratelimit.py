"""Token bucket, server pacing, shared cooldown and AIMD (pure state + fake clock)."""

from __future__ import annotations

import asyncio
import email.utils

import pytest

from crm_core import (
    AIMDConfig,
    ConcurrencyLimiter,
    FakeClock,
    LocalRateLimiter,
    parse_rate_limit_reset,
    parse_retry_after,
)


def test_parse_retry_after_seconds_and_http_date() -> None:
    now = 1_800_000_000.0
    assert parse_retry_after("7", now) == 7.0
    assert parse_retry_after(email.utils.formatdate(now + 42, usegmt=True), now) == pytest.approx(42, abs=1)
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


def test_parse_rate_limit_reset_is_defensive() -> None:
    now = 1_800_000_000.0
    assert parse_rate_limit_reset("1800000060", now) == 1_800_000_060
    assert parse_rate_limit_reset("1800000060000", now) == 1_800_000_060
    assert parse_rate_limit_reset("21000", now) == now + 21000  # the docs' odd example: a delta


async def test_token_bucket_never_bursts_beyond_its_size(clock: FakeClock) -> None:
    limiter = LocalRateLimiter(requests=60, window=60, burst=5, clock=clock)
    assert await limiter.acquire() == 0  # the probe: the server's budget is not known yet
    limiter.observe(status=200, headers={}, latency=0.1)  # a server that announces no limits
    for _ in range(4):
        assert await limiter.acquire() == 0
    waited = await limiter.acquire()
    assert waited == pytest.approx(1.0)
    # 20 more requests at 1/s take about 20 s: no burst after the first five.
    start = clock.time()
    for _ in range(20):
        await limiter.acquire()
    assert clock.time() - start == pytest.approx(20.0, abs=0.01)


async def test_server_headers_pace_before_a_429(clock: FakeClock) -> None:
    limiter = LocalRateLimiter(clock=clock)
    reset = clock.time() + 10
    await limiter.acquire()
    limiter.observe(
        status=200,
        headers={"X-RateLimit-Limit": "3", "X-RateLimit-Remaining": "2", "X-RateLimit-Reset": str(int(reset))},
        latency=0.1,
    )
    assert await limiter.acquire() == 0
    assert await limiter.acquire() == 0
    waited = await limiter.acquire()  # the window's budget is spent: wait for its reset
    assert waited >= reset - (clock.time() - waited) - 0.01
    assert clock.time() >= reset


async def test_a_429_pauses_every_sender(clock: FakeClock) -> None:
    limiter = LocalRateLimiter(clock=clock)
    await limiter.acquire()
    pause = limiter.observe(status=429, headers={"Retry-After": "5"}, latency=0.1)
    assert pause == 5
    paused_at = clock.time()
    released: list[float] = []

    async def sender() -> None:
        await limiter.acquire()
        released.append(clock.time())

    await asyncio.gather(*(sender() for _ in range(3)))
    assert len(released) == 3
    assert all(t >= paused_at + 5 - 1e-9 for t in released)


async def test_aimd_halves_on_429_and_recovers_additively(clock: FakeClock) -> None:
    concurrency = ConcurrencyLimiter(8)
    aimd = AIMDConfig(min_rate=0.5, max_rate=10, increase=0.5, quiet_period=0)
    limiter = LocalRateLimiter(requests=8, window=1, aimd=aimd, concurrency=concurrency, clock=clock)
    limiter.observe(status=429, headers={}, latency=0.1)
    assert limiter.state.rate == pytest.approx(4.0)
    assert concurrency.limit == 4
    for _ in range(4):
        limiter.observe(status=200, headers={}, latency=0.1)
    assert limiter.state.rate == pytest.approx(6.0)
    assert concurrency.limit == 6


async def test_concurrency_limiter_cancellation_does_not_leak() -> None:
    limiter = ConcurrencyLimiter(1)
    async with limiter.slot():
        waiter = asyncio.create_task(limiter._acquire())
        await asyncio.sleep(0)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
    assert limiter.in_flight == 0
    async with limiter.slot():
        assert limiter.in_flight == 1


async def test_a_429_without_a_window_of_its_own_pauses_for_its_hint_not_an_earlier_window(
    clock: FakeClock,
) -> None:
    # Earlier responses announced a big budget in a 60 s window; then a gateway (or burst
    # limiter) answers 429 with Retry-After: 2 and no X-RateLimit-* headers. The client must come
    # back after 2 s, not after the 60 s window (tester finding: a batch took 61.6 s).
    limiter = LocalRateLimiter(clock=clock)
    assert await limiter.acquire() == 0
    window = {"X-RateLimit-Limit": "100000", "X-RateLimit-Remaining": "99999", "X-RateLimit-Reset": "60"}
    limiter.observe(status=200, headers=window, latency=0.1)
    assert await limiter.acquire() == 0
    assert limiter.observe(status=429, headers={"Retry-After": "2"}, latency=0.1) == 2.0
    assert 1.0 < limiter.wait_time() <= 2.0
    waited = await limiter.acquire()
    assert waited <= 3.0  # the hint (plus the window margin), not the earlier 60 s window
    # A 429 that carries its own window reset keeps that window (the budget is spent until then).
    limiter.observe(status=200, headers=window, latency=0.1)
    assert await limiter.acquire() == 0
    spent = {"X-RateLimit-Limit": "100000", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "30"}
    limiter.observe(status=429, headers={**spent, "Retry-After": "2"}, latency=0.1)
    assert await limiter.acquire() >= 29.0
