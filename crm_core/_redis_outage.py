"""What :class:`~crm_core.RedisRateLimiter` does while Redis cannot be reached.

:class:`Outage` notices an outage (logged once, at WARNING, with the URL's password hidden), spaces
the connection attempts with jittered exponential backoff, and, with ``on_unavailable="local"``,
paces this worker alone at its conservative share of the limit (``requests / expected_workers``
per ``window``), seeded from the last shared state seen, until Redis answers again.
"""

from __future__ import annotations

import copy
import logging
import math
import random
from collections.abc import Mapping

from ._clock import Clock
from ._ratelimit import PROBE_RECHECK, LimiterState, LimiterWaitTooLong, LocalRateLimiter, reserve_detail
from ._redis_store import RedisUnavailable, Settings

__all__ = ["Outage"]

log = logging.getLogger("crm_core.redis")


class Outage:
    """Outage state and the local fallback of one limiter (implements the store's ``Health``).

    Attributes:
        fallbacks: Outages noticed.
        down_since: Local monotonic time the current outage was noticed, or ``None``.
    """

    def __init__(self, settings: Settings, *, url: str, clock: Clock) -> None:
        self._settings = settings
        self._url = url  # already redacted
        self._clock = clock
        self.down_since: float | None = None
        self._next_try = 0.0  # local monotonic time of the next connection attempt
        self._failures = 0
        self._local: LocalRateLimiter | None = None
        self.fallbacks = 0

    @property
    def down(self) -> bool:
        """Whether Redis is currently considered unreachable."""
        return self.down_since is not None

    def due(self) -> bool:
        """Whether Redis should be asked now (it is up, or the next attempt is due)."""
        return self.down_since is None or self._clock.monotonic() >= self._next_try

    def retry_in(self) -> float:
        """Seconds until the next connection attempt (0 when due)."""
        return max(0.0, self._next_try - self._clock.monotonic())

    def mark_down(self, exc: RedisUnavailable, seen: LimiterState, offset: float) -> None:
        """A transaction failed: back off; on a new outage, log it and (``"local"``) start the local share.

        Args:
            exc: Why (its message is already redacted).
            seen: The shared state as last seen, to seed the local share from.
            offset: Redis's clock minus the local clock, seconds.
        """
        now = self._clock.monotonic()
        self._failures += 1
        backoff = min(self._settings.max_backoff, 0.1 * 2 ** min(self._failures - 1, 10))
        self._next_try = now + random.uniform(backoff / 2, backoff)
        if self.down_since is not None:
            return
        self.down_since = now
        self.fallbacks += 1
        if self._settings.on_unavailable == "local":
            self.local_share(seen, offset)
            share = (self._settings.requests or 0.0) / (self._settings.expected_workers or 1)
            log.warning(
                "Redis rate limiter at %s is unreachable (%s); pacing this worker alone at %.4g requests "
                "per %.4g s (1/%d of the limit) until it answers",
                self._url,
                exc,
                share,
                self._settings.window,
                self._settings.expected_workers,
            )
        else:
            log.warning(
                "Redis rate limiter at %s is unreachable (%s); requests wait and the connection is retried",
                self._url,
                exc,
            )

    def mark_up(self) -> None:
        """A transaction succeeded: end the outage (logged) and drop the local share."""
        self._failures = 0
        if self.down_since is None:
            return
        outage = self._clock.monotonic() - self.down_since
        self.down_since = None
        self._local = None
        log.warning("Redis rate limiter at %s answers again after %.1f s; sharing the limit again", self._url, outage)

    def local_share(self, seen: LimiterState, offset: float) -> LocalRateLimiter:
        """This worker's conservative local share, seeded from the last shared state seen."""
        if self._local is None:
            s = self._settings
            workers = self._settings.expected_workers or 1
            local = LocalRateLimiter(
                requests=(s.requests or 1.0) / workers,
                window=s.window,
                burst=1.0,
                fallback_pause=s.fallback_pause,
                probe=s.probe,
                max_pause=s.pause_cap,
                clock=self._clock,
            )
            local.state.tokens = 0.0  # the shared bucket's tokens may have been spent elsewhere
            seen = copy.copy(seen)
            to_local = -offset
            local.state.cooldown_until = seen.cooldown_until + to_local
            local.state.server_limit = seen.server_limit
            if seen.server_reset is not None and seen.server_remaining is not None:
                local.state.server_reset = seen.server_reset + to_local
                local.state.server_remaining = math.floor(max(0.0, seen.server_remaining) / workers)
            self._local = local
        return self._local

    async def wait_or_take(self, max_wait: float | None, seen: LimiterState, offset: float) -> bool:
        """While Redis is down: wait (``"wait"``), or take a permit from the local share (``"local"``).

        Returns:
            Whether a permit was taken (else it slept, at most until the next connection attempt).

        Raises:
            LimiterWaitTooLong: the local share's wait exceeds ``max_wait``.
        """
        retry_in = self.retry_in()
        if self._settings.on_unavailable == "wait":
            await self._clock.sleep(retry_in)
            return False
        local = self.local_share(seen, offset)
        wait, why = reserve_detail(local.state, self._clock.time())
        if wait <= 0:
            return True
        if why == "probe":
            wait = min(wait, PROBE_RECHECK)
        elif max_wait is not None and wait > max_wait:
            raise LimiterWaitTooLong(wait, self._clock.time() + wait)
        await self._clock.sleep(min(wait, retry_in) if retry_in > 0 else wait)
        return False

    def observe(self, *, status: int | None, headers: Mapping[str, str], latency: float | None) -> float | None:
        """Fold a response into the local share while it paces (the cooldown it started, or ``None``)."""
        if self._local is None or self.down_since is None:
            return None
        return self._local.observe(status=status, headers=headers, latency=latency)

    def pause(self, seconds: float) -> None:
        """Extend the local share's cooldown (if there is one)."""
        if self._local is not None:
            self._local.pause(seconds)

    def wait_time(self) -> float:
        """Seconds the local share would make a request wait while it paces (0 otherwise)."""
        if self._local is None or self.down_since is None:
            return 0.0
        return self._local.wait_time()
