"""What every SDK client holds: one session, its limits, a create ledger and a converter."""

from __future__ import annotations

import random
import weakref
from collections.abc import Hashable, Sequence

import aiohttp
import attrs
import cattrs

from ._clock import Clock, SystemClock
from ._concurrency import ConcurrencyLimiter
from ._converter import Naming, make_converter
from ._events import EventHook
from ._ratelimit import AIMDConfig, LocalRateLimiter, RateLimiter
from ._reconcile import CreateLedger, ReconcileSettings
from ._retry import RetryBudget, RetryPolicy
from ._session import Auth, Dialect, HTTPSession

__all__ = ["ClientCore", "RateLimit"]


@attrs.frozen(kw_only=True)
class RateLimit:
    """A client-side token bucket: ``requests`` per ``window`` seconds.

    Attributes:
        requests: Requests per window.
        window: Window length, seconds.
        burst: Bucket size (largest burst), requests; default ``max(1, requests / 10)``.
        adaptive: Adapt rate and concurrency to 429s, 503s and latency (AIMD); ``None`` for a
            fixed rate.
    """

    requests: float
    window: float = 60.0
    burst: float | None = None
    adaptive: AIMDConfig | None = None


_LIMITERS: weakref.WeakValueDictionary[tuple[Hashable, ...], LocalRateLimiter] = weakref.WeakValueDictionary()


def _shared_limiter(
    base_url: str,
    auth: Auth,
    rate_limit: RateLimit | None,
    concurrency: ConcurrencyLimiter,
    clock: Clock,
    max_pause: float = 60.0,
) -> LocalRateLimiter:
    """One limiter per (API, credential, rate settings, clock) in this process.

    Clients that use the same credential share the server's budget and its cooldowns, so a 429
    seen by one pauses them all. Adaptive (AIMD) limiters steer one client's concurrency, so
    they are not shared. The credential is kept only as a digest.
    """
    adaptive = rate_limit is not None and rate_limit.adaptive is not None

    def build() -> LocalRateLimiter:
        return LocalRateLimiter(
            requests=None if rate_limit is None else rate_limit.requests,
            window=60.0 if rate_limit is None else rate_limit.window,
            burst=None if rate_limit is None else rate_limit.burst,
            aimd=None if rate_limit is None else rate_limit.adaptive,
            concurrency=concurrency,
            max_pause=max_pause,
            clock=clock,
        )

    credential = getattr(auth, "identity", None)
    if adaptive or not callable(credential):
        return build()
    clock_key = "system" if type(clock) is SystemClock else id(clock)  # the system clock is stateless
    key = (base_url.rstrip("/"), credential(), rate_limit, clock_key)
    limiter = _LIMITERS.get(key)
    if limiter is None:
        limiter = build()
        _LIMITERS[key] = limiter
    return limiter


class ClientCore:
    """Builds and owns an SDK client's session and shared state.

    Args:
        base_url: API root.
        auth: Credentials.
        dialect: The API's conventions.
        naming: Wire-name style for the converter.
        retry: Retry policy (default :class:`RetryPolicy`: 3 retries, 0.5 s to 8 s full jitter,
            ``Retry-After`` honoured up to 120 s).
        timeout: Per-attempt time limit, seconds.
        connect_timeout: Connection time limit, seconds.
        max_concurrency: Requests in flight at once.
        rate_limit: Client-side token bucket; ``None`` for none (server pacing still applies).
        limiter: A rate limiter to use (overrides ``rate_limit``). By default clients with the
            same base URL, credential and rate settings in one process share one limiter.
        retry_budget: Client-wide retry budget.
        reconcile: Reconciliation of ambiguous creates (``True``/``False`` or settings).
        session: Caller-owned ``aiohttp.ClientSession`` (never closed by us).
        hooks: Event hooks.
        clock: Time source.
        seed: Seed for backoff jitter (reproducible delays in tests).
        strict_responses: Raise on unknown response keys (for tests; production ignores them).
    """

    def __init__(
        self,
        *,
        base_url: str,
        auth: Auth,
        dialect: Dialect,
        naming: Naming,
        retry: RetryPolicy | None,
        timeout: float,
        connect_timeout: float,
        max_concurrency: int,
        rate_limit: RateLimit | None,
        limiter: RateLimiter | None,
        retry_budget: RetryBudget | None,
        reconcile: bool | ReconcileSettings,
        session: aiohttp.ClientSession | None,
        hooks: Sequence[EventHook],
        clock: Clock | None,
        seed: int | None,
        strict_responses: bool,
    ) -> None:
        self.clock = clock or SystemClock()
        self.concurrency = ConcurrencyLimiter(max_concurrency)
        if limiter is None:
            limiter = _shared_limiter(
                base_url, auth, rate_limit, self.concurrency, self.clock, dialect.max_server_pause
            )
        else:
            bind = getattr(limiter, "bind", None)  # a shared (Redis) limiter names its key after us
            if callable(bind):
                identity = getattr(auth, "identity", None)
                bind(
                    api=dialect.name,
                    base_url=base_url,
                    identity=identity() if callable(identity) else None,
                    max_pause=dialect.max_server_pause,
                )
        self.http = HTTPSession(
            base_url=base_url,
            auth=auth,
            dialect=dialect,
            retry=retry,
            timeout=timeout,
            connect_timeout=connect_timeout,
            concurrency=self.concurrency,
            limiter=limiter,
            retry_budget=retry_budget,
            session=session,
            hooks=hooks,
            clock=self.clock,
            rng=random.Random(seed),
        )
        self.converter: cattrs.Converter = make_converter(naming=naming, strict=strict_responses)
        self.ledger = CreateLedger()
        if isinstance(reconcile, ReconcileSettings):
            self.reconcile = reconcile
        else:
            self.reconcile = ReconcileSettings(enabled=reconcile)

    async def aclose(self) -> None:
        """Close the session if we created it."""
        await self.http.aclose()
