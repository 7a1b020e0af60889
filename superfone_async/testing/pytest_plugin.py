"""pytest fixtures for the Superfone emulator (loaded through the ``pytest11`` entry point)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from crm_core.emulator import ThreadedServer

from . import SuperfoneEmulator, SuperfoneSandbox, start_sandbox


@pytest.fixture
def superfone_emulator_factory() -> Iterator[Callable[..., SuperfoneSandbox]]:
    """Build running sandboxes: ``superfone_emulator_factory(lead_quota=..., faults=...)``.

    Keyword arguments go to :class:`~superfone_async.testing.SuperfoneEmulator` (the request log
    keeps headers and bodies unless ``log_bodies=False`` is passed).
    """
    servers: list[ThreadedServer] = []

    def factory(**kwargs: Any) -> SuperfoneSandbox:
        kwargs.setdefault("log_bodies", True)  # tests read request bodies and headers
        kwargs.setdefault("max_logged", 100_000)
        server, sandbox = start_sandbox(SuperfoneEmulator(**kwargs))
        servers.append(server)
        return sandbox

    yield factory
    for server in servers:
        server.stop()


@pytest.fixture
def superfone_emulator(superfone_emulator_factory: Callable[..., SuperfoneSandbox]) -> SuperfoneSandbox:
    """A running Superfone emulator with the default settings (no rate limit)."""
    return superfone_emulator_factory()
