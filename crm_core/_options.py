"""Per-client-view options and raw responses, shared by both SDK clients.

* :class:`Transport`: what a resource needs to send requests (an :class:`HTTPSession` is one).
* :class:`SessionView`: a :class:`Transport` over one :class:`HTTPSession` with its own
  :class:`RequestOptions` (timeout, retry policy, a tighter concurrency cap). Views share the
  session's aiohttp connection pool, rate limiter, concurrency limiter and retry budget: a view
  changes how calls are made, never what they share. ``client.with_options(...)`` builds one.
* :class:`RawResponse` and :func:`raw_response_wrapper`: the status, headers and parsed value
  of a call, from the same request (modelled on openai-python's ``.with_raw_response``).
"""

from __future__ import annotations

import asyncio
import contextvars
import copy
import functools
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, Protocol, Self, TypeVar

import attrs

from ._clock import Clock
from ._events import Event
from ._retry import RetryPolicy
from ._retry_loop import Settle
from ._session import HTTPSession, Request, Response

__all__ = ["ClientViews", "RawResponse", "RequestOptions", "SessionView", "Transport", "raw_response_wrapper"]

if TYPE_CHECKING:
    from ._client import ClientCore

T = TypeVar("T")
R = TypeVar("R")
P = ParamSpec("P")

_CAPTURE: contextvars.ContextVar[list[Response] | None] = contextvars.ContextVar("crm_core_capture", default=None)


class Transport(Protocol):
    """What a resource sends its requests through: an :class:`HTTPSession` or a :class:`SessionView`."""

    @property
    def base_url(self) -> str:
        """API root."""
        ...

    @property
    def clock(self) -> Clock:
        """Time source."""
        ...

    @property
    def timeout(self) -> float:
        """Default per-attempt time limit, seconds."""
        ...

    def url_for(self, request: Request) -> str:
        """Full URL of ``request`` (no query string)."""
        ...

    @property
    def has_hooks(self) -> bool:
        """Whether any event hook listens (events are built only then)."""
        ...

    def emit(self, event: Event) -> None:
        """Pass ``event`` to the hooks."""
        ...

    async def send(
        self,
        request: Request,
        *,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - a per-attempt limit for aiohttp
    ) -> Response:
        """Send with retries; return the 2xx response."""
        ...

    async def run(
        self,
        request: Request,
        decode: Callable[[Response], T],
        *,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - a per-attempt limit for aiohttp
        settle: Settle | None = None,
    ) -> T:
        """Send and ``decode`` the 2xx inside the one retry loop (see :meth:`HTTPSession.run`)."""
        ...


@attrs.frozen(kw_only=True)
class RequestOptions:
    """Settings a client view overrides; ``None`` keeps the client's own.

    Attributes:
        timeout: Per-attempt time limit, seconds (> 0).
        retry: Retry policy for the view's calls (e.g. ``RetryPolicy(max_retries=0)``).
        max_concurrency: The most calls of this view in flight at once (>= 1). The client's
            own ``max_concurrency`` still applies to all its views together: a view can only
            be tighter, never looser. Views made from one another share their cap only when
            this is not changed.
    """

    timeout: float | None = None
    retry: RetryPolicy | None = None
    max_concurrency: int | None = None

    def __attrs_post_init__(self) -> None:
        if self.timeout is not None and (isinstance(self.timeout, bool) or not self.timeout > 0):
            raise ValueError(f"timeout={self.timeout!r} is not valid: expected seconds > 0")
        if self.max_concurrency is not None and (
            isinstance(self.max_concurrency, bool)
            or not isinstance(self.max_concurrency, int)
            or self.max_concurrency < 1
        ):
            raise ValueError(f"max_concurrency={self.max_concurrency!r} is not valid: expected an integer >= 1")

    def merged(self, other: RequestOptions) -> RequestOptions:
        """These options with every setting ``other`` gives replaced."""
        return RequestOptions(
            timeout=self.timeout if other.timeout is None else other.timeout,
            retry=self.retry if other.retry is None else other.retry,
            max_concurrency=self.max_concurrency if other.max_concurrency is None else other.max_concurrency,
        )


