"""Retries, backoff and write safety in the shared session (aioresponses + fake clock)."""

from __future__ import annotations

import asyncio
import email.utils
import re

import aiohttp
import pytest
from aioresponses import aioresponses

from crm_core import (
    APIConnectionError,
    APIStatusError,
    Dialect,
    Event,
    EventKind,
    FakeClock,
    HTTPSession,
    Outcome,
    RateLimitError,
    Request,
    RequestKind,
    RetryPolicy,
    ServerError,
    StaticAuth,
)

BASE = "http://api.test"


def parse(status: int, text: str) -> tuple[int | str | None, str]:
    return None, text or f"HTTP {status}"


def make_session(clock: FakeClock, **kwargs: object) -> HTTPSession:
    return HTTPSession(
        base_url=BASE,
        auth=StaticAuth({"Authorization": "token secret-key"}),
        dialect=Dialect(name="test_sdk", version="0", parse_error=parse),
        clock=clock,
        **kwargs,  # type: ignore[arg-type]
    )


GET = Request(method="GET", path="/things", operation="things.list", kind=RequestKind.READ)
CREATE = Request(method="POST", path="/things", operation="things.create", kind=RequestKind.CREATE, json={"a": 1})


async def test_429_with_retry_after_seconds_is_waited_then_succeeds(clock: FakeClock) -> None:
    session = make_session(clock)
    with aioresponses() as mock:
        mock.get(f"{BASE}/things", status=429, headers={"Retry-After": "7"}, payload={"message": "Too Many Requests"})
        mock.get(f"{BASE}/things", status=200, payload={"ok": True})
        response = await session.send(GET)
    await session.aclose()
    assert response.data == {"ok": True}
    assert response.attempts == 2
    assert sum(clock.sleeps) == pytest.approx(7.0, abs=0.6)
    assert max(clock.sleeps) >= 7.0


async def test_429_with_retry_after_http_date(clock: FakeClock) -> None:
    session = make_session(clock)
    when = email.utils.formatdate(clock.time() + 30, usegmt=True)
    with aioresponses() as mock:
        mock.get(f"{BASE}/things", status=429, headers={"Retry-After": when})
        mock.get(f"{BASE}/things", status=200, payload={})
        await session.send(GET)
    await session.aclose()
    assert 29.0 <= sum(clock.sleeps) <= 31.0


async def test_retry_after_beyond_cap_raises_rate_limit_error_with_retry_at(clock: FakeClock) -> None:
    session = make_session(clock, retry=RetryPolicy(max_retry_after=30))
    with aioresponses() as mock:
        mock.get(f"{BASE}/things", status=429, headers={"Retry-After": "50"}, payload={"message": "slow down"})
        with pytest.raises(RateLimitError) as info:
            await session.send(GET)
    await session.aclose()
    assert info.value.retry_at == pytest.approx(clock.time() + 50, abs=1)
    assert info.value.attempts == 1
    assert "50" in str(info.value) and "max_retry_after" in str(info.value)


async def test_503_then_success_with_full_jitter_backoff(clock: FakeClock) -> None:
    session = make_session(clock, rng=__import__("random").Random(3))
    with aioresponses() as mock:
        mock.get(f"{BASE}/things", status=503, body="<html>unavailable</html>")
        mock.get(f"{BASE}/things", status=503, body="<html>unavailable</html>")
        mock.get(f"{BASE}/things", status=200, payload=[1])
        response = await session.send(GET)
    await session.aclose()
    assert response.attempts == 3
    assert len(clock.sleeps) == 2
    assert all(0 <= s <= 1.0 for s in clock.sleeps)  # U(0, 0.5) then U(0, 1.0)


async def test_connection_refused_is_retried_then_gives_up_with_attempts(clock: FakeClock) -> None:
    session = make_session(clock, retry=RetryPolicy(max_retries=2))
    refused = aiohttp.ClientConnectorError(
        aiohttp.client_reqrep.ConnectionKey("api.test", 80, False, True, None, None, None),
        OSError(111, "Connection refused"),
    )
    with aioresponses() as mock:
        for _ in range(3):
            mock.post(f"{BASE}/things", exception=refused)
        with pytest.raises(APIConnectionError) as info:
            await session.send(CREATE)
    await session.aclose()
    assert info.value.attempts == 3
    assert info.value.outcome is Outcome.NOT_SENT
    assert len(clock.sleeps) == 2


