"""pytest fixtures for the Lofty emulator (loaded through the ``pytest11`` entry point)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from crm_core.emulator import ThreadedServer

from . import LoftyEmulator, LoftySandbox, start_sandbox


@pytest.fixture
def lofty_emulator_factory() -> Iterator[Callable[..., LoftySandbox]]:
    """Build running sandboxes: ``lofty_emulator_factory(rate_limit=..., faults=...)``.

    Keyword arguments go to :class:`~lofty_async.testing.LoftyEmulator` (the request log keeps
    headers and bodies unless ``log_bodies=False`` is passed). Every sandbox is
    stopped at the end of the test.
    """
    servers: list[ThreadedServer] = []

    def factory(**kwargs: Any) -> LoftySandbox:
        kwargs.setdefault("log_bodies", True)  # tests read request bodies and headers
        kwargs.setdefault("max_logged", 100_000)
        server, sandbox = start_sandbox(LoftyEmulator(**kwargs))
        servers.append(server)
        return sandbox

    yield factory
    for server in servers:
        server.stop()


@pytest.fixture
def lofty_emulator(lofty_emulator_factory: Callable[..., LoftySandbox]) -> LoftySandbox:
    """A running Lofty emulator with the default settings (100 requests per 60 s)."""
    return lofty_emulator_factory()
