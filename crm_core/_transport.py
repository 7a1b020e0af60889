"""One attempt on the wire: concurrency slot, rate permit, the aiohttp exchange, and the
translation of what came back into a :class:`~crm_core.Response` or a typed error.

The fast path (a 2xx, no hooks) builds nothing beyond what raw aiohttp builds: the headers dict
and the body; the default ``ClientTimeout`` is built once; no trace signals, no events unless a
hook is registered, the response headers are kept as aiohttp's read-only proxy.
"""

from __future__ import annotations

import json
import logging
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
import attrs
from multidict import CIMultiDict, CIMultiDictProxy

from ._clock import Clock
from ._concurrency import ConcurrencyLimiter
from ._errors import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    Outcome,
    RateLimitError,
    body_preview,
)
from ._events import Event, EventHook, EventKind
from ._json import dumps_body, loads_body
from ._ratelimit import LimiterWaitTooLong, RateLimiter, server_pause_hint
from ._request import Dialect, Request, Response, outcome_for_status

__all__ = ["Transport"]

# aiohttp errors raised before any byte of the request left: the write surely did not happen.
_NOT_SENT_ERRORS: tuple[type[BaseException], ...] = (
    aiohttp.ClientConnectorError,
    aiohttp.ConnectionTimeoutError,
    aiohttp.InvalidURL,
)


_NO_CONTENT_TYPE = ("Content-Type",)
_NO_AUTO_CONTENT_TYPE = frozenset({"GET", "DELETE", "HEAD", "OPTIONS"})


