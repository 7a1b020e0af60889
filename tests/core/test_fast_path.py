"""The fast path builds no retry machinery; the one retry loop starts at the first failure
(issue 10, issue 11 §1)."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
import tenacity
from aioresponses import aioresponses

from crm_core import Dialect, FakeClock, HTTPSession, Request, RequestKind, StaticAuth

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


@pytest.fixture
def retry_loops(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    built: list[int] = []
    original = tenacity.AsyncRetrying.__init__

    def counting(self: tenacity.AsyncRetrying, *args: Any, **kwargs: Any) -> None:
        built.append(1)
        original(self, *args, **kwargs)

    monkeypatch.setattr(tenacity.AsyncRetrying, "__init__", counting)
    return built


async def test_a_call_that_succeeds_builds_no_retry_loop_and_no_timeout(
    clock: FakeClock, retry_loops: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    http = session(clock)
    timeouts: list[object] = []
    original = aiohttp.ClientTimeout.__init__

    def counting(self: aiohttp.ClientTimeout, *args: Any, **kwargs: Any) -> None:
        timeouts.append(1)
        original(self, *args, **kwargs)

    with aioresponses() as mock:
        mock.get(f"{BASE}/things", status=200, payload=[1], repeat=True)
        monkeypatch.setattr(aiohttp.ClientTimeout, "__init__", counting)
        for _ in range(5):
            assert (await http.send(GET)).data == [1]
        monkeypatch.undo()
    await http.aclose()
    assert retry_loops == []
    assert timeouts == []  # the default timeout is built once, with the session


async def test_the_retry_loop_starts_at_the_first_failure_and_counts_it(
    clock: FakeClock, retry_loops: list[int]
) -> None:
    http = session(clock)
    with aioresponses() as mock:
        mock.get(f"{BASE}/things", status=503)
        mock.get(f"{BASE}/things", status=200, payload=[2])
        response = await http.send(GET)
    await http.aclose()
    assert response.attempts == 2 and response.data == [2]
    assert len(retry_loops) == 1
    assert len(clock.sleeps) == 1 and 0 <= clock.sleeps[0] <= 0.5  # wait_random_exponential's first window


async def test_a_per_call_timeout_overrides_the_sessions(clock: FakeClock) -> None:
    http = session(clock, timeout=30.0)
    seen: list[float | None] = []
    with aioresponses() as mock:

        def record(url: Any, **kwargs: Any) -> None:
            seen.append(kwargs["timeout"].total)

        mock.get(f"{BASE}/things", status=200, payload=[], callback=record)
        mock.get(f"{BASE}/things", status=200, payload=[], callback=record)
        await http.send(GET, timeout=2.5)
        await http.send(GET)
    await http.aclose()
    assert seen == [2.5, 30.0]
