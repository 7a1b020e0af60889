"""What both API emulators share: faults, rate limits, a request log, and servers.

An emulator is an ``aiohttp.web`` application whose handlers keep in-memory state. This module
supplies the parts that are the same for every API:

* :class:`FaultPlan`: seeded, deterministic fault injection per route: 429 (``Retry-After`` in
  seconds, as an HTTP-date, or absent), 500/502/503/504 with HTML bodies, a connection reset
  before or after the request is processed, a response slower than the client's timeout,
  malformed JSON and truncated bodies;
* :class:`FixedWindowRateLimit`: per-credential fixed windows with ``X-RateLimit-*`` headers;
* :class:`EmulatorCore`: the middleware that applies both around the API's handlers, turns
  :class:`EmulatorError` into the API's error body, and logs every request;
* :func:`serve` (in the running loop) and :class:`ThreadedServer` (in a background thread, for
  synchronous pytest fixtures and the command line).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import enum
import fnmatch
import json
import math
import os
import random
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import attrs
from aiohttp import web

__all__ = [
    "EmulatorCore",
    "EmulatorError",
    "FaultKind",
    "FaultPlan",
    "FaultRule",
    "FixedWindowRateLimit",
    "LoggedRequest",
    "StateLog",
    "ThreadedServer",
    "serve",
]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class FaultKind(enum.Enum):
    """A scripted failure.

    Attributes:
        THROTTLE: 429 with ``Retry-After`` in delta-seconds (not processed).
        THROTTLE_DATE: 429 with ``Retry-After`` as an HTTP-date (not processed).
        THROTTLE_BARE: 429 with no ``Retry-After`` (not processed).
        ERROR_500: 500 with an HTML body (not processed).
        ERROR_502: 502 with an HTML body (not processed).
        ERROR_503: 503 with an HTML body and ``Retry-After: 1`` (not processed).
        ERROR_504: 504 with an HTML body (processed: the gateway gave up waiting).
        RESET_BEFORE: The connection is dropped before the request is processed.
        RESET_AFTER: The request is processed, then the connection is dropped: the write
            happened and the response is lost.
        SLOW: The request is processed, then the response waits ``slow_seconds``.
        MALFORMED: The request is processed, then a 200 with invalid JSON is sent.
        TRUNCATED: The request is processed, then a 200 body is cut short.
    """

    THROTTLE = "429"
    THROTTLE_DATE = "429-date"
    THROTTLE_BARE = "429-bare"
    ERROR_500 = "500"
    ERROR_502 = "502"
    ERROR_503 = "503"
    ERROR_504 = "504"
    RESET_BEFORE = "reset-before"
    RESET_AFTER = "reset-after"
    SLOW = "slow"
    MALFORMED = "malformed"
    TRUNCATED = "truncated"

    @property
    def processes(self) -> bool:
        """Whether the request is processed (the write happens) under this fault."""
        return self in _AFTER_KINDS


_AFTER_KINDS = frozenset(
    {
        FaultKind.ERROR_504,
        FaultKind.RESET_AFTER,
        FaultKind.SLOW,
        FaultKind.MALFORMED,
        FaultKind.TRUNCATED,
    }
)


@attrs.define(kw_only=True)
class FaultRule:
    """One fault and where it strikes.

    Attributes:
        kind: The fault.
        probability: Chance (0..1) that a matching request gets it.
        route: ``"METHOD /path-glob"`` (``"POST /v2.0/tasks"``, ``"* /v2.0/tasks*"``); ``None``
            for every route.
        times: When set, the next ``times`` matching requests get the fault for certain
            (scripted), and the rule is spent afterwards.
    """

    kind: FaultKind
    probability: float = 0.0
    route: str | None = None
    times: int | None = None

    def matches(self, method: str, path: str) -> bool:
        """Whether this rule applies to a request."""
        if self.route is None:
            return True
        want_method, _, pattern = self.route.partition(" ")
        if want_method not in ("*", method.upper()):
            return False
        return fnmatch.fnmatchcase(path, pattern or "*")


@attrs.define(kw_only=True)
class FaultPlan:
    """A seeded schedule of faults.

    Each request draws one number from the plan's own ``random.Random(seed)``, so a given order
    of requests always meets the same faults. Scripted rules (``times``) fire first.

    Attributes:
        rules: The rules, checked in order.
        seed: Seed of the plan's random source.
        slow_seconds: How long a ``SLOW`` response waits, seconds.
        retry_after: Seconds advertised by throttle and 503 faults.
        injected: Count of faults injected so far, by kind.
    """

    rules: list[FaultRule] = attrs.field(factory=list)
    seed: int = 0
    slow_seconds: float = 5.0
    retry_after: float = 1.0
    injected: dict[FaultKind, int] = attrs.field(factory=dict)
    _rng: random.Random = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def add(
        self, kind: FaultKind | str, *, probability: float = 0.0, route: str | None = None, times: int | None = None
    ) -> FaultPlan:
        """Append a rule; returns ``self`` for chaining."""
        self.rules.append(FaultRule(kind=FaultKind(kind), probability=probability, route=route, times=times))
        return self

    def draw(self, method: str, path: str) -> FaultKind | None:
        """The fault for this request, or ``None``."""
        for rule in self.rules:
            if rule.times is not None and rule.times > 0 and rule.matches(method, path):
                rule.times -= 1
                return self._count(rule.kind)
        roll = self._rng.random()
        for rule in self.rules:
            if rule.times is not None or not rule.matches(method, path):
                continue
            if roll < rule.probability:
                return self._count(rule.kind)
            roll -= rule.probability
        return None

    def _count(self, kind: FaultKind) -> FaultKind:
        self.injected[kind] = self.injected.get(kind, 0) + 1
        return kind

    @classmethod
    def parse(cls, spec: str) -> FaultPlan:
        """Build a plan from a command-line spec.

        Comma-separated items:

        * ``KIND=P`` or ``KIND=P@METHOD /path-glob``: the fault with probability ``P`` (0..1,
          or a percentage such as ``5%``), e.g. ``reset-after=0.03@POST /v2.0/tasks``;
        * ``all=P``: probability ``P`` in total, spread evenly over every kind;
        * a bare ``P`` (``10%``) means ``all=P``;
        * ``seed=N``, ``slow=SECONDS``, ``retry-after=SECONDS``.

        Raises:
            ValueError: an unknown kind or key, or a probability outside 0..1.
        """
        plan = cls()
        kinds = [k.value for k in FaultKind]
        for raw in filter(None, (part.strip() for part in spec.split(","))):
            name, sep, value = raw.partition("=")
            if not sep:
                name, value = "all", raw
            name = name.strip().lower()
            value, _, route = value.partition("@")
            value = value.strip()
            if name == "seed":
                plan.seed = int(value)
                continue
            if name == "slow":
                plan.slow_seconds = float(value)
                continue
            if name == "retry-after":
                plan.retry_after = float(value)
                continue
            probability = float(value[:-1]) / 100 if value.endswith("%") else float(value)
            if not 0.0 <= probability <= 1.0:
                raise ValueError(f"fault probability {value!r} is not valid: expected 0..1 or 0%..100%")
            if name == "all":
                for kind in FaultKind:
                    plan.add(kind, probability=probability / len(FaultKind), route=route.strip() or None)
            elif name in kinds:
                plan.add(name, probability=probability, route=route.strip() or None)
            else:
                raise ValueError(
                    f"fault {name!r} is not valid: expected one of all, seed, slow, retry-after, " + ", ".join(kinds)
                )
        if sum(rule.probability for rule in plan.rules) > 1.0 + 1e-9:
            raise ValueError(f"fault probabilities in {spec!r} add up to more than 1")
        plan._rng = random.Random(plan.seed)
        return plan


@attrs.define(kw_only=True)
class FixedWindowRateLimit:
    """Fixed windows per credential, aligned to multiples of ``window`` since the epoch.

    Attributes:
        limit: Requests allowed per window per credential.
        window: Window length, seconds.
        headers: Send ``X-RateLimit-Limit``/``-Remaining``/``-Reset`` (reset as UTC epoch seconds)
            on every response.
        retry_after: Add a ``Retry-After`` header (seconds to the window's end) on 429.
        enabled: Switch the limit on or off at run time.
        clock: Wall-clock source, UTC epoch seconds.
    """

    limit: int = 100
    window: float = 60.0
    headers: bool = True
    retry_after: bool = False
    enabled: bool = True
    clock: Callable[[], float] = time.time
    _counts: dict[tuple[str, float], int] = attrs.field(factory=dict)

    def check(self, credential: str) -> tuple[bool, dict[str, str]]:
        """Count one request; return ``(allowed, headers to add)``."""
        if not self.enabled:
            return True, {}
        now = self.clock()
        start = math.floor(now / self.window) * self.window
        key = (credential, start)
        used = self._counts.get(key, 0)
        allowed = used < self.limit
        if allowed:
            used += 1
            self._counts[key] = used
        if len(self._counts) > 10_000:
            self._counts = {k: v for k, v in self._counts.items() if k[1] >= start}
        reset = start + self.window
        out: dict[str, str] = {}
        if self.headers:
            out = {
                "X-RateLimit-Limit": str(self.limit),
                "X-RateLimit-Remaining": str(max(0, self.limit - used)),
                "X-RateLimit-Reset": str(math.ceil(reset)),
            }
        if not allowed and self.retry_after:
            out["Retry-After"] = str(max(1, math.ceil(reset - now)))
        return allowed, out


class StateLog:
    """A crash-safe JSON-lines log of an emulator's changes, replayed on start.

    Each change is one line ``{"op": ..., "record": ...}``, flushed and fsynced before the
    emulator answers, so a write the client may not have heard about is still there after the
    process running the sandbox is killed. A torn last line (the crash itself) is ignored.

    Args:
        path: The file (created on the first change).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = path

    def append(self, op: str, record: Mapping[str, Any]) -> None:
        """Record one change durably."""
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"op": op, "record": record}, ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def replay(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every recorded change, oldest first (nothing when the file does not exist)."""
        if not os.path.exists(self.path):
            return
        with open(self.path, encoding="utf-8") as handle:
            for line in handle:
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    return  # a torn last line from a crash
                yield entry["op"], entry["record"]


class EmulatorError(Exception):
    """Raised by a handler to answer with an error body.

    Args:
        status: HTTP status.
        body: The JSON body, exactly as the API sends it.
    """

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"{status}: {body!r}")
        self.status = status
        self.body = body


@attrs.frozen(kw_only=True)
class LoggedRequest:
    """A request as the emulator saw it.

    Attributes:
        method: HTTP method.
        path: Path (no query).
        query: Query parameters.
        headers: Request headers, with credentials masked.
        body: Decoded JSON body, or ``None``.
        fault: The fault injected, if any.
        status: The status answered (``None`` when the connection was dropped).
    """

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: Any
    fault: FaultKind | None
    status: int | None


_HTML = "<html><head><title>{s} {r}</title></head><body><center><h1>{s} {r}</h1></center></body></html>"
_REASONS = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Temporarily Unavailable",
    504: "Gateway Time-out",
}
_SECRET_HEADERS = ("authorization", "x-api-key")


class EmulatorCore:
    """Middleware and shared switches for one emulator app.

    Args:
        credential_of: Extracts the rate-limit key (the credential) from a request.
        throttle_body: The JSON body of a 429 (Lofty: ``{"message": "Too Many Requests"}``).
        rate_limit: Per-credential rate limit, or ``None`` for none.
        faults: Fault plan, or ``None`` for none.
        api_prefix: Only paths starting with this prefix get faults and rate limits.
        authenticate: Checks a request's credentials; returns ``None`` to let it through or an
            :class:`EmulatorError` to answer with (checked after the rate limit).
        max_logged: How many requests :attr:`requests` keeps (the oldest are dropped).
    """

    def __init__(
        self,
        *,
        credential_of: Callable[[web.Request], str],
        throttle_body: Any,
        rate_limit: FixedWindowRateLimit | None = None,
        faults: FaultPlan | None = None,
        api_prefix: str = "/",
        authenticate: Callable[[web.Request], EmulatorError | None] | None = None,
        max_logged: int = 100_000,
    ) -> None:
        self.credential_of = credential_of
        self.authenticate = authenticate
        self.throttle_body = throttle_body
        self.rate_limit = rate_limit
        self.faults = faults
        self.api_prefix = api_prefix
        self.requests: deque[LoggedRequest] = deque(maxlen=max_logged)
        self._stop = asyncio.Event()

    def count(self, method: str, path_glob: str = "*") -> int:
        """How many logged requests match ``method`` (``"*"`` for any) and ``path_glob``."""
        return sum(1 for r in self.requests if method in ("*", r.method) and fnmatch.fnmatchcase(r.path, path_glob))

    def stop_slow_responses(self) -> None:
        """Release every response held back by a ``SLOW`` fault (used on shutdown)."""
        self._stop.set()

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Apply rate limits and faults around the API's handlers; log the request."""
        if not request.path.startswith(self.api_prefix):
            return await handler(request)
        body = await _json_or_none(request)
        fault = self.faults.draw(request.method, request.path) if self.faults else None
        status: int | None = None
        try:
            response = await self._respond(request, handler, fault)
            status = response.status
            return response
        finally:
            headers = {k: ("***" if k.lower() in _SECRET_HEADERS else v) for k, v in request.headers.items()}
            dropped = fault in (FaultKind.RESET_BEFORE, FaultKind.RESET_AFTER, FaultKind.TRUNCATED)
            self.requests.append(
                LoggedRequest(
                    method=request.method,
                    path=request.path,
                    query=dict(request.query),
                    headers=headers,
                    body=body,
                    fault=fault,
                    status=None if dropped else status,
                )
            )

    async def _respond(self, request: web.Request, handler: Handler, fault: FaultKind | None) -> web.StreamResponse:
        limit_headers: dict[str, str] = {}
        if self.rate_limit is not None:
            allowed, limit_headers = self.rate_limit.check(self.credential_of(request))
            if not allowed:
                return web.json_response(self.throttle_body, status=429, headers=limit_headers)
        plan = self.faults
        if fault is not None and plan is not None and not fault.processes:
            return self._fault_before(request, fault, plan, limit_headers)
        try:
            denied = self.authenticate(request) if self.authenticate is not None else None
            if denied is not None:
                raise denied
            response = await handler(request)
        except EmulatorError as error:
            response = web.json_response(error.body, status=error.status)
        response.headers.update(limit_headers)
        if fault is not None and plan is not None:
            return await self._fault_after(request, fault, plan, response)
        return response

    def _fault_before(
        self, request: web.Request, fault: FaultKind, plan: FaultPlan, limit_headers: dict[str, str]
    ) -> web.StreamResponse:
        if fault is FaultKind.RESET_BEFORE:
            _drop(request)
            raise web.HTTPInternalServerError()
        if fault in (FaultKind.THROTTLE, FaultKind.THROTTLE_DATE, FaultKind.THROTTLE_BARE):
            headers = dict(limit_headers)
            if "X-RateLimit-Reset" in headers:
                # A scripted 429 reads like an exhausted window that reopens after retry_after.
                headers["X-RateLimit-Remaining"] = "0"
                headers["X-RateLimit-Reset"] = str(math.ceil(time.time() + plan.retry_after))
            if fault is FaultKind.THROTTLE:
                headers["Retry-After"] = f"{plan.retry_after:g}"
            elif fault is FaultKind.THROTTLE_DATE:
                when = time.time() + max(1.0, plan.retry_after)
                headers["Retry-After"] = email.utils.formatdate(math.ceil(when), usegmt=True)
            return web.json_response(self.throttle_body, status=429, headers=headers)
        status = int(fault.value)
        headers = dict(limit_headers)
        if status == 503:
            headers["Retry-After"] = f"{plan.retry_after:g}"
        return web.Response(
            status=status,
            text=_HTML.format(s=status, r=_REASONS[status]),
            content_type="text/html",
            headers=headers,
        )

    async def _fault_after(
        self, request: web.Request, fault: FaultKind, plan: FaultPlan, response: web.StreamResponse
    ) -> web.StreamResponse:
        if fault is FaultKind.ERROR_504:
            return web.Response(status=504, text=_HTML.format(s=504, r=_REASONS[504]), content_type="text/html")
        if fault is FaultKind.RESET_AFTER:
            _drop(request)
            raise web.HTTPInternalServerError()
        if fault is FaultKind.SLOW:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), plan.slow_seconds)
            return response
        if fault is FaultKind.MALFORMED:
            return web.Response(status=200, body=b'{"unterminated": ', content_type="application/json")
        # TRUNCATED
        full = getattr(response, "body", None)
        payload = full if isinstance(full, bytes) and full else b'{"data": {"id": 1}}'
        stream = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        stream.content_length = len(payload) + 32
        await stream.prepare(request)
        await stream.write(payload[: max(1, len(payload) // 2)])
        _drop(request)
        return stream


def _drop(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.close()


async def _json_or_none(request: web.Request) -> Any:
    if not request.can_read_body:
        return None
    raw = await request.read()
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return raw.decode("utf-8", "replace")


@asynccontextmanager
async def serve(app: web.Application, *, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Serve ``app`` on loopback in the running loop; yield its base URL.

    Args:
        app: The emulator app.
        host: Interface to bind; keep the loopback default.
        port: TCP port; ``0`` picks a free one.
    """
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = runner.addresses[0][1]
        yield f"http://{host}:{bound}"
    finally:
        core = app.get(CORE_KEY)
        if isinstance(core, EmulatorCore):
            core.stop_slow_responses()
        await runner.cleanup()


CORE_KEY: web.AppKey[EmulatorCore] = web.AppKey("crm_core.emulator", EmulatorCore)
"""Where an emulator app keeps its :class:`EmulatorCore` (``app[CORE_KEY]``)."""


class ThreadedServer:
    """Run an emulator app in a background thread with its own event loop.

    For synchronous pytest fixtures and any caller not inside a loop. State objects are shared
    with the thread: read them freely, change them only between requests.

    Args:
        app_factory: Builds the app (called in the server thread).
        host: Interface to bind (loopback).
        port: TCP port; ``0`` picks a free one.
    """

    def __init__(self, app_factory: Callable[[], web.Application], *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._factory = app_factory
        self._host = host
        self._port = port
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.url = ""

    def start(self) -> str:
        """Start serving; return the base URL."""
        self._thread = threading.Thread(target=self._run, name="emulator", daemon=True)
        self._thread.start()
        self._ready.wait(timeout=30)
        if self._error is not None:
            raise RuntimeError("the emulator failed to start") from self._error
        return self.url

    def stop(self) -> None:
        """Stop serving and join the thread."""
        if self._loop is not None and self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
        if self._thread is not None:
            self._thread.join(timeout=30)

    def __enter__(self) -> ThreadedServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stopped = asyncio.Event()
            try:
                async with serve(self._factory(), host=self._host, port=self._port) as url:
                    self.url = url
                    self._ready.set()
                    await self._stopped.wait()
            except BaseException as exc:
                self._error = exc
                self._ready.set()
                raise

        try:
            asyncio.run(main())
        except BaseException:
            if self._error is None:
                raise