class SessionView:
    """A :class:`Transport` sending through ``session`` with ``options``.

    Args:
        session: The client's session (shared, never closed by a view).
        options: Overrides for this view's calls.
        gate: The view's own concurrency cap (built from ``options.max_concurrency`` when
            not given).
    """

    def __init__(
        self,
        session: HTTPSession,
        options: RequestOptions | None = None,
        *,
        gate: asyncio.Semaphore | None = None,
    ) -> None:
        self.session = session
        self.options = options or RequestOptions()
        if gate is None and self.options.max_concurrency is not None:
            gate = asyncio.Semaphore(self.options.max_concurrency)
        self._gate = gate

    def __repr__(self) -> str:
        return f"SessionView({self.session!r}, {self.options!r})"

    @property
    def base_url(self) -> str:
        """API root."""
        return self.session.base_url

    @property
    def clock(self) -> Clock:
        """The session's time source."""
        return self.session.clock

    @property
    def timeout(self) -> float:
        """This view's per-attempt time limit, seconds."""
        return self.options.timeout if self.options.timeout is not None else self.session.timeout

    def url_for(self, request: Request) -> str:
        """Full URL of ``request`` (no query string)."""
        return self.session.url_for(request)

    @property
    def has_hooks(self) -> bool:
        """Whether the session has event hooks."""
        return self.session.has_hooks

    def emit(self, event: Event) -> None:
        """Pass ``event`` to the session's hooks."""
        self.session.emit(event)

    def with_options(self, options: RequestOptions) -> SessionView:
        """A view of the same session with ``options`` laid over this view's."""
        merged = self.options.merged(options)
        same_cap = options.max_concurrency is None
        return SessionView(self.session, merged, gate=self._gate if same_cap else None)

    def send(
        self,
        request: Request,
        *,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
    ) -> Coroutine[Any, Any, Response]:
        """Send ``request`` through the session with this view's options (await the result).

        ``retry`` and ``timeout`` (a call's own) win over the view's. The response is recorded
        for :attr:`~lofty_async.LoftyClient.with_raw_response` callers.

        Raises:
            APIError: as :meth:`HTTPSession.send`.
        """
        # :meth:`run` with ``decode=_identity``, inlined, and the session's coroutine handed
        # back as it is: no coroutine of this view's own per call.
        captured = _CAPTURE.get()
        decode = _identity if captured is None else _recording(_identity, captured)
        policy = retry or self.options.retry
        limit = timeout if timeout is not None else self.options.timeout
        if self._gate is None:
            return self.session.run(request, decode, retry=policy, timeout=limit)
        return self._gated(self.session.run(request, decode, retry=policy, timeout=limit))

    async def _gated(self, call: Coroutine[Any, Any, T]) -> T:
        assert self._gate is not None
        try:
            async with self._gate:
                return await call
        finally:
            call.close()  # never started when the wait for the gate was cancelled

    def run(
        self,
        request: Request,
        decode: Callable[[Response], T],
        *,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
        settle: Settle | None = None,
    ) -> Coroutine[Any, Any, T]:
        """:meth:`HTTPSession.run` with this view's options; every decoded 2xx is recorded for
        raw-response callers. Returns the session's coroutine (no coroutine of its own): await it.

        Raises:
            APIError: as :meth:`HTTPSession.run`, or whatever ``settle`` raises.
        """
        captured = _CAPTURE.get()
        if captured is not None:
            decode = _recording(decode, captured)
        policy = retry or self.options.retry
        limit = timeout if timeout is not None else self.options.timeout
        call = self.session.run(request, decode, retry=policy, timeout=limit, settle=settle)
        return call if self._gate is None else self._gated(call)


def _identity(response: Response) -> Response:
    return response


def _recording(decode: Callable[[Response], T], captured: list[Response]) -> Callable[[Response], T]:
    def recorded(response: Response) -> T:
        captured.append(response)
        return decode(response)

    return recorded


