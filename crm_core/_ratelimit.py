"""Client-side rate limiting that follows the server.

One limiter per credential, shared by every request that uses it:

* a **token bucket** with a configurable rate (requests per window) and size; it starts full at
  its size and never bursts beyond it;
* **server pacing**: ``X-RateLimit-Limit`` / ``-Remaining`` / ``-Reset`` are read on every
  response, the remaining budget of the server's window is counted down locally as requests are
  sent, and sending stops before the server would say 429 — whatever the window's length;
* a **probe while the budget is unknown**: before the first response, and each time the server's
  window rolls over, only ``probe`` requests (default 1) leave; the rest wait for the first
  response to announce the new window's budget, then go as far as it allows;
* a **shared cooldown**: a 429 (or 503 with ``Retry-After``) anywhere pauses every sender until
  the server's hint (``Retry-After``, else ``X-RateLimit-Reset``, else an exponential pause);
* **plausible hints only**: a hint or window reset further away than ``max_pause`` (the API's
  window; Lofty: 60 s) is capped at ``max_pause`` and counted in
  :attr:`LimiterState.implausible_hints` (the in-process limiter logs the first one), so one odd
  header (Lofty's documented ``X-RateLimit-Reset: 21000``) never blocks a credential for longer
  than one window;
* optional **AIMD** adaptation for APIs that publish no limits: the rate and the concurrency
  limit are halved on 429, 503 or rising latency and grow back additively while all is well.

All state sits in one :class:`LimiterState` object (plain data: numbers, booleans and
``None``; :func:`attrs.asdict` serialises it and ``LimiterState(**d)`` restores it) moved only by
the pure functions :func:`reserve_detail` / :func:`reserve` (take a permit) and
:func:`observe_response` (fold a response in). Another store (Redis, for several processes) runs
the same functions inside an atomic compare-and-set: :class:`RateLimiter` is the interface and
:class:`LocalRateLimiter` the in-process implementation.

Every permit granted by ``reserve`` must be matched by exactly one ``observe_response`` (with
``status=None`` when no response came: connection failure, timeout, cancellation), or the count
of outstanding requests and probes drifts.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import math
from collections.abc import Mapping
from typing import Protocol

import attrs

from ._clock import Clock, SystemClock
from ._concurrency import ConcurrencyLimiter

__all__ = [
    "AIMDConfig",
    "LimiterSnapshot",
    "LimiterState",
    "LimiterWaitTooLong",
    "LocalRateLimiter",
    "RateLimiter",
    "observe_response",
    "parse_rate_limit_reset",
    "parse_retry_after",
    "reserve",
    "reserve_detail",
    "server_pause_hint",
]

log = logging.getLogger("crm_core.ratelimit")

_EPOCH_FLOOR = 1_000_000_000.0  # a Reset value above this is an epoch time
_EPOCH_MS_FLOOR = 1_000_000_000_000.0


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` value.

    Args:
        value: delta-seconds (``"7"``, ``"1.5"``) or an HTTP-date
            (``"Wed, 21 Oct 2026 07:28:00 GMT"``).
        now: Current wall-clock time, UTC epoch seconds.

    Returns:
        Seconds (never negative), or ``None`` when absent or unreadable.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            return None
        return max(0.0, when.timestamp() - now)
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return max(0.0, seconds)


def parse_rate_limit_reset(value: str | None, now: float) -> float | None:
    """The wall-clock time (UTC epoch seconds) an ``X-RateLimit-Reset`` value points at.

    Lofty documents epoch seconds, but its own example shows ``21000``; so a value above 1e12
    is read as epoch milliseconds, above 1e9 as epoch seconds, and anything smaller as seconds
    from now.
    """
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    if math.isnan(number) or number < 0:
        return None
    if number >= _EPOCH_MS_FLOOR:
        return number / 1000.0
    if number >= _EPOCH_FLOOR:
        return number
    return now + number


def _header_int(headers: Mapping[str, str], name: str) -> int | None:
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        return int(float(raw.strip()))
    except ValueError:
        return None


def server_pause_hint(
    status: int, headers: Mapping[str, str], now: float, max_pause: float | None = None
) -> float | None:
    """Seconds the server asked us to wait, from ``Retry-After`` or ``X-RateLimit-Reset``.

    ``Retry-After`` wins; ``X-RateLimit-Reset`` counts only on a 429 (where it says when the
    exhausted window reopens).

    Args:
        status: HTTP status of the response.
        headers: Its headers.
        now: Wall-clock time, UTC epoch seconds.
        max_pause: Longest plausible hint, seconds (the API's window); a longer one is capped
            to it. ``None``: no cap.

    Returns:
        Seconds, or ``None`` when the response carries no hint.
    """
    hint = parse_retry_after(headers.get("Retry-After"), now)
    if hint is None and status == 429:
        reset_at = parse_rate_limit_reset(headers.get("X-RateLimit-Reset"), now)
        if reset_at is not None:
            hint = max(0.0, reset_at - now)
    if hint is not None and max_pause is not None:
        hint = min(hint, max_pause)
    return hint


def _implausible(seconds: float, max_pause: float) -> bool:
    return seconds > max_pause + 1.0


@attrs.frozen(kw_only=True)
class AIMDConfig:
    """Additive-increase / multiplicative-decrease settings, for APIs that publish no limits.

    Attributes:
        min_rate: Lowest rate, requests per second.
        max_rate: Highest rate, requests per second.
        increase: Requests per second added per success (so growth is slow and linear).
        decrease: Factor applied to the rate and the concurrency limit on 429, 503 or slowness.
        min_concurrency: Lowest concurrency limit.
        max_concurrency: Highest concurrency limit.
        latency_factor: A response slower than this many times the smoothed latency counts as
            congestion.
        min_latency: Latencies below this many seconds never count as congestion.
        quiet_period: Seconds after a decrease during which no further decrease happens (one
            storm halves the rate once, not once per failing request).
    """

    min_rate: float = 0.5
    max_rate: float = 20.0
    increase: float = 0.05
    decrease: float = 0.5
    min_concurrency: int = 1
    max_concurrency: int = 16
    latency_factor: float = 3.0
    min_latency: float = 1.0
    quiet_period: float = 2.0


@attrs.define(kw_only=True)
class LimiterState:
    """Everything a limiter knows; plain data so a shared store could hold it.

    Times are wall-clock UTC epoch seconds.

    Attributes:
        rate: Bucket refill rate, requests per second, or ``None`` for no client-side bucket.
        capacity: Bucket size (the largest burst), requests.
        tokens: Tokens in the bucket now.
        refilled_at: When ``tokens`` was last brought up to date.
        cooldown_until: No request leaves before this time (shared cooldown).
        consecutive_throttles: 429s in a row, for the fallback pause when no hint is given.
        server_limit: Last ``X-RateLimit-Limit`` seen.
        server_remaining: Requests the server's current window still allows, counted down
            locally as requests leave; ``None`` when unknown.
        server_reset: When the server's current window ends; ``None`` when unknown.
        outstanding: Requests sent whose response has not been observed.
        latency_ewma: Smoothed response latency, seconds (AIMD only).
        decreased_at: Last AIMD decrease.
        probe: Requests allowed out while the server's budget is unknown (setting, >= 1).
        probe_patience: Seconds to wait for a probe's answer before letting one more probe
            go (setting).
        max_pause: Longest plausible pause or window, seconds (setting; Lofty: 60 s). Hints
            and resets further away are capped to it.
        announces: Whether the server sends ``X-RateLimit-*`` headers: ``None`` before the
            first response, then ``True``/``False``. Probing applies unless ``False``.
        probing: Probes out now (requests granted while the budget was unknown).
        probe_at: When the last probe left (a probe older than ``max_pause`` is forgotten).
        implausible_hints: Hints or resets seen beyond ``max_pause`` (they were capped).
        last_reset: The last plausible ``X-RateLimit-Reset`` read from a header (epoch seconds).
        window_seen: The shortest gap seen between two successive window resets, seconds: the
            server's window as observed (``None`` until two windows were seen). An implausible
            hint is capped at it when it is shorter than ``max_pause``, so a server with a short
            window is not waited on for the API's documented one.
    """

    rate: float | None
    capacity: float
    tokens: float
    refilled_at: float
    cooldown_until: float = 0.0
    consecutive_throttles: int = 0
    server_limit: int | None = None
    server_remaining: float | None = None
    server_reset: float | None = None
    outstanding: int = 0
    latency_ewma: float | None = None
    decreased_at: float = -math.inf
    probe: int = 1
    probe_patience: float = 1.0
    max_pause: float = 60.0
    announces: bool | None = None
    probing: int = 0
    probe_at: float = 0.0
    implausible_hints: int = 0
    last_reset: float | None = None
    window_seen: float | None = None


def _implausible_cap(state: LimiterState) -> float:
    """How long an implausible hint is taken to mean: the window seen, else ``max_pause``."""
    if state.window_seen is not None and state.window_seen < state.max_pause:
        return state.window_seen
    return state.max_pause


_WINDOW_MARGIN = 0.25  # seconds added after a server window's reset, for clock skew
PROBE_RECHECK = 0.05
"""Seconds between re-checks for a caller held back behind a probe, for a store that cannot
notify waiters (the in-process limiter wakes on every response instead)."""


def reserve_detail(state: LimiterState, now: float) -> tuple[float, str]:
    """Take one request's permit if it is available now, and say why not otherwise.

    Args:
        state: The limiter's state (updated in place when the permit is granted).
        now: Wall-clock time, UTC epoch seconds.

    Returns:
        ``(wait, reason)``: ``(0.0, "")`` when the request may leave now; else the seconds to
        wait before asking again and why: ``"cooldown"`` (a 429 or 503 pause), ``"window"``
        (the server's window is spent until its reset), ``"probe"`` (the budget is unknown and
        a probe is out; ``wait`` is when another probe may go, but ask again on the next
        response, or poll every :data:`PROBE_RECHECK`) or ``"bucket"`` (the client-side token
        bucket is empty).
    """
    if now < state.cooldown_until:
        return state.cooldown_until - now, "cooldown"
    if state.server_reset is not None and now >= state.server_reset + _WINDOW_MARGIN:
        # The server's window rolled over: its budget is unknown until the next response.
        state.server_remaining = None
        state.server_reset = None
        state.probing = 0
    if state.server_remaining is not None and state.server_remaining < 1:
        if state.server_reset is None:
            state.server_remaining = None
        else:
            return state.server_reset + _WINDOW_MARGIN - now, "window"
    unknown = state.server_remaining is None and state.announces is not False
    if unknown and state.probing >= state.probe and now - state.probe_at < state.probe_patience:
        # Wait for the probe's answer; a probe slower than probe_patience lets one more go, so a
        # slow (or lost) first request does not hold every other caller.
        return state.probe_at + state.probe_patience - now, "probe"
    if state.rate is not None:
        elapsed = max(0.0, now - state.refilled_at)
        state.tokens = min(state.capacity, state.tokens + elapsed * state.rate)
        state.refilled_at = now
        if state.tokens < 1.0:
            return (1.0 - state.tokens) / state.rate, "bucket"
        state.tokens -= 1.0
    if state.server_remaining is not None:
        state.server_remaining -= 1
    elif unknown:
        state.probing += 1
        state.probe_at = now
    state.outstanding += 1
    return 0.0, ""


def reserve(state: LimiterState, now: float) -> float:
    """Take one request's permit if it is available now (see :func:`reserve_detail`).

    Returns:
        ``0.0`` when the request may go (the state is updated), else the seconds to wait before
        asking again (the state is unchanged but for bookkeeping).
    """
    return reserve_detail(state, now)[0]


def observe_response(
    state: LimiterState,
    *,
    status: int | None,
    headers: Mapping[str, str],
    now: float,
    latency: float | None,
    aimd: AIMDConfig | None,
    fallback_pause: float,
) -> tuple[float | None, bool]:
    """Fold one response (or a failure with ``status=None``) into the state.

    Returns:
        ``(pause, decreased)``: the cooldown length started by this response in seconds (or
        ``None``), and whether AIMD lowered the rate (the caller lowers concurrency too).
    """
    state.outstanding = max(0, state.outstanding - 1)
    limit = _header_int(headers, "X-RateLimit-Limit")
    remaining = _header_int(headers, "X-RateLimit-Remaining")
    reset_at = parse_rate_limit_reset(headers.get("X-RateLimit-Reset"), now)
    odd = reset_at is not None and _implausible(reset_at - now, state.max_pause)
    if odd:
        state.implausible_hints += 1
        reset_at = now + _implausible_cap(state)
    elif reset_at is not None:
        previous = state.last_reset
        if previous is not None and reset_at > previous + 0.5:
            gap = reset_at - previous  # a new window began (a gap may span skipped windows)
            if gap <= state.max_pause and (state.window_seen is None or gap < state.window_seen):
                state.window_seen = gap
        if previous is None or reset_at > previous:
            state.last_reset = reset_at
    if limit is not None:
        state.server_limit = limit
    if remaining is not None or reset_at is not None:
        state.announces = True
        state.probing = 0
    else:
        state.probing = max(0, state.probing - 1)
        if status is not None and 200 <= status < 300 and state.announces is None:
            state.announces = False  # a server that announces nothing: no probing
    if remaining is not None and reset_at is not None:
        budget = float(remaining - state.outstanding)
        if state.server_reset is None or reset_at > state.server_reset + 0.5:
            state.server_reset = reset_at
            state.server_remaining = budget
        elif reset_at >= state.server_reset - 0.5:
            current = state.server_remaining
            state.server_remaining = budget if current is None else min(current, budget)
        # else: a late response from an older window; ignore it.

    pause: float | None = None
    congested = status in (429, 503)
    if status == 429 or (status == 503 and "Retry-After" in headers):
        state.consecutive_throttles += 1
        hint = server_pause_hint(status, headers, now)
        if hint is not None and _implausible(hint, state.max_pause):
            if not odd:
                state.implausible_hints += 1
            hint = _implausible_cap(state)
        if hint is None:
            hint = min(state.max_pause, fallback_pause * 2 ** (state.consecutive_throttles - 1))
        pause = hint
        state.cooldown_until = max(state.cooldown_until, now + hint)
        if status == 429:
            state.server_remaining = 0.0
            if reset_at is None:
                # A 429 that names no window of its own (a gateway or burst limit): its hint,
                # not an earlier response's window reset, says when the budget is back.
                state.server_reset = now + hint - _WINDOW_MARGIN
            else:
                state.server_reset = max(state.server_reset or 0.0, now + hint - _WINDOW_MARGIN)
    elif status is not None and status < 500:
        state.consecutive_throttles = 0

    decreased = False
    if aimd is not None and state.rate is not None:
        slow = False
        if latency is not None and status is not None and status < 500:
            base = state.latency_ewma
            slow = base is not None and latency > aimd.min_latency and latency > aimd.latency_factor * base
            state.latency_ewma = latency if base is None else 0.8 * base + 0.2 * latency
        if congested or slow:
            if now - state.decreased_at >= aimd.quiet_period:
                state.rate = max(aimd.min_rate, state.rate * aimd.decrease)
                state.tokens = min(state.tokens, 1.0)
                state.decreased_at = now
                decreased = True
        elif status is not None and 200 <= status < 300:
            state.rate = min(aimd.max_rate, state.rate + aimd.increase)
    return pause, decreased


@attrs.frozen(kw_only=True)
class LimiterSnapshot:
    """A read-only view of a limiter, for metrics and ``on_rate_limited`` hooks.

    Attributes:
        rate: Requests per second allowed by the bucket, or ``None``.
        tokens: Tokens left in the bucket.
        cooldown_remaining: Seconds left in the shared cooldown (0 when none).
        server_limit: Last ``X-RateLimit-Limit``.
        server_remaining: Local count of the server window's remaining budget.
        server_reset: When the server's window ends, UTC epoch seconds.
        concurrency_limit: Current concurrency limit, when the limiter steers one.
    """

    rate: float | None
    tokens: float
    cooldown_remaining: float
    server_limit: int | None
    server_remaining: float | None
    server_reset: float | None
    concurrency_limit: int | None


class RateLimiter(Protocol):
    """What the session needs from a rate limiter.

    Implementations must be safe to share between clients that use the same credential. The
    session calls :meth:`acquire` inside its concurrency slot, right before the request leaves,
    and then :meth:`observe` exactly once for that permit: with the response's status and
    headers, or with ``status=None`` when no response came (connection error, timeout,
    cancellation, any failure after the permit was granted). An implementation keeps its
    decisions in :func:`reserve_detail` and :func:`observe_response` over a
    :class:`LimiterState`, so every store paces alike.
    """

    async def acquire(self, *, max_wait: float | None = None) -> float:
        """Wait until one request may leave; return the seconds waited.

        Raises:
            LimiterWaitTooLong: the wait (a cooldown or a spent window) would exceed
                ``max_wait`` seconds; the session turns it into a ``RateLimitError``.
        """
        ...

    def observe(self, *, status: int | None, headers: Mapping[str, str], latency: float | None) -> float | None:
        """Fold a response (or ``status=None``: none came) into the state; return the shared
        pause it started, in seconds, or ``None``."""
        ...

    def pause(self, seconds: float) -> None:
        """Start (or extend) a shared cooldown of ``seconds``."""
        ...

    def wait_time(self) -> float:
        """Seconds a new request would wait now (0 when it could leave at once)."""
        ...

    def snapshot(self) -> LimiterSnapshot:
        """The current state, read-only."""
        ...


class LimiterWaitTooLong(Exception):
    """Raised by :meth:`LocalRateLimiter.acquire` when the wait would exceed ``max_wait``.

    Attributes:
        wait: Seconds the limiter would have waited.
        until: Wall-clock time (UTC epoch seconds) the wait ends.
    """

    def __init__(self, wait: float, until: float) -> None:
        super().__init__(f"rate limiter would wait {wait:.1f} s")
        self.wait = wait
        self.until = until


class LocalRateLimiter:
    """The in-process :class:`RateLimiter`.

    Args:
        requests: Requests allowed per ``window`` by the client-side token bucket, or ``None``
            for no client-side bucket (server pacing and cooldowns still apply).
        window: The bucket's window, seconds. The refill rate is ``requests / window``.
        burst: Bucket size, requests (default: ``max(1, requests / 10)``); the bucket starts
            with this many tokens, never more.
        aimd: Adapt the rate (and ``concurrency``) to congestion; needs ``requests``.
        concurrency: The concurrency limiter AIMD steers, if any.
        fallback_pause: First pause after a 429 that carries no hint, seconds (doubles per
            consecutive 429, at most ``max_pause``).
        probe: Requests sent while the server's budget is unknown (first request, or a window
            that just rolled over); the others wait for the first response's headers.
        max_pause: Longest plausible server pause or window, seconds (the API's window: 60 s
            for Lofty). Longer hints are capped and the first such is logged.
        clock: Time source (inject a :class:`FakeClock` in tests).
    """

    def __init__(
        self,
        *,
        requests: float | None = None,
        window: float = 60.0,
        burst: float | None = None,
        aimd: AIMDConfig | None = None,
        concurrency: ConcurrencyLimiter | None = None,
        fallback_pause: float = 1.0,
        probe: int = 1,
        max_pause: float = 60.0,
        clock: Clock | None = None,
    ) -> None:
        if requests is not None and (requests <= 0 or window <= 0):
            raise ValueError(f"requests={requests!r} per window={window!r}: both must be > 0")
        if aimd is not None and requests is None:
            raise ValueError("aimd needs a starting rate: pass requests= and window=")
        if probe < 1:
            raise ValueError(f"probe={probe!r} is not valid: expected an integer >= 1")
        if max_pause <= 0:
            raise ValueError(f"max_pause={max_pause!r} is not valid: expected seconds > 0")
        self._clock = clock or SystemClock()
        rate = None if requests is None else requests / window
        capacity = burst if burst is not None else max(1.0, (requests or 0.0) / 10.0)
        self._aimd = aimd
        self._concurrency = concurrency
        self._fallback_pause = fallback_pause
        self._answered: asyncio.Future[None] | None = None
        self.state = LimiterState(
            rate=rate,
            capacity=capacity,
            tokens=capacity,
            refilled_at=self._clock.time(),
            probe=probe,
            max_pause=max_pause,
        )

    def try_acquire(self) -> bool:
        """Take one request's permit if it is free right now, without waiting.

        Returns:
            ``True`` when the permit was taken; ``False`` when the caller must :meth:`acquire`
            (the state is unchanged but for bookkeeping).
        """
        return reserve_detail(self.state, self._clock.time())[0] <= 0

    async def acquire(self, *, max_wait: float | None = None) -> float:
        waited = 0.0
        while True:
            now = self._clock.time()
            wait, why = reserve_detail(self.state, now)
            if wait <= 0:
                return waited
            if why == "probe":
                # Held back behind a probe: wake on its response (or re-check a little later).
                waited += await self._next_response(wait)
                continue
            if max_wait is not None and wait > max_wait:
                raise LimiterWaitTooLong(wait, now + wait)
            await self._clock.sleep(wait)
            waited += wait

    async def _next_response(self, at_most: float) -> float:
        """Wait for the next observed response, at most ``at_most`` seconds; return the wait."""
        if self._answered is None or self._answered.done():
            self._answered = asyncio.get_running_loop().create_future()
        started = self._clock.monotonic()
        sleeper = asyncio.ensure_future(self._clock.sleep(max(at_most, 0.0)))
        try:
            await asyncio.wait({sleeper, self._answered}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
        return self._clock.monotonic() - started

    def observe(self, *, status: int | None, headers: Mapping[str, str], latency: float | None) -> float | None:
        odd_before = self.state.implausible_hints
        pause, decreased = observe_response(
            self.state,
            status=status,
            headers=headers,
            now=self._clock.time(),
            latency=latency,
            aimd=self._aimd,
            fallback_pause=self._fallback_pause,
        )
        if odd_before == 0 and self.state.implausible_hints:
            log.warning(
                "The server sent a rate-limit hint beyond %.0f s (Retry-After %r, X-RateLimit-Reset %r); "
                "it is capped at %.0f s. Further ones are counted in LimiterState.implausible_hints.",
                self.state.max_pause,
                headers.get("Retry-After"),
                headers.get("X-RateLimit-Reset"),
                self.state.max_pause,
            )
        answered = self._answered
        if answered is not None and not answered.done():
            answered.set_result(None)
        if self._concurrency is not None and self._aimd is not None:
            if decreased:
                lowered = int(self._concurrency.limit * self._aimd.decrease)
                self._concurrency.set_limit(max(self._aimd.min_concurrency, lowered))
            elif status is not None and 200 <= status < 300 and self.state.rate is not None:
                # Let concurrency follow the rate back up, one slot at a time.
                target = min(self._aimd.max_concurrency, max(1, math.ceil(self.state.rate)))
                if target > self._concurrency.limit:
                    self._concurrency.set_limit(self._concurrency.limit + 1)
        return pause

    def pause(self, seconds: float) -> None:
        self.state.cooldown_until = max(self.state.cooldown_until, self._clock.time() + seconds)

    def wait_time(self) -> float:
        now = self._clock.time()
        return max(0.0, self.state.cooldown_until - now)

    def snapshot(self) -> LimiterSnapshot:
        now = self._clock.time()
        s = self.state
        return LimiterSnapshot(
            rate=s.rate,
            tokens=s.tokens,
            cooldown_remaining=max(0.0, s.cooldown_until - now),
            server_limit=s.server_limit,
            server_remaining=s.server_remaining,
            server_reset=s.server_reset,
            concurrency_limit=None if self._concurrency is None else self._concurrency.limit,
        )
