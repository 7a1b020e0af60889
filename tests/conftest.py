"""Shared fixtures: a fake clock and in-loop emulators."""

from __future__ import annotations

import inspect
import types
from collections.abc import AsyncIterator
from typing import Any

import aioresponses.core
import pytest
from aiohttp import ClientResponse

from crm_core import FakeClock
from crm_core.emulator import FixedWindowRateLimit
from lofty_async import LoftyClient
from lofty_async.testing import SANDBOX_API_KEY, LoftyEmulator

if "stream_writer" in inspect.signature(ClientResponse.__init__).parameters:
    # aioresponses 0.7.x predates aiohttp 3.14's required ``stream_writer`` argument
    # (pnuckowski/aioresponses#289); give its fake responses a stand-in writer.
    class _CompatResponse(ClientResponse):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.setdefault("stream_writer", types.SimpleNamespace(output_size=0))
            super().__init__(*args, **kwargs)

    setattr(aioresponses.core, "ClientResponse", _CompatResponse)  # noqa: B010 - the module does not export it


@pytest.fixture
def clock() -> FakeClock:
    """A clock whose sleeps return at once and are recorded."""
    return FakeClock()


@pytest.fixture
def lofty_state() -> LoftyEmulator:
    """Lofty emulator state with a generous rate limit (tests that need 429s set their own)."""
    return LoftyEmulator(rate_limit=FixedWindowRateLimit(limit=100_000, window=60))


@pytest.fixture
async def lofty_url(lofty_state: LoftyEmulator) -> AsyncIterator[str]:
    """The emulator served over loopback in the test's loop."""
    async with lofty_state.serve() as url:
        yield url


@pytest.fixture
async def lofty(lofty_url: str) -> AsyncIterator[LoftyClient]:
    """A strict client (unknown response keys fail) pointed at the emulator."""
    async with LoftyClient(api_key=SANDBOX_API_KEY, base_url=lofty_url, strict_responses=True, seed=1) as client:
        yield client
