"""Test kit: the Lofty emulator, a sandbox handle, and (via the pytest plugin) fixtures.

Fixtures (registered automatically through the ``pytest11`` entry point):

* ``lofty_emulator``: a running emulator (background thread, loopback port) as a
  :class:`LoftySandbox`; ``sandbox.client()`` returns a :class:`~lofty_async.LoftyClient`
  pointed at it;
* ``lofty_emulator_factory``: build sandboxes with your own settings (rate limit, faults).
"""

from __future__ import annotations

from typing import Any

import attrs

from crm_core.emulator import (
    SERVER_FAULTS,
    TRANSPORT_FAULTS,
    FaultKind,
    FaultPlan,
    FixedWindowRateLimit,
    ThreadedServer,
)

from .._client import LoftyClient
from ._emulator import SANDBOX_ACCESS_TOKEN, SANDBOX_API_KEY, LoftyEmulator, sandbox_lead_ids

__all__ = [
    "SANDBOX_ACCESS_TOKEN",
    "SANDBOX_API_KEY",
    "SERVER_FAULTS",
    "TRANSPORT_FAULTS",
    "FaultKind",
    "FaultPlan",
    "FixedWindowRateLimit",
    "LoftyEmulator",
    "LoftySandbox",
    "sandbox_lead_ids",
]


@attrs.define(kw_only=True)
class LoftySandbox:
    """A running emulator and what a client needs to reach it.

    Attributes:
        url: Base URL (``http://127.0.0.1:<port>``).
        api_key: An accepted API key.
        access_token: An accepted OAuth access token.
        emulator: The state (tasks, leads, request log, faults, rate limit).
    """

    url: str
    emulator: LoftyEmulator
    api_key: str = SANDBOX_API_KEY
    access_token: str = attrs.field(default=SANDBOX_ACCESS_TOKEN, repr=False)

    def client(self, **kwargs: Any) -> LoftyClient:
        """A :class:`~lofty_async.LoftyClient` for this sandbox (keyword arguments pass through)."""
        kwargs.setdefault("api_key", self.api_key)
        return LoftyClient(base_url=self.url, **kwargs)


def start_sandbox(emulator: LoftyEmulator) -> tuple[ThreadedServer, LoftySandbox]:
    """Serve ``emulator`` in a background thread; stop it with ``server.stop()``."""
    server = ThreadedServer(emulator.app)
    url = server.start()
    return server, LoftySandbox(url=url, emulator=emulator)
