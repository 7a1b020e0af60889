"""Test kit: the Superfone emulator, a sandbox handle, and (via the pytest plugin) fixtures.

Fixtures (registered automatically through the ``pytest11`` entry point):

* ``superfone_emulator``: a running emulator (background thread, loopback) as a
  :class:`SuperfoneSandbox`; ``sandbox.client()`` returns a client pointed at it;
* ``superfone_emulator_factory``: build sandboxes with your own settings.
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

from .._client import SuperfoneClient
from ._emulator import SANDBOX_API_KEY, SuperfoneEmulator, sandbox_lead_ids, sandbox_lead_phone

__all__ = [
    "SANDBOX_API_KEY",
    "SERVER_FAULTS",
    "TRANSPORT_FAULTS",
    "FaultKind",
    "FaultPlan",
    "FixedWindowRateLimit",
    "SuperfoneEmulator",
    "SuperfoneSandbox",
    "sandbox_lead_ids",
    "sandbox_lead_phone",
]


@attrs.define(kw_only=True)
class SuperfoneSandbox:
    """A running emulator and what a client needs to reach it.

    Attributes:
        url: Base URL (``http://127.0.0.1:<port>``).
        emulator: The state (leads, tasks, catalogs, request log, faults).
        api_key: An accepted key.
    """

    url: str
    emulator: SuperfoneEmulator
    api_key: str = SANDBOX_API_KEY

    def client(self, **kwargs: Any) -> SuperfoneClient:
        """A :class:`~superfone_async.SuperfoneClient` for this sandbox."""
        kwargs.setdefault("api_key", self.api_key)
        return SuperfoneClient(base_url=self.url, **kwargs)


def start_sandbox(emulator: SuperfoneEmulator) -> tuple[ThreadedServer, SuperfoneSandbox]:
    """Serve ``emulator`` in a background thread; stop it with ``server.stop()``."""
    server = ThreadedServer(emulator.app)
    url = server.start()
    return server, SuperfoneSandbox(url=url, emulator=emulator)
