"""Time as a dependency: the real clock, and a fake one for tests."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

__all__ = ["Clock", "FakeClock", "SystemClock"]


class Clock(Protocol):
    """Where the SDK reads the time and sleeps. Inject a :class:`FakeClock` in tests."""

    def time(self) -> float:
        """Wall-clock time, UTC epoch seconds."""
        ...

    def monotonic(self) -> float:
        """Monotonic seconds, for durations."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (a negative or zero value yields once)."""
        ...


class SystemClock:
    """The real clock: :func:`time.time`, :func:`time.monotonic`, :func:`asyncio.sleep`."""

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class FakeClock:
    """A clock whose ``sleep`` advances time at once, so retry tests take milliseconds.

    Args:
        start: Initial wall-clock time, UTC epoch seconds.

    Attributes:
        sleeps: Every positive delay passed to :meth:`sleep`, in seconds, in call order.
    """

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._now = start
        self._mono = 0.0
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        """Move both clocks forward by ``seconds``."""
        self._now += seconds
        self._mono += seconds

    async def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.sleeps.append(seconds)
            self.advance(seconds)
        await asyncio.sleep(0)