@attrs.frozen(kw_only=True)
class RawResponse(Generic[T]):
    """A call's parsed value with the HTTP response it came from (no second request).

    Attributes:
        parsed: What the call returns normally (a model, an ID, a message).
        http_response: The last 2xx response of the call. For a create that was reconciled,
            that is the look-up's response; every one is in ``responses``.
        responses: Every 2xx response of the call, in order.
    """

    parsed: T
    http_response: Response
    responses: tuple[Response, ...]

    @property
    def status(self) -> int:
        """HTTP status of :attr:`http_response`."""
        return self.http_response.status

    @property
    def headers(self) -> Mapping[str, str]:
        """Headers of :attr:`http_response` (case-insensitive), e.g. ``X-RateLimit-Remaining``."""
        return self.http_response.headers


def raw_response_wrapper(method: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[RawResponse[R]]]:
    """``method`` (a resource's coroutine method), returning a :class:`RawResponse` instead.

    The wrapped call sends exactly what ``method`` sends; the 2xx responses its requests got
    through a :class:`SessionView` are collected (per call, safe under ``asyncio.gather``) and
    returned with the parsed value. Typed: ``raw_response_wrapper(tasks.get)`` takes
    ``tasks.get``'s arguments and returns ``Awaitable[RawResponse[Task]]``.

    Raises:
        RuntimeError: the call sent nothing through a view (a programming error).
        APIError: as ``method`` (an :class:`~crm_core.APIStatusError` carries ``status`` and
            ``headers`` itself).
    """

    @functools.wraps(method)
    async def call(*args: P.args, **kwargs: P.kwargs) -> RawResponse[R]:
        captured: list[Response] = []
        token = _CAPTURE.set(captured)
        try:
            parsed = await method(*args, **kwargs)
        finally:
            _CAPTURE.reset(token)
        if not captured:
            raise RuntimeError(f"{method.__qualname__} sent no request through a client view")
        return RawResponse(parsed=parsed, http_response=captured[-1], responses=tuple(captured))

    return call


class ClientViews:
    """What both SDK clients share: views with other options, and closing.

    A client sets ``_core`` (its :class:`~crm_core._client.ClientCore`), ``_view`` (a
    :class:`SessionView` of the core's session), ``_is_view`` and implements ``_bind(session)``,
    which (re)builds its resources over a session or view.
    """

    _core: ClientCore
    _view: SessionView
    _is_view: bool

    def _bind(self, session: Transport) -> None:
        raise NotImplementedError

    def with_options(
        self,
        *,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        max_concurrency: int | None = None,
    ) -> Self:
        """A view of this client with other settings, for one call or one part of an app.

        The view shares everything that must be shared: the aiohttp session and its
        connections, the rate limiter, the client's concurrency limit, the retry budget, the
        create ledger and the converter. Only how its own calls are made changes. Closing a
        view does nothing; close the original client.

        Example::

            fast = client.with_options(timeout=5, retry=RetryPolicy(max_retries=0))
            await client.with_options(max_concurrency=2).tasks.create_many(rows)

        Args:
            timeout: Per-attempt time limit for the view's calls, seconds (> 0).
            retry: Retry policy for the view's calls.
            max_concurrency: The most calls of this view in flight at once (>= 1); the
                client's own ``max_concurrency`` still caps all views together.

        Returns:
            A view of the same class; options not given keep this client's (or view's).

        Raises:
            ValueError: a ``timeout`` <= 0 or a ``max_concurrency`` < 1.
        """
        options = RequestOptions(timeout=timeout, retry=retry, max_concurrency=max_concurrency)
        view = copy.copy(self)
        view._view = self._view.with_options(options)
        view._is_view = True
        view._bind(view._view)
        return view

    async def aclose(self) -> None:
        """Close the HTTP session if the client created it (a ``with_options`` view: no-op)."""
        if not self._is_view:
            await self._core.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
