"""The HTTP session both SDKs run on.

Building a request and decoding a response are pure (:class:`Request`, :class:`Dialect`); the
aiohttp call is a few lines in :meth:`HTTPSession._exchange`. Around it: the concurrency slot
(never held while sleeping between retries), the rate permit (taken inside the slot, right before
the request leaves), tenacity retries with server-hinted backoff, outcome classification for writes, the
client-wide retry budget, events and logging.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
import types
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import aiohttp
import attrs
import tenacity
from multidict import CIMultiDict

from ._clock import Clock, SystemClock
from ._concurrency import ConcurrencyLimiter
from ._errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    Outcome,
    RateLimitError,
    body_preview,
    error_class_for_status,
)
from ._events import Event, EventHook, EventKind
from ._ratelimit import LimiterWaitTooLong, LocalRateLimiter, RateLimiter, server_pause_hint
from ._retry import DeadlineStop, RequestKind, RetryBudget, RetryPolicy, ServerHintWait, is_paced, may_resend

__all__ = ["Auth", "Dialect", "HTTPSession", "Request", "Response", "StaticAuth"]

QueryValue = str | int | float | bool | Sequence[str | int]


@attrs.frozen(kw_only=True)
class Request:
    """One API call, before it is sent. Pure data.

    Attributes:
        method: HTTP method.
        path: Path below the client's base URL, starting with ``/``.
        operation: Short call name for logs, events and errors (``"tasks.create"``).
        kind: How safe the request is to send twice (decides what is retried).
        params: Query parameters; ``None`` values are dropped, booleans become
            ``"true"``/``"false"``, sequences repeat the key.
        json: JSON-ready body, or ``None`` for no body.
    """

    method: str
    path: str
    operation: str
    kind: RequestKind
    params: Mapping[str, QueryValue | None] | None = None
    json: Any = None

    def query(self) -> list[tuple[str, str]]:
        """The query string as ``(key, value)`` pairs, in order."""
        pairs: list[tuple[str, str]] = []
        for key, value in (self.params or {}).items():
            if value is None:
                continue
            values = value if isinstance(value, list | tuple) else [value]
            for item in values:
                if isinstance(item, bool):
                    pairs.append((key, "true" if item else "false"))
                else:
                    pairs.append((key, str(item)))
        return pairs


@attrs.frozen(kw_only=True)
class Response:
    """A successful (2xx) response.

    Attributes:
        status: HTTP status.
        headers: Response headers (case-insensitive).
        data: The decoded JSON body after the dialect's envelope unwrap; ``None`` when empty.
        attempts: Attempts it took, retries included.
        request: The request that produced it.
        url: The full request URL (no query string, no credentials).
    """

    status: int
    headers: Mapping[str, str]
    data: Any
    attempts: int
    request: Request
    url: str = ""


@attrs.frozen(kw_only=True)
class Dialect:
    """What differs between APIs, injected by each SDK (never subclassed).

    Attributes:
        name: Logger name and ``User-Agent`` product (``"lofty_async"``).
        version: SDK version for the ``User-Agent``.
        parse_error: ``(status, body_text) -> (vendor_code, message)``.
        error_class: ``(status, vendor_code) -> error class``; vendor codes may override the
            status (Lofty's ``20017`` is a permission error under a 400).
        unwrap: Turns a decoded success body into the payload (Superfone strips ``data``).
        content_type_always: Send ``Content-Type: application/json`` on every request, even
            without a body (Lofty's DELETE endpoints reject requests without it).
        max_server_pause: Longest plausible server pause, seconds: the API's rate-limit window
            (Lofty documents 60 s). ``Retry-After`` / ``X-RateLimit-Reset`` hints beyond it are
            capped to it, in errors' ``retry_after`` and in the shared cooldown.
    """

    name: str
    version: str
    parse_error: Callable[[int, str], tuple[int | str | None, str]]
    error_class: Callable[[int, int | str | None], type[APIStatusError]] = lambda status, _code: error_class_for_status(
        status
    )
    unwrap: Callable[[Any], Any] = lambda data: data
    content_type_always: bool = False
    max_server_pause: float = 60.0


class Auth(Protocol):
    """Supplies credentials; may refresh them once after a 401."""

    async def headers(self) -> Mapping[str, str]:
        """Headers that authenticate one request."""
        ...

    async def on_unauthorized(self, sent: Mapping[str, str]) -> bool:
        """Called after a 401 with the headers that were sent; return ``True`` to retry once
        (credentials were renewed, possibly by a concurrent caller)."""
        ...


class StaticAuth:
    """Fixed credentials (an API key or a long-lived token). Never refreshes.

    The header values are kept out of ``repr``.
    """

    def __init__(self, headers: Mapping[str, str]) -> None:
        self._headers = dict(headers)

    async def headers(self) -> Mapping[str, str]:
        return self._headers

    def identity(self) -> str:
        """A digest of the credentials (for sharing a rate limiter; never the secret itself)."""
        text = "\n".join(f"{k}:{v}" for k, v in sorted(self._headers.items()))
        return hashlib.sha256(text.encode()).hexdigest()

    async def on_unauthorized(self, sent: Mapping[str, str]) -> bool:
        return False

    def __repr__(self) -> str:
        return f"StaticAuth(headers={sorted(self._headers)!r})"


_NOT_SENT_STATUSES = frozenset({408, 429, 503})
_MAYBE_STATUSES_MIN = 500


def outcome_for_status(status: int) -> Outcome:
    """What a non-2xx status says about a write's effect."""
    if status in _NOT_SENT_STATUSES:
        return Outcome.NOT_SENT
    if status >= _MAYBE_STATUSES_MIN:
        return Outcome.MAYBE_PROCESSED
    return Outcome.PROCESSED


async def _on_headers_sent(
    _session: aiohttp.ClientSession,
    ctx: types.SimpleNamespace,
    _params: aiohttp.TraceRequestHeadersSentParams,
) -> None:
    request_ctx = ctx.trace_request_ctx
    if isinstance(request_ctx, dict):
        request_ctx["sent"] = True


class _RetryDecision(tenacity.retry_base):
    """Per call: whether to retry, counting failure retries apart from server-paced ones."""

    def __init__(self, session: HTTPSession, request: Request, policy: RetryPolicy) -> None:
        self.session = session
        self.request = request
        self.policy = policy
        self.retries = 0  # failure retries (5xx, connection, unhinted 429), not paced ones

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        outcome = retry_state.outcome
        if outcome is None or not outcome.failed:
            return False
        error = outcome.exception()
        if error is None:
            return False
        return self.session._should_retry(error, self.request, self.policy, retry_state)


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
        self._dialect = dialect
        self.retry = retry or RetryPolicy()
        self._timeout = timeout
        self._connect_timeout = min(connect_timeout, timeout)
        self._clock = clock or SystemClock()
        self.concurrency = concurrency or ConcurrencyLimiter(max_concurrency)
        self.limiter: RateLimiter = limiter or LocalRateLimiter(clock=self._clock)
        self.retry_budget = retry_budget or RetryBudget()
        self._hooks = tuple(hooks)
        self._rng = rng or random.Random()
        self._session = session
        self._owns_session = session is None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self.log = logging.getLogger(dialect.name)
        self._user_agent = f"{dialect.name}/{dialect.version} aiohttp/{aiohttp.__version__}"

    def __repr__(self) -> str:
        return f"HTTPSession(base_url={self.base_url!r}, auth={self._auth!r})"

    @property
    def clock(self) -> Clock:
        """The time source this session uses."""
        return self._clock

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
            trace = aiohttp.TraceConfig()
            trace.on_request_headers_sent.append(_on_headers_sent)
            connector = aiohttp.TCPConnector(limit=max(self.concurrency.limit, 100))
            self._session = aiohttp.ClientSession(connector=connector, trace_configs=[trace], raise_for_status=False)
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

    async def send(self, request: Request, *, retry: RetryPolicy | None = None) -> Response:
        """Send ``request`` with retries; return the 2xx response.

        Raises:
            APIStatusError: a non-2xx answer that was not (or no longer) retried.
            APIConnectionError: no response; ``outcome`` says whether a write may have landed.
            APIResponseValidationError: a 2xx whose body is not valid JSON.
            RateLimitError: throttled longer than ``retry.max_retry_after`` (``retry_at`` set).
        """
        policy = retry or self.retry
        http = self._http()
        started = self._clock.monotonic()
        self.retry_budget.record_attempt()
        retrying = tenacity.AsyncRetrying(
            sleep=self._clock.sleep,
            stop=DeadlineStop(policy, self._clock, started),
            wait=ServerHintWait(policy, self._rng),
            retry=_RetryDecision(self, request, policy),
            before_sleep=self._before_sleep(request),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    number = attempt.retry_state.attempt_number
                    response = await self._attempt(http, request, number, policy, started)
        except APIError as error:
            self._give_up(request, error)
            raise
        return response

    def _should_retry(
        self,
        error: BaseException,
        request: Request,
        policy: RetryPolicy,
        retry_state: tenacity.RetryCallState,
    ) -> bool:
        if not isinstance(error, APIError):
            return False  # CancelledError, programming errors: never retried
        if not may_resend(error, request.kind, policy.statuses):
            return False
        hint = error.retry_after
        if hint is not None and hint > policy.max_retry_after:
            if isinstance(error, RateLimitError):
                error.retry_at = self._clock.time() + hint
            error.note = (
                f"Not retried: the server asked for a {hint:.0f} s pause, longer than "
                f"max_retry_after={policy.max_retry_after:.0f} s."
            )
            return False
        if is_paced(error):
            # The server said when to come back: that is pacing, not a failure. It spends
            # neither the retry budget nor max_retries; the deadline (or pacing_timeout) ends it.
            return True
        decision = retry_state.retry_object.retry
        count = decision.retries if isinstance(decision, _RetryDecision) else retry_state.attempt_number - 1
        if count >= policy.max_retries:
            return False
        if not self.retry_budget.try_spend():
            error.note = "Not retried: the client's retry budget is spent (too many failures)."
            return False
        if isinstance(decision, _RetryDecision):
            decision.retries += 1
        return True

    def _before_sleep(self, request: Request) -> Callable[[tenacity.RetryCallState], None]:
        def before_sleep(retry_state: tenacity.RetryCallState) -> None:
            outcome = retry_state.outcome
            error = outcome.exception() if outcome is not None else None
            delay = retry_state.upcoming_sleep
            reason = _reason(error)
            self.log.warning(
                "%s %s failed (%s); retry %d in %.2f s",
                request.method,
                self.url_for(request),
                reason,
                retry_state.attempt_number,
                delay,
            )
            self.emit(
                Event(
                    kind=EventKind.RETRY,
                    operation=request.operation,
                    method=request.method,
                    url=self.url_for(request),
                    attempt=retry_state.attempt_number,
                    status=getattr(error, "status", None),
                    delay=delay,
                    reason=reason,
                    error=error,
                )
            )

        return before_sleep

    def _give_up(self, request: Request, error: APIError) -> None:
        self.log.info("%s %s gave up: %s", request.method, self.url_for(request), _reason(error))
        self.emit(
            Event(
                kind=EventKind.GIVE_UP,
                operation=request.operation,
                method=request.method,
                url=self.url_for(request),
                attempt=error.attempts,
                status=error.status,
                reason=_reason(error),
                error=error,
            )
        )

    async def _attempt(
        self,
        http: aiohttp.ClientSession,
        request: Request,
        number: int,
        policy: RetryPolicy,
        started: float,
    ) -> Response:
        url = self.url_for(request)
        common: dict[str, Any] = {
            "method": request.method,
            "url": url,
            "attempts": number,
            "operation": request.operation,
        }
        timeout = self._timeout
        if policy.deadline is not None:
            remaining = policy.deadline - (self._clock.monotonic() - started)
            if remaining <= 0:
                raise APITimeoutError(
                    "The call's deadline passed before the attempt", outcome=Outcome.NOT_SENT, **common
                )
            timeout = min(timeout, remaining)

        unauthorized_retry = True
        while True:
            credentials = await self._auth.headers()  # renewed here when due, outside any slot
            status, headers, raw = await self._exchange(
                http, request, url, number, timeout, common, credentials, policy
            )
            if status == 401 and unauthorized_retry and await self._auth.on_unauthorized(credentials):
                unauthorized_retry = False
                continue
            break

        if 200 <= status < 300:
            return Response(
                status=status,
                headers=headers,
                data=self._decode(raw, status, headers, common),
                attempts=number,
                request=request,
                url=url,
            )
        raise self._status_error(status, headers, raw, common)

    async def _exchange(
        self,
        http: aiohttp.ClientSession,
        request: Request,
        url: str,
        number: int,
        attempt_timeout: float,
        common: Mapping[str, Any],
        credentials: Mapping[str, str],
        policy: RetryPolicy,
    ) -> tuple[int, CIMultiDict[str], bytes]:
        """One HTTP exchange inside a concurrency slot; the body is read and released.

        The rate permit is taken inside the slot, right before the request leaves, so a caller
        queued for a slot holds no permit and pacing follows what the server said last.
        """
        body: bytes | None = None
        send_headers = {"User-Agent": self._user_agent, "Accept": "application/json", **credentials}
        if request.json is not None:
            body = json.dumps(request.json, ensure_ascii=False, separators=(",", ":")).encode()
        if request.json is not None or self._dialect.content_type_always:
            send_headers["Content-Type"] = "application/json"
        trace_ctx: dict[str, bool] = {}
        begin = self._clock.monotonic()
        async with self.concurrency.slot():
            await self._permit(request, url, number, policy, common)
            try:
                self.log.debug("%s %s attempt %d", request.method, url, number)
                self.emit(
                    Event(
                        kind=EventKind.REQUEST,
                        operation=request.operation,
                        method=request.method,
                        url=url,
                        attempt=number,
                    )
                )
                begin = self._clock.monotonic()
                async with http.request(
                    request.method,
                    url,
                    params=request.query(),
                    data=body,
                    headers=send_headers,
                    # No body, no Content-Type: aiohttp would add application/octet-stream.
                    skip_auto_headers=() if "Content-Type" in send_headers else ("Content-Type",),
                    timeout=aiohttp.ClientTimeout(total=attempt_timeout, connect=self._connect_timeout),
                    trace_request_ctx=trace_ctx,
                    allow_redirects=False,
                ) as resp:
                    raw = await resp.read()
                    status = resp.status
                    headers = CIMultiDict(resp.headers)
            except (aiohttp.ClientError, TimeoutError) as exc:
                self.limiter.observe(status=None, headers={}, latency=None)
                raise self._connection_error(exc, trace_ctx, common) from exc
            except BaseException:
                # Cancelled on the wire, or anything else after the permit was granted: settle
                # the limiter's count of outstanding requests (and probes) here.
                self.limiter.observe(status=None, headers={}, latency=None)
                raise
            latency = self._clock.monotonic() - begin
            pause = self.limiter.observe(status=status, headers=headers, latency=latency)
        self.log.debug("%s %s -> %d in %.3f s", request.method, url, status, latency)
        self.emit(
            Event(
                kind=EventKind.RESPONSE,
                operation=request.operation,
                method=request.method,
                url=url,
                attempt=number,
                status=status,
                elapsed=latency,
            )
        )
        if pause is not None:
            self.emit(
                Event(
                    kind=EventKind.RATE_LIMITED,
                    operation=request.operation,
                    method=request.method,
                    url=url,
                    attempt=number,
                    status=status,
                    delay=pause,
                    reason=f"status {status}: every request on this credential pauses",
                )
            )
        return status, headers, raw

    async def _permit(
        self, request: Request, url: str, number: int, policy: RetryPolicy, common: Mapping[str, Any]
    ) -> None:
        try:
            waited = await self.limiter.acquire(max_wait=policy.max_retry_after)
        except LimiterWaitTooLong as exc:
            raise RateLimitError(
                "The shared rate-limit cooldown lasts longer than max_retry_after",
                retry_at=exc.until,
                retry_after=exc.wait,
                status=None,
                outcome=Outcome.NOT_SENT,
                **common,
            ) from None
        if waited > 0:
            self.emit(
                Event(
                    kind=EventKind.RATE_LIMITED,
                    operation=request.operation,
                    method=request.method,
                    url=url,
                    attempt=number,
                    delay=waited,
                    reason="paced by the rate limiter",
                )
            )

    def _connection_error(
        self, exc: BaseException, trace_ctx: Mapping[str, bool], common: Mapping[str, Any]
    ) -> APIConnectionError:
        connect_failed = isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError)
        # With our own session the trace says whether the headers left; with a caller's
        # session we cannot know, so anything but a connect failure counts as sent.
        sent = trace_ctx.get("sent", not self._owns_session) and not connect_failed
        outcome = Outcome.MAYBE_PROCESSED if sent else Outcome.NOT_SENT
        name = type(exc).__name__
        if isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError):
            message = f"The request timed out ({name})"
            return APITimeoutError(message, outcome=outcome, **common)
        detail = str(exc) or name
        return APIConnectionError(f"Connection failed: {detail}", outcome=outcome, **common)

    def _decode(self, raw: bytes, status: int, headers: Mapping[str, str], common: Mapping[str, Any]) -> Any:
        if not raw.strip():
            return None
        try:
            data = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            text = raw.decode("utf-8", "replace")
            raise APIResponseValidationError(
                f"The response body is not valid JSON ({exc}): {body_preview(text)!r}",
                transient=True,
                status=status,
                body=text,
                headers=headers,
                outcome=Outcome.PROCESSED,
                **common,
            ) from None
        return self._dialect.unwrap(data)

    def _status_error(
        self, status: int, headers: Mapping[str, str], raw: bytes, common: Mapping[str, Any]
    ) -> APIStatusError:
        text = raw.decode("utf-8", "replace")
        code, message = self._dialect.parse_error(status, text)
        cls = self._dialect.error_class(status, code)
        hint = server_pause_hint(status, headers, self._clock.time(), self._dialect.max_server_pause)
        kwargs: dict[str, Any] = {
            "status": status,
            "code": code,
            "body": text,
            "headers": headers,
            "outcome": outcome_for_status(status),
            "retry_after": hint,
            **common,
        }
        if issubclass(cls, RateLimitError):
            retry_at = None if hint is None else self._clock.time() + hint
            return cls(message, retry_at=retry_at, **kwargs)
        return cls(message, **kwargs)


def _reason(error: BaseException | None) -> str:
    if error is None:
        return "unknown"
    if isinstance(error, APIError) and error.status is not None:
        return f"status {error.status}"
    cause = error.__cause__
    return type(cause).__name__ if cause is not None else type(error).__name__
