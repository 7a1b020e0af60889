"""When a bulk job stops or waits instead of going on: a wrong key, an unreachable API.

:class:`BulkPolicy` holds the rules, :func:`bulk_policy` sets them for the jobs started in a
``with`` block (the command line's import uses it), and :class:`JobGuard` is one job's state.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Callable, Iterator
from typing import TypeVar

import attrs

from ._clock import Clock
from ._errors import APIConnectionError, APIError, APITimeoutError, AuthenticationError, Outcome

__all__ = ["BulkPolicy", "JobGuard", "bulk_policy", "cause", "current_policy", "refused"]

logger = logging.getLogger("crm_core.bulk")


@attrs.frozen(kw_only=True)
class BulkPolicy:
    """When a bulk job stops or waits instead of going on (see :func:`bulk_policy`).

    Attributes:
        max_auth_failures: Consecutive rows refused with 401 (:class:`~crm_core.AuthenticationError`)
            after which the job stops: the credential is wrong, and sending the other rows would
            only collect more 401s. The rows not tried stay pending for the next run.
        unreachable_wait: Seconds, in all, the job pauses and backs off (1, 2, 4 ... 30 s) while
            every request fails to connect (connection refused, DNS failure) before it stops;
            the rows not tried stay pending. ``0`` stops at the first such failure.
        settle: Seconds after an ambiguous row (outcome ``maybe_processed``) before it is
            re-checked (looked up, re-sent only if absent), once the other rows are done.
        on_pause: Told, as one line, each time the job pauses for an unreachable API (it is
            logged at WARNING on ``crm_core.bulk`` either way).
    """

    max_auth_failures: int = 3
    unreachable_wait: float = 60.0
    settle: float = 10.0
    on_pause: Callable[[str], None] | None = None


_POLICY: contextvars.ContextVar[BulkPolicy | None] = contextvars.ContextVar("crm_core_bulk_policy", default=None)


@contextlib.contextmanager
def bulk_policy(policy: BulkPolicy) -> Iterator[BulkPolicy]:
    """Use ``policy`` for the bulk jobs started inside the ``with`` block (in this task/context).

    ``client.tasks.create_many(...)`` and the command line's import read it; the default is
    ``BulkPolicy()``.
    """
    token = _POLICY.set(policy)
    try:
        yield policy
    finally:
        _POLICY.reset(token)


class JobGuard:
    """The job-wide state behind :class:`BulkPolicy`: a 401 streak and an outage pause.

    Attributes:
        stopped: Why the job stops (rows not started are not tried), or ``None``.
        open: Set while requests may go out; cleared during an outage pause.
        proven: Whether the API has accepted the credential (a row got an answer other than
            401). Until then, and again after any 401, rows go as trials: at most
            ``max_auth_failures`` minus the current 401 streak at once, so a wrong key costs
            exactly ``max_auth_failures`` requests at any concurrency, not one per slot; the
            other rows wait for an answer (see :meth:`enter_trial`).
    """

    def __init__(self, policy: BulkPolicy, clock: Clock) -> None:
        self.policy = policy
        self.clock = clock
        self.stopped: str | None = None
        self.auth_streak = 0
        self.outage_since: float | None = None
        self.backoff = 1.0
        self.open = asyncio.Event()
        self.open.set()
        self.proven = False
        self.in_trial = 0
        self._changed = asyncio.Event()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def prove(self) -> None:
        """The API answered a row with something other than a 401: the credential works."""
        if not self.proven:
            self.proven = True
            self._notify()

    async def enter_trial(self) -> bool | None:
        """Wait until a row may go: ``False`` (the credential is proven: go freely), ``True`` (go
        as a trial row; call :meth:`leave_trial` after), or ``None`` (the job stopped)."""
        while True:
            if self.stopped is not None:
                return None
            if self.proven:
                return False
            if self.in_trial + self.auth_streak < max(1, self.policy.max_auth_failures):
                self.in_trial += 1
                return True
            await self._changed.wait()

    def leave_trial(self) -> None:
        """A trial row ended (after :meth:`result` counted it)."""
        self.in_trial -= 1
        self._notify()

    def result(self, error: BaseException | None, *, tried: bool) -> None:
        """Count one row's end (``tried``: it was sent, not skipped)."""
        if error is None:  # the usual end: created (or skipped as done)
            if tried:
                self.auth_streak = 0
            return
        refused = cause(error, AuthenticationError)
        if refused is not None:
            self.proven = False
            self.auth_streak += 1
            self._notify()
            if self.auth_streak >= self.policy.max_auth_failures and self.stopped is None:
                self.stopped = (
                    f"the API refused the credential (401 on {self.auth_streak} rows in a row: "
                    f"{refused.message}); check it, then run the same command again: the rows "
                    "not tried stay pending"
                )
        elif tried:
            self.auth_streak = 0

    def reachable(self) -> None:
        """A request got an answer: the outage (if any) is over."""
        self.outage_since = None
        self.backoff = 1.0

    async def unreachable(self, error: APIConnectionError) -> bool:
        """Pause while the API cannot be reached; ``False`` once the pause is spent (job stops)."""
        now = self.clock.monotonic()
        if self.outage_since is None:
            self.outage_since = now
        waited = now - self.outage_since
        if waited >= self.policy.unreachable_wait:
            if self.stopped is None:
                self.stopped = (
                    f"the API could not be reached for {waited:.0f} s ({error.message}); the rows not tried "
                    "stay pending: check the URL and the network, then run the same command again"
                )
            return False
        if not self.open.is_set():
            await self.open.wait()
            return True
        delay = min(self.backoff, self.policy.unreachable_wait - waited)
        self.backoff = min(self.backoff * 2, 30.0)
        note = f"The API cannot be reached ({error.message}); pausing the job for {delay:.1f} s"
        logger.warning("%s", note)
        if self.policy.on_pause is not None:
            self.policy.on_pause(note)
        self.open.clear()
        try:
            await self.clock.sleep(delay)
        finally:
            self.open.set()
        return True


def current_policy() -> BulkPolicy:
    """The policy set by the innermost :func:`bulk_policy` block, else ``BulkPolicy()``."""
    return _POLICY.get() or BulkPolicy()


E = TypeVar("E", bound=BaseException)


def cause(error: BaseException | None, kind: type[E]) -> E | None:
    """``error`` or the first exception in its ``__cause__`` chain that is a ``kind``."""
    while error is not None:
        if isinstance(error, kind):
            return error
        error = error.__cause__
    return None


def refused(error: APIError) -> APIConnectionError | None:
    """The connection failure behind ``error`` when the API could not be reached at all
    (refused, DNS), also when it stopped a look-up; ``None`` otherwise."""
    cause: BaseException | None = error
    while cause is not None:
        if (
            isinstance(cause, APIConnectionError)
            and not isinstance(cause, APITimeoutError)
            and cause.outcome is Outcome.NOT_SENT
        ):
            return cause
        cause = cause.__cause__
    return None
