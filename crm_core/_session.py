"""The HTTP session both SDKs run on: one retry loop around one transport.

Building a request and decoding a response are pure (:mod:`crm_core._request`); one attempt on
the wire (slot, rate permit, aiohttp exchange) is :class:`~crm_core._transport.Transport`. This
module holds the loop around it:

* the first attempt runs on its own; a call that succeeds builds no retry machinery;
* on the first failure a tenacity ``AsyncRetrying`` takes over, seeded with that failure as
  attempt 1. It is the one retry loop: backoff and server hints (:class:`ServerHintWait`), one
  stop (:class:`DeadlineStop`), and one decision (:class:`~crm_core._retry_loop.RetryDecision`) covering transient
  failures (client-wide :class:`RetryBudget`, ``max_retries``), server pacing (429 with a hint:
  neither), the once-per-call credential refresh after a 401, and, for creates, the
  reconciliation step that looks an ambiguous write up before it is sent again.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

import aiohttp
import tenacity

from ._clock import Clock, SystemClock
from ._concurrency import ConcurrencyLimiter
from ._errors import (
    APIError,
    APITimeoutError,
    Outcome,
)
from ._events import Event, EventHook
from ._ratelimit import LocalRateLimiter, RateLimiter
from ._request import Auth, Dialect, Request, Response, StaticAuth, outcome_for_status
from ._retry import DeadlineStop, RetryBudget, RetryPolicy, ServerHintWait
from ._retry_loop import CallState, RetryDecision, RetryReporter, Settle, mark_final
from ._transport import Transport

__all__ = ["Auth", "Dialect", "HTTPSession", "Request", "Response", "StaticAuth", "outcome_for_status"]

T = TypeVar("T")


class HTTPSession:
    """One client's connection to one API: transport, limits, retries.

    Args:
        base_url: API root, e.g. ``"https://api.lofty.com"`` (no trailing slash needed).
        auth: Credential provider.
        dialect: The API's error, envelope and header conventions.
        retry: Default retry policy (a call may pass its own).
        timeout: Per-attempt time limit, seconds (connect + send + read).
        connect_timeout: Time limit to open a connection, seconds.
        max_concurrency: Requests in flight at once (ignored if ``concurrency`` is given).
        concurrency: A concurrency limiter to use (share one between clients to share the cap).
        limiter: A rate limiter (share one between clients of one credential to share the
            server's budget and cooldowns); default: a :class:`LocalRateLimiter` with no
            client-side bucket that follows the server's headers and 429s.
        retry_budget: Client-wide retry budget (default 20 % of traffic, reserve of 10).
        session: An ``aiohttp.ClientSession`` owned by the caller; it is used as is and never
            closed by us. Default: one is created inside the running loop and closed by
            :meth:`aclose`.
        hooks: Callables receiving every :class:`~crm_core.Event`.
        clock: Time source; inject a :class:`~crm_core.FakeClock` in tests.
        rng: Random source for jitter (seed it for reproducible delays).
    """

    def __init__(
        self,
        *,
        base_url: str,
        auth: Auth,
        dialect: Dialect,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
        max_concurrency: int = 10,
        concurrency: ConcurrencyLimiter | None = None,
        limiter: RateLimiter | None = None,
        retry_budget: RetryBudget | None = None,
        session: aiohttp.ClientSession | None = None,
        hooks: Sequence[EventHook] = (),
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if timeout <= 0:
            raise ValueError(f"timeout={timeout!r} is not valid: expected seconds > 0")
        self.base_url = base_url.rstrip("/")
        self._auth = auth
        # Fixed credentials are read without a coroutine on every first attempt.
        self._fixed_credentials = auth.fixed_headers() if isinstance(auth, StaticAuth) else None
        self._dialect = dialect
        self.retry = retry or RetryPolicy()
        self._clock = clock or SystemClock()
        self.concurrency = concurrency or ConcurrencyLimiter(max_concurrency)
        self.limiter: RateLimiter = limiter or LocalRateLimiter(clock=self._clock, max_pause=dialect.max_server_pause)
        self.retry_budget = retry_budget or RetryBudget()
        self._hooks = tuple(hooks)
        self._rng = rng or random.Random()
        self._session = session
        self._owns_session = session is None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self.log = logging.getLogger(dialect.name)
        self.transport = Transport(
            base_url=self.base_url,
            dialect=dialect,
            concurrency=self.concurrency,
            limiter=self.limiter,
            clock=self._clock,
            timeout=timeout,
            connect_timeout=connect_timeout,
            emit=self.emit,
            hooks=self._hooks,
            log=self.log,
        )
        self._report = RetryReporter(log=self.log, emit=self.emit, hooks=bool(self._hooks), base_url=self.base_url)

    def __repr__(self) -> str:
        return f"HTTPSession(base_url={self.base_url!r}, auth={self._auth!r})"

    @property
    def clock(self) -> Clock:
        """The time source this session uses."""
        return self._clock

    @property
    def has_hooks(self) -> bool:
        """Whether any event hook is registered (events are only built when one is)."""
        return bool(self._hooks)

    @property
    def timeout(self) -> float:
        """The default per-attempt time limit, seconds."""
        return self.transport.timeout

    # -- lifecycle ----------------------------------------------------------------------

    def _http(self) -> aiohttp.ClientSession:
        if self._closed:
            raise RuntimeError("This client is closed; create a new one.")
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif self._loop is not loop:
            raise RuntimeError(
                "This client was first used in another event loop; a client (and its "
                "aiohttp session) belongs to one loop. Create one client per loop."
            )
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=max(self.concurrency.limit, 100))
            self._session = aiohttp.ClientSession(connector=connector, raise_for_status=False)
        return self._session

    async def aclose(self) -> None:
        """Close the aiohttp session if this object created it. Safe to call twice."""
        self._closed = True
        if self._owns_session and self._session is not None and not self._session.closed:
            await self._session.close()

    # -- events -------------------------------------------------------------------------

    def emit(self, event: Event) -> None:
        """Pass ``event`` to every hook; a failing hook is logged and skipped."""
        for hook in self._hooks:
            try:
                hook(event)
            except Exception:  # a metrics bug must not break the call
                self.log.exception("event hook %r failed on %s", hook, event.kind.value)

    # -- sending ------------------------------------------------------------------------

    def url_for(self, request: Request) -> str:
        """The full URL of ``request`` (without the query string)."""
        return self.base_url + request.path

    def send(
        self,
        request: Request,
        *,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
    ) -> Coroutine[Any, Any, Response]:
        """Send ``request`` with retries; return (a coroutine of) the 2xx response.

        Args:
            request: What to send.
            retry: This call's retry policy (default: the session's).
            timeout: This call's per-attempt time limit, seconds (default: the session's).

        Raises:
            APIStatusError: a non-2xx answer that was not (or no longer) retried.
            APIConnectionError: no response; ``outcome`` says whether a write may have landed.
            APIResponseValidationError: a 2xx whose body is not valid JSON.
            RateLimitError: throttled longer than ``retry.max_retry_after`` (``retry_at`` set).
        """
        return self.run(request, _identity, retry=retry, timeout=timeout)

    async def run(
        self,
        request: Request,
        decode: Callable[[Response], T],
        *,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - a per-attempt limit for aiohttp
        settle: Settle | None = None,
    ) -> T:
        """Send ``request`` and ``decode`` its 2xx in the one retry loop.

        ``decode`` runs inside the attempt, so a 2xx whose body is unusable
        (``APIResponseValidationError``) is handled like any other failure of the attempt.
        With ``settle`` (creates), an ambiguous failure is retried, and the retry first calls
        ``settle(error)``: a result ends the call, ``None`` re-sends (with the loop's backoff,
        events and stop), an exception ends the call with it.

        Raises:
            APIError: as :meth:`send`, or whatever ``settle`` raises.
        """
        policy = retry or self.retry
        http = self._http()
        started = self._clock.monotonic()
        self.retry_budget.record_attempt()
        if policy.deadline is not None:
            call = CallState(request, policy, started, settle)
            try:
                return await self._attempt(http, call, 1, decode, timeout)
            except APIError as error:
                first = error
        else:
            # The first attempt without a deadline: :meth:`_attempt` inlined (nothing pending,
            # no deadline to check); the call's retry state is built only if it fails.
            credentials = self._fixed_credentials
            try:
                if credentials is None:
                    try:
                        credentials = await self._auth.headers()
                    except APIError as error:
                        mark_final(error)  # the token request was retried in its own loop: not again here
                        raise
                response = await self.transport.attempt(
                    http, request, 1, credentials, self.transport.client_timeout(timeout), policy.max_retry_after
                )
                return decode(response)
            except APIError as error:
                first = error
            call = CallState(request, policy, started, settle)
            if credentials is not None:
                call.credentials = credentials
        if not await self._decision(call).decide(first):
            self._report.give_up(request, first)
            raise first
        return await self._retry_loop(http, call, first, decode, timeout)

    async def _retry_loop(
        self,
        http: aiohttp.ClientSession,
        call: CallState,
        first: APIError,
        decode: Callable[[Response], T],
        attempt_timeout: float | None,
    ) -> T:
        retrying = tenacity.AsyncRetrying(
            sleep=self._clock.sleep,
            stop=DeadlineStop(call.policy, self._clock, call.started),
            wait=ServerHintWait(call.policy, self._rng),
            retry=self._decision(call, decided=first),
            before_sleep=functools.partial(self._report.before_sleep, call.request),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    number = attempt.retry_state.attempt_number
                    if number == 1:
                        raise first  # already tried outside the loop; let tenacity decide on it
                    result = await self._attempt(http, call, number, decode, attempt_timeout)
        except APIError as error:
            self._report.give_up(call.request, error)
            raise
        return result

    def _decision(self, call: CallState, decided: APIError | None = None) -> RetryDecision:
        return RetryDecision(auth=self._auth, budget=self.retry_budget, clock=self._clock, call=call, decided=decided)

    async def _attempt(
        self,
        http: aiohttp.ClientSession,
        call: CallState,
        number: int,
        decode: Callable[[Response], T],
        attempt_timeout: float | None,
    ) -> T:
        if call.pending is not None and call.settle is not None:
            pending, call.pending = call.pending, None
            found = await call.settle(pending)
            if found is not None:
                return found  # type: ignore[no-any-return]
        limit = self.transport.client_timeout(attempt_timeout)
        if call.policy.deadline is not None:
            remaining = call.policy.deadline - (self._clock.monotonic() - call.started)
            if remaining <= 0:
                raise APITimeoutError(
                    "The call's deadline passed before the attempt",
                    outcome=Outcome.NOT_SENT,
                    method=call.request.method,
                    url=self.url_for(call.request),
                    attempts=number,
                    operation=call.request.operation,
                )
            if limit.total is None or remaining < limit.total:
                limit = self.transport.client_timeout(remaining)
        try:
            call.credentials = await self._auth.headers()  # renewed here when due, outside any slot
        except APIError as error:
            mark_final(error)  # the token request was retried in its own loop: not again here
            raise
        response = await self.transport.attempt(
            http, call.request, number, call.credentials, limit, call.policy.max_retry_after
        )
        return decode(response)


def _identity(response: Response) -> Response:
    return response
