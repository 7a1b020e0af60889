"""The pieces of the one retry loop: per-call state, the retry decision, and its reporting.

:class:`~crm_core.HTTPSession` runs the first attempt on its own and, on a failure, a tenacity
``AsyncRetrying`` with :class:`RetryDecision` as its ``retry`` strategy,
:class:`~crm_core._retry.ServerHintWait` as its wait, :class:`~crm_core._retry.DeadlineStop`
as its stop and :class:`RetryReporter` for logs and events.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import tenacity

from ._clock import Clock
from ._errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APITimeoutError,
    Outcome,
    RateLimitError,
    ReconciliationError,
)
from ._events import Event, EventKind
from ._request import Auth, Request
from ._retry import RequestKind, RetryBudget, RetryPolicy, is_paced, may_resend

_FINAL: weakref.WeakSet[BaseException] = weakref.WeakSet()


def mark_final(error: BaseException) -> None:
    """Never retry ``error`` in an outer retry loop: it already had its own (a token request's
    failure, raised while getting credentials, was retried by that request's loop)."""
    _FINAL.add(error)


__all__ = ["CallState", "RetryDecision", "RetryReporter", "Settle", "ambiguous", "reason_of"]

Settle = Callable[[APIError], Awaitable[Any]]
"""``settle(error)``: after an ambiguous create, look the write up. Returns the call's result
when found, ``None`` when the write is absent (it is then re-sent); raises to stop."""


def ambiguous(error: APIError) -> bool:
    """A create that may have landed (or did, with an unreadable answer): look it up first."""
    if error.outcome is Outcome.MAYBE_PROCESSED:
        return True
    return isinstance(error, APIResponseValidationError) and error.outcome is Outcome.PROCESSED


class CallState:
    """What one call's retry loop knows across its attempts."""

    __slots__ = ("credentials", "pending", "policy", "refreshed", "request", "retries", "settle", "started")

    def __init__(self, request: Request, policy: RetryPolicy, started: float, settle: Settle | None) -> None:
        self.request = request
        self.policy = policy
        self.started = started
        self.settle = settle
        self.retries = 0  # failure retries (5xx, connection, unhinted 429); paced ones are free
        self.refreshed = False
        self.credentials: Mapping[str, str] = {}
        self.pending: APIError | None = None  # an ambiguous create to look up before re-sending


class RetryDecision:
    """The loop's one retry decision (an async tenacity ``retry`` strategy)."""

    def __init__(
        self, *, auth: Auth, budget: RetryBudget, clock: Clock, call: CallState, decided: APIError | None = None
    ) -> None:
        self.auth = auth
        self.budget = budget
        self.clock = clock
        self.call = call
        self.decided = decided  # attempt 1's failure was judged before the loop was built

    async def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        outcome = retry_state.outcome
        if outcome is None or not outcome.failed:
            return False
        error = outcome.exception()
        if not isinstance(error, APIError) or isinstance(error, ReconciliationError):
            return False  # CancelledError, programming errors, a settled "cannot tell": final
        if error is self.decided:
            self.decided = None
            return True
        return await self.decide(error)

    async def decide(self, error: APIError) -> bool:
        """Whether ``error`` (the last attempt's) is retried; updates the call's counters."""
        if isinstance(error, ReconciliationError) or error in _FINAL:
            return False
        call = self.call
        policy, request = call.policy, call.request
        if error.status == 401 and not call.refreshed:
            call.refreshed = True  # once per call: the credentials may have been renewed
            return await self.auth.on_unauthorized(call.credentials)
        if call.settle is not None and request.kind is RequestKind.CREATE and ambiguous(error):
            call.pending = error  # the next attempt looks the write up before re-sending
            return True
        if not may_resend(error, request.kind, policy.statuses):
            return False
        hint = error.retry_after
        if hint is not None and hint > policy.max_retry_after:
            if isinstance(error, RateLimitError):
                error.retry_at = self.clock.time() + hint
            error.note = (
                f"Not retried: the server asked for a {hint:.0f} s pause, longer than "
                f"max_retry_after={policy.max_retry_after:.0f} s."
            )
            return False
        if is_paced(error):
            # The server said when to come back: that is pacing, not a failure. It spends
            # neither the retry budget nor max_retries; the deadline (or pacing_timeout) ends it.
            return True
        if call.retries >= policy.max_retries:
            return False
        refused = (
            isinstance(error, APIConnectionError)
            and not isinstance(error, APITimeoutError)
            and error.outcome is Outcome.NOT_SENT
        )
        # A refused connection sent nothing and costs the server nothing: it spends max_retries
        # (with backoff) but not the budget, which guards a struggling server against retries.
        if not refused and not self.budget.try_spend():
            error.note = "Not retried: the client's retry budget is spent (too many failures)."
            return False
        call.retries += 1
        return True


def reason_of(error: BaseException | None) -> str:
    if error is None:
        return "unknown"
    if isinstance(error, APIError) and error.status is not None:
        return f"status {error.status}"
    cause = error.__cause__
    return type(cause).__name__ if cause is not None else type(error).__name__


class RetryReporter:
    """Logs and emits what the retry loop does (tenacity ``before_sleep``, and the give-up)."""

    def __init__(self, *, log: logging.Logger, emit: Callable[[Event], None], hooks: bool, base_url: str) -> None:
        self.log = log
        self.emit = emit
        self.hooks = hooks
        self.base_url = base_url

    def before_sleep(self, request: Request, retry_state: tenacity.RetryCallState) -> None:
        """Log the failed attempt and emit a ``RETRY`` event."""
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None else None
        delay = retry_state.upcoming_sleep
        reason = reason_of(error)
        url = self.base_url + request.path
        self.log.warning(
            "%s %s failed (%s); retry %d in %.2f s", request.method, url, reason, retry_state.attempt_number, delay
        )
        if self.hooks:
            self.emit(
                Event(
                    kind=EventKind.RETRY,
                    operation=request.operation,
                    method=request.method,
                    url=url,
                    attempt=retry_state.attempt_number,
                    status=getattr(error, "status", None),
                    delay=delay,
                    reason=reason,
                    error=error,
                )
            )

    def give_up(self, request: Request, error: APIError) -> None:
        """Log the final failure and emit a ``GIVE_UP`` event."""
        url = self.base_url + request.path
        self.log.info("%s %s gave up: %s", request.method, url, reason_of(error))
        if self.hooks:
            self.emit(
                Event(
                    kind=EventKind.GIVE_UP,
                    operation=request.operation,
                    method=request.method,
                    url=url,
                    attempt=error.attempts,
                    status=error.status,
                    reason=reason_of(error),
                    error=error,
                )
            )