class Transport:
    """Sends one attempt. Built and owned by :class:`~crm_core.HTTPSession`.

    Args:
        base_url: API root without a trailing slash.
        dialect: The API's conventions.
        concurrency: Slots: at most ``limit`` attempts on the wire.
        limiter: The rate limiter; its permit is taken inside the slot, right before sending.
        clock: Time source.
        timeout: Default per-attempt time limit, seconds.
        connect_timeout: Connection time limit, seconds.
        emit: Passes an :class:`Event` to the hooks.
        hooks: The hooks (events are only built when there is one).
        log: The SDK's logger.
    """

    def __init__(
        self,
        *,
        base_url: str,
        dialect: Dialect,
        concurrency: ConcurrencyLimiter,
        limiter: RateLimiter,
        clock: Clock,
        timeout: float,
        connect_timeout: float,
        emit: Callable[[Event], None],
        hooks: tuple[EventHook, ...],
        log: logging.Logger,
    ) -> None:
        self.base_url = base_url
        self.dialect = dialect
        self.concurrency = concurrency
        self.limiter = limiter
        # A permit taken without a coroutine when one is free (``LocalRateLimiter``); a limiter
        # without ``try_acquire`` (a caller's own) is always asked through ``acquire``.
        self._try_acquire: Callable[[], bool] | None = getattr(limiter, "try_acquire", None)
        self.clock = clock
        self.timeout = timeout
        self.connect_timeout = min(connect_timeout, timeout)
        self.default_timeout = aiohttp.ClientTimeout(total=timeout, connect=self.connect_timeout)
        self.emit = emit
        self.hooks = hooks
        self.log = log
        self.base_headers = {
            "User-Agent": f"{dialect.name}/{dialect.version} aiohttp/{aiohttp.__version__}",
            "Accept": "application/json",
        }
        self._credentials_seen: Mapping[str, str] | None = None
        self._built_headers: dict[str | None, CIMultiDictProxy[str]] = {}

    def _headers(self, credentials: Mapping[str, str], content_type: str | None) -> CIMultiDictProxy[str]:
        """The request's headers: the SDK's own, the credentials, and the Content-Type.

        Built once per credentials and content type, as the read-only multidict aiohttp takes
        without converting it (a refreshed token is new credentials: the old entries go).
        """
        if credentials is not self._credentials_seen and credentials != self._credentials_seen:
            self._credentials_seen = credentials
            self._built_headers.clear()
        built = self._built_headers.get(content_type)
        if built is None:
            merged = CIMultiDict({**self.base_headers, **credentials})
            if content_type is not None:
                merged["Content-Type"] = content_type
            built = self._built_headers[content_type] = CIMultiDictProxy(merged)
        return built

    def client_timeout(self, seconds: float | None) -> aiohttp.ClientTimeout:
        """The aiohttp timeout for an attempt of ``seconds`` (the prebuilt one by default)."""
        if seconds is None or seconds == self.timeout:
            return self.default_timeout
        return aiohttp.ClientTimeout(total=seconds, connect=min(self.connect_timeout, seconds))

    async def attempt(
        self,
        http: aiohttp.ClientSession,
        request: Request,
        number: int,
        credentials: Mapping[str, str],
        limit: aiohttp.ClientTimeout,
        max_wait: float,
    ) -> Response:
        """One attempt: slot, permit, exchange, decode.

        Raises:
            APIStatusError: a non-2xx status (``AuthenticationError`` for a 401: the session
                decides on a credential refresh).
            APIConnectionError: no response; ``outcome`` says whether the request left.
            APIResponseValidationError: a 2xx whose body is not valid JSON.
            RateLimitError: the shared cooldown outlasts ``max_wait`` (nothing sent).
        """
        url = self.base_url + request.path
        body: bytes | None = None
        if request.json is not None:
            body = dumps_body(request.json)
            content_type: str | None = "application/json"
        elif request.form is not None:
            body = urllib.parse.urlencode(request.form).encode()
            content_type = "application/x-www-form-urlencoded"
        else:
            content_type = "application/json" if self.dialect.content_type_always else None
        headers = self._headers(credentials, content_type)
        params = request.query() if request.params else None
        # No body, no Content-Type: aiohttp would otherwise add application/octet-stream to a
        # POST, PUT or PATCH (never to a GET, DELETE or HEAD: nothing to skip there).
        skip = None if content_type is not None or request.method in _NO_AUTO_CONTENT_TYPE else _NO_CONTENT_TYPE
        # The concurrency slot and the rate permit, each without a suspension when free (the
        # ``async with slot()`` and ``acquire()`` coroutines, inlined for the fast path).
        slots = self.concurrency
        if slots._in_flight < slots._limit and not slots._waiters:
            slots._in_flight += 1
        else:
            await slots._acquire()
        try:
            if self._try_acquire is None or not self._try_acquire():
                await self._permit(request, url, number, max_wait)
            begin = self.clock.monotonic()
            try:
                if self.hooks:
                    self.emit(self._event(EventKind.REQUEST, request, url, number))
                async with http.request(
                    request.method,
                    url,
                    params=params,
                    data=body,
                    headers=headers,
                    skip_auto_headers=skip,
                    timeout=limit,
                    allow_redirects=False,
                ) as resp:
                    raw = await resp.read()
                    status = resp.status
                    got: Mapping[str, str] = resp.headers
            except (aiohttp.ClientError, TimeoutError) as exc:
                self.limiter.observe(status=None, headers={}, latency=None)
                raise self._connection_error(exc, request, url, number) from exc
            except BaseException:
                # Cancelled on the wire, or anything else after the permit was granted: settle
                # the limiter's count of outstanding requests (and probes) here.
                self.limiter.observe(status=None, headers={}, latency=None)
                raise
            latency = self.clock.monotonic() - begin
            pause = self.limiter.observe(status=status, headers=got, latency=latency)
        finally:
            slots._release()
        if self.hooks:
            self._after(request, url, number, status, latency, pause)
        if 200 <= status < 300:
            data = self._decode(raw, status, got, request, url, number) if raw else None
            return Response(status=status, headers=got, data=data, attempts=number, request=request, url=url)
        raise self._status_error(status, got, raw, request, url, number, pause)

    async def _permit(self, request: Request, url: str, number: int, max_wait: float) -> None:
        try:
            waited = await self.limiter.acquire(max_wait=max_wait)
        except LimiterWaitTooLong as exc:
            raise RateLimitError(
                "The shared rate-limit cooldown lasts longer than max_retry_after",
                retry_at=exc.until,
                retry_after=exc.wait,
                status=None,
                outcome=Outcome.NOT_SENT,
                **_common(request, url, number),
            ) from None
        if waited > 0 and self.hooks:
            event = self._event(EventKind.RATE_LIMITED, request, url, number)
            self.emit(_with(event, delay=waited, reason="paced by the rate limiter"))

    def _after(self, request: Request, url: str, number: int, status: int, latency: float, pause: float | None) -> None:
        self.emit(_with(self._event(EventKind.RESPONSE, request, url, number), status=status, elapsed=latency))
        if pause is not None:
            reason = f"status {status}: every request on this credential pauses"
            event = self._event(EventKind.RATE_LIMITED, request, url, number)
            self.emit(_with(event, status=status, delay=pause, reason=reason))

    @staticmethod
    def _event(kind: EventKind, request: Request, url: str, number: int) -> Event:
        return Event(kind=kind, operation=request.operation, method=request.method, url=url, attempt=number)

    def _connection_error(self, exc: BaseException, request: Request, url: str, number: int) -> APIConnectionError:
        # Only a failure to connect proves nothing left; after that, the server may have
        # received the request (a reset or a timeout while reading), so a write may have landed.
        outcome = Outcome.NOT_SENT if isinstance(exc, _NOT_SENT_ERRORS) else Outcome.MAYBE_PROCESSED
        name = type(exc).__name__
        common = _common(request, url, number)
        if isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError):
            return APITimeoutError(f"The request timed out ({name})", outcome=outcome, **common)
        return APIConnectionError(f"Connection failed: {str(exc) or name}", outcome=outcome, **common)

    def _decode(
        self, raw: bytes, status: int, headers: Mapping[str, str], request: Request, url: str, number: int
    ) -> Any:
        try:
            data = loads_body(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            if not raw.strip():
                return None
            text = raw.decode("utf-8", "replace")
            raise APIResponseValidationError(
                f"The response body is not valid JSON ({exc}): {body_preview(text)!r}",
                transient=True,
                status=status,
                body=text,
                headers=headers,
                outcome=Outcome.PROCESSED,
                **_common(request, url, number),
            ) from None
        return self.dialect.unwrap(data)

    def _status_error(
        self,
        status: int,
        headers: Mapping[str, str],
        raw: bytes,
        request: Request,
        url: str,
        number: int,
        pause: float | None = None,
    ) -> APIStatusError:
        text = raw.decode("utf-8", "replace")
        code, message = self.dialect.parse_error(status, text)
        cls = self.dialect.error_class(status, code)
        hint = server_pause_hint(status, headers, self.clock.time(), self.dialect.max_server_pause)
        if hint is not None and pause is not None and pause < hint:
            hint = pause  # the limiter capped an implausible hint (at the window it has seen)
        kwargs: dict[str, Any] = {
            "status": status,
            "code": code,
            "body": text,
            "headers": headers,
            "outcome": outcome_for_status(status),
            "retry_after": hint,
            **_common(request, url, number),
        }
        if issubclass(cls, RateLimitError):
            retry_at = None if hint is None else self.clock.time() + hint
            return cls(message, retry_at=retry_at, **kwargs)
        return cls(message, **kwargs)


def _common(request: Request, url: str, number: int) -> dict[str, Any]:
    return {"method": request.method, "url": url, "attempts": number, "operation": request.operation}


def _with(event: Event, **changes: Any) -> Event:
    return attrs.evolve(event, **changes)
