"""A concurrency limit whose size can change while it is in use (for AIMD)."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from types import TracebackType

__all__ = ["ConcurrencyLimiter"]


class ConcurrencyLimiter:
    """At most ``limit`` holders at once; FIFO; cancellation never leaks a slot.

    Unlike :class:`asyncio.Semaphore`, the limit can be lowered or raised at run time: lowering
    it lets current holders finish and admits no one until the count falls below the new limit.

    Args:
        limit: Maximum holders, >= 1.
    """

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"limit={limit!r} is not valid: expected an integer >= 1")
        self._limit = limit
        self._in_flight = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._slot = _Slot(self)

    @property
    def limit(self) -> int:
        """The current maximum number of holders."""
        return self._limit

    @property
    def in_flight(self) -> int:
        """Holders right now."""
        return self._in_flight

    @property
    def waiting(self) -> int:
        """Callers queued for a slot."""
        return sum(1 for w in self._waiters if not w.done())

    def set_limit(self, limit: int) -> None:
        """Change the limit (>= 1); queued callers are admitted if the new limit allows."""
        self._limit = max(1, limit)
        self._wake()

    def slot(self) -> _Slot:
        """Hold one slot for the body of the ``async with`` (a plain object: no generator)."""
        return self._slot

    async def _enter(self) -> None:
        if self._in_flight < self._limit and not self._waiters:
            self._in_flight += 1  # fast path: no future, no suspension
            return
        await self._acquire()

    async def _acquire(self) -> None:
        if self._in_flight < self._limit and not self._waiters:
            self._in_flight += 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                # The slot was handed over just as we were cancelled: give it back.
                self._release()
            else:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(future)
            raise

    def _release(self) -> None:
        self._in_flight -= 1
        if self._waiters:
            self._wake()

    def _wake(self) -> None:
        while self._waiters and self._in_flight < self._limit:
            future = self._waiters.popleft()
            if not future.done():
                self._in_flight += 1
                future.set_result(None)


class _Slot:
    """``async with limiter.slot():`` takes a slot on entry and gives it back on exit."""

    __slots__ = ("_limiter",)

    def __init__(self, limiter: ConcurrencyLimiter) -> None:
        self._limiter = limiter

    async def __aenter__(self) -> None:
        await self._limiter._enter()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._limiter._release()