@pytest.mark.parametrize("status", [500, 502, 504])
async def test_create_is_not_retried_after_an_ambiguous_status(clock: FakeClock, status: int) -> None:
    session = make_session(clock)
    with aioresponses() as mock:
        mock.post(f"{BASE}/things", status=status, body="<html>gateway</html>")
        mock.post(f"{BASE}/things", status=200, payload={"id": 2})
        with pytest.raises(ServerError) as info:
            await session.send(CREATE)
        sent = sum(len(calls) for calls in mock.requests.values())
    await session.aclose()
    assert sent == 1
    assert info.value.outcome is Outcome.MAYBE_PROCESSED
    assert "may have been processed" in str(info.value)


@pytest.mark.parametrize("status", [429, 503])
async def test_create_is_retried_when_the_server_refused_before_processing(clock: FakeClock, status: int) -> None:
    session = make_session(clock)
    with aioresponses() as mock:
        mock.post(f"{BASE}/things", status=status, headers={"Retry-After": "1"})
        mock.post(f"{BASE}/things", status=200, payload={"id": 2})
        response = await session.send(CREATE)
    await session.aclose()
    assert response.data == {"id": 2}
    assert response.attempts == 2


async def test_4xx_is_not_retried(clock: FakeClock) -> None:
    session = make_session(clock)
    with aioresponses() as mock:
        mock.get(f"{BASE}/things", status=400, body='"bad input"')
        with pytest.raises(APIStatusError) as info:
            await session.send(GET)
    await session.aclose()
    assert getattr(info.value, "status", None) == 400
    assert clock.sleeps == []


async def test_deadline_stops_retries(clock: FakeClock) -> None:
    session = make_session(clock, retry=RetryPolicy(max_retries=10, deadline=5.0))
    with aioresponses() as mock:
        for _ in range(11):
            mock.get(f"{BASE}/things", status=503, headers={"Retry-After": "2"})
        with pytest.raises(ServerError) as info:
            await session.send(GET)
    await session.aclose()
    assert info.value.attempts <= 3
    assert sum(clock.sleeps) < 5.0


async def test_retry_budget_caps_retries_across_calls(clock: FakeClock) -> None:
    from crm_core import RetryBudget

    budget = RetryBudget(ratio=0.0, reserve=2)
    session = make_session(clock, retry_budget=budget)
    with aioresponses() as mock:
        mock.get(re.compile(rf"{BASE}/things.*"), status=503, repeat=True)
        for _ in range(2):
            with pytest.raises(ServerError):
                await session.send(GET)
    await session.aclose()
    assert budget.spent == 2
    assert budget.refused >= 1


async def test_cancelled_error_is_never_retried_and_frees_the_slot(clock: FakeClock) -> None:
    session = make_session(clock, max_concurrency=1)
    started = asyncio.Event()

    async def hang(url: object, **kwargs: object) -> None:
        started.set()
        await asyncio.sleep(3600)

    with aioresponses() as mock:
        mock.get(f"{BASE}/things", callback=hang)
        mock.get(f"{BASE}/other", status=200, payload={})
        task = asyncio.create_task(session.send(GET))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert session.concurrency.in_flight == 0
        assert session.limiter.snapshot().cooldown_remaining == 0
        # The single slot is free again: a new call goes through at once.
        other = Request(method="GET", path="/other", operation="other", kind=RequestKind.READ)
        response = await session.send(other)
    await session.aclose()
    assert response.status == 200
    assert clock.sleeps == []


async def test_events_report_request_response_retry_and_secrets_stay_out(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    events: list[Event] = []
    session = make_session(clock, hooks=[events.append])
    caplog.set_level("DEBUG", logger="test_sdk")
    with aioresponses() as mock:
        mock.get(f"{BASE}/things", status=503)
        mock.get(f"{BASE}/things", status=200, payload={})
        await session.send(GET)
    await session.aclose()
    kinds = [e.kind for e in events]
    assert kinds == [EventKind.REQUEST, EventKind.RESPONSE, EventKind.RETRY, EventKind.REQUEST, EventKind.RESPONSE]
    retry = events[2]
    assert retry.reason == "status 503" and retry.delay is not None
    assert "secret-key" not in caplog.text
    assert "secret-key" not in repr(session)
