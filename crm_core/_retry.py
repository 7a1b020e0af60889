"""Retry policy, retry budget, and the tenacity pieces the session runs on."""

from __future__ import annotations

import enum
import random

import attrs
import tenacity

from ._clock import Clock
from ._errors import APIError, APIResponseValidationError, Outcome, RateLimitError

__all__ = ["RequestKind", "RetryBudget", "RetryPolicy", "is_paced"]


class RequestKind(enum.Enum):
    """How safe a request is to send twice.

    Attributes:
        READ: GET: always safe to retry.
        IDEMPOTENT: PUT, DELETE, finish/unfinish: sending twice has the effect of once.
        CREATE: a POST that creates a record: retried only when the failure shows it did not
            take effect (see :class:`~crm_core.Outcome`).
    """

    READ = "read"
    IDEMPOTENT = "idempotent"
    CREATE = "create"


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """When and how long to retry one call.

    Backoff is tenacity's ``wait_random_exponential`` (full jitter): the n-th retry (from 0)
    waits ``U(0, min(max_delay, initial_delay * 2**n))`` seconds, or the server's hint
    (``Retry-After``, ``X-RateLimit-Reset``) when that is longer.

    A 429 that says when to come back (``Retry-After`` or ``X-RateLimit-Reset``) is the server
    pacing the call, not a failure: waiting for it spends neither ``max_retries`` nor the
    client's :class:`RetryBudget`. A paced call ends only when the server's pause exceeds
    ``max_retry_after``, when ``deadline`` would pass, or, without a deadline, after
    ``pacing_timeout`` seconds in all.

    Attributes:
        max_retries: Failure retries after the first attempt (5xx, connection errors, a 429
            without a hint); server-paced retries are not counted.
        initial_delay: Backoff base, seconds.
        max_delay: Backoff cap, seconds (server hints may exceed it, up to ``max_retry_after``).
        max_retry_after: Longest server hint honoured, seconds; a longer one raises
            :class:`~crm_core.RateLimitError` with ``retry_at`` at once.
        deadline: Seconds from the start of the call after which no new attempt starts, and
            attempts are cut short to fit; ``None`` for no deadline.
        statuses: HTTP statuses worth retrying.
        pacing_timeout: Without a ``deadline``, seconds from the call's start after which no
            new server-paced attempt starts (``None``: no limit).
    """

    max_retries: int = attrs.field(default=3, validator=attrs.validators.ge(0))
    initial_delay: float = attrs.field(default=0.5, validator=attrs.validators.ge(0))
    max_delay: float = attrs.field(default=8.0, validator=attrs.validators.ge(0))
    max_retry_after: float = attrs.field(default=120.0, validator=attrs.validators.ge(0))
    deadline: float | None = None
    statuses: frozenset[int] = frozenset({408, 429, 500, 502, 503, 504})
    pacing_timeout: float | None = 600.0


def may_resend(error: APIError, kind: RequestKind, statuses: frozenset[int]) -> bool:
    """Whether ``error`` allows sending the request again under the write rules.

    Reads and idempotent writes retry on any transient failure. A create retries only when
    the failure shows it did not take effect (:attr:`Outcome.NOT_SENT`).
    """
    if error.status is not None and not isinstance(error, APIResponseValidationError):
        transient = error.status in statuses
    else:
        transient = error.retryable  # no response, or a 2xx body garbled in transit
    if not transient:
        return False
    if kind is RequestKind.CREATE:
        return error.outcome is Outcome.NOT_SENT
    return True


def is_paced(error: BaseException) -> bool:
    """Whether ``error`` is a 429 that says when to come back (server pacing, not a failure)."""
    return isinstance(error, RateLimitError) and error.status == 429 and error.retry_after is not None


class RetryBudget:
    """A client-wide cap on retries, so a storm cannot multiply traffic.

    Each first attempt deposits ``ratio`` tokens and each retry spends one; while the balance
    is below one, failures are not retried. With the defaults retries stay under about 20 % of
    traffic once the initial reserve of ``reserve`` retries is spent.

    Args:
        ratio: Tokens deposited per first attempt.
        reserve: Starting balance (retries allowed before any traffic), also the floor the
            balance refills to over ``refill_period`` seconds with no traffic.
        max_balance: Largest balance.
    """

    def __init__(self, *, ratio: float = 0.2, reserve: float = 10.0, max_balance: float = 100.0) -> None:
        self.ratio = ratio
        self.reserve = reserve
        self.max_balance = max_balance
        self.balance = reserve
        self.spent = 0
        self.refused = 0

    def record_attempt(self) -> None:
        """Note a first attempt (deposits ``ratio``)."""
        self.balance = min(self.max_balance, self.balance + self.ratio)

    def try_spend(self) -> bool:
        """Take one retry from the budget; ``False`` when none is left."""
        if self.balance >= 1.0:
            self.balance -= 1.0
            self.spent += 1
            return True
        self.refused += 1
        return False


class JitteredExponentialWait(tenacity.wait_random_exponential):
    """tenacity's full-jitter ``wait_random_exponential``, drawing from an injectable ``rng``.

    The n-th failure (1-based) waits ``U(0, min(max, multiplier * 2**(n-1)))`` seconds: tenacity
    computes the window, ``rng`` picks the point (seed it for reproducible delays).
    """

    def __init__(self, *, multiplier: float, max: float, rng: random.Random) -> None:
        super().__init__(multiplier=multiplier, max=max)
        self.rng = rng

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        high = tenacity.wait_exponential.__call__(self, retry_state)
        return self.rng.uniform(0.0, high)


class ServerHintWait(tenacity.wait.wait_base):
    """tenacity wait: the server's pace when it set one, else max(backoff, any hint).

    * a paced 429 (:func:`is_paced`) waits exactly the server's hint: the server said when;
    * a 401 that renewed the credentials is retried at once;
    * anything else waits ``max(backoff, retry_after)`` where ``backoff`` is
      :class:`JitteredExponentialWait` (``initial_delay`` .. ``max_delay``).
    """

    def __init__(self, policy: RetryPolicy, rng: random.Random) -> None:
        self.policy = policy
        self.backoff = JitteredExponentialWait(multiplier=policy.initial_delay, max=policy.max_delay, rng=rng)

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        outcome = retry_state.outcome
        hint: float | None = None
        if outcome is not None and outcome.failed:
            error = outcome.exception()
            hint = getattr(error, "retry_after", None)
            if error is not None and is_paced(error):
                return hint or 0.0  # the server's own pace; the shared limiter spreads the restart
            if isinstance(error, APIError) and error.status == 401:
                return 0.0  # renewed credentials: no reason to wait
        return max(self.backoff(retry_state), hint or 0.0)


class DeadlineStop(tenacity.stop.stop_base):
    """tenacity stop: the next attempt would start past the deadline (or ``pacing_timeout``).

    The number of failure retries is counted by the retry decision (paced retries do not
    count), so this is the loop's only stop.
    """

    def __init__(self, policy: RetryPolicy, clock: Clock, started: float) -> None:
        self.policy = policy
        self.clock = clock
        self.started = started

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        limit = self.policy.deadline if self.policy.deadline is not None else self.policy.pacing_timeout
        if limit is None:
            return False
        elapsed = self.clock.monotonic() - self.started
        return elapsed + (retry_state.upcoming_sleep or 0.0) >= limit
