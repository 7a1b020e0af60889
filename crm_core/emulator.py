"""What both API emulators share: faults, rate limits, a request log, and servers.

An emulator is an ``aiohttp.web`` application whose handlers keep in-memory state. This module
supplies the parts that are the same for every API:

* :class:`FaultPlan`: seeded, deterministic fault injection per route: transport faults (429
  with ``Retry-After`` in seconds, as an HTTP-date, or absent; 500/502/503/504 with HTML bodies;
  a connection reset before or after the request is processed; a response slower than the
  client's timeout; malformed JSON and truncated bodies) and server faults that real APIs show
  (a create committed late, a write visible to reads only later, an unusable id in a 2xx body,
  Lofty's documented ``X-RateLimit-Reset: 21000``);
* :class:`FixedWindowRateLimit`: per-credential fixed windows with ``X-RateLimit-*`` headers;
* :class:`EmulatorCore`: the middleware that applies both around the API's handlers, turns
  :class:`EmulatorError` into the API's error body, and logs every request (bounded, without
  headers or bodies unless asked for);
* :class:`CompactStore`: a column store for many records (about 50-60 bytes for a typical
  task instead of a dict's 1-2 KB), read and written as dicts;
* :class:`StateLog`: the crash-safe JSON-lines log of an emulator's changes, fsynced in batches;
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
from collections import Counter, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from types import MappingProxyType
from typing import Any

import attrs
from aiohttp import web

from ._emulator_store import Codec, CompactStore

__all__ = [
    "SERVER_FAULTS",
    "TRANSPORT_FAULTS",
    "VISIBLE_DELAY_KEY",
    "Codec",
    "CompactStore",
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
    "state_sync",
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
        LATE_COMMIT: The server is slow to commit: the request waits
            :attr:`FaultPlan.late_seconds` before it is processed (stored) and answered, so a
            client with a shorter timeout gives up first and the record appears later. Reads
            during the delay do not see it. The commit is not cancelled by the client leaving.
        LATE_VISIBLE: Eventual consistency: the request is processed and answered at once, but
            the new record is missing from reads (get and list) for
            :attr:`FaultPlan.late_seconds` of the emulator's clock.
        BAD_ID: The request is processed (the write happened), but the 2xx body's id
            (``taskId``, ``leadId`` or ``data.id``) is unusable: drawn from
            :attr:`FaultPlan.bad_ids` (``"abc"``, ``null``, ``12.9``).
        RESET_21000: 429 with the headers of Lofty's documented example (``X-RateLimit-Remaining:
            0``, ``X-RateLimit-Reset: 21000``, no ``Retry-After``) (not processed).
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
    LATE_COMMIT = "late-commit"
    LATE_VISIBLE = "late-visible"
    BAD_ID = "bad-id"
    RESET_21000 = "reset-21000"

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
        FaultKind.LATE_COMMIT,
        FaultKind.LATE_VISIBLE,
        FaultKind.BAD_ID,
    }
)

TRANSPORT_FAULTS: tuple[FaultKind, ...] = (
    FaultKind.THROTTLE,
    FaultKind.THROTTLE_DATE,
    FaultKind.THROTTLE_BARE,
    FaultKind.ERROR_500,
    FaultKind.ERROR_502,
    FaultKind.ERROR_503,
    FaultKind.ERROR_504,
    FaultKind.RESET_BEFORE,
    FaultKind.RESET_AFTER,
    FaultKind.SLOW,
    FaultKind.MALFORMED,
    FaultKind.TRUNCATED,
)
"""Faults of the transport and of generic servers (``all=P`` in a spec spreads over these)."""

SERVER_FAULTS: tuple[FaultKind, ...] = (
    FaultKind.LATE_COMMIT,
    FaultKind.LATE_VISIBLE,
    FaultKind.BAD_ID,
    FaultKind.RESET_21000,
)
"""Faults modelled on what the real APIs document or show (``server=P`` spreads over these)."""

VISIBLE_DELAY_KEY: web.RequestKey[float] = web.RequestKey("crm_core.emulator.visible_delay", float)
"""Request key a ``LATE_VISIBLE`` fault sets: seconds the new record stays hidden from reads."""


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
        late_seconds: How long a ``LATE_COMMIT`` request waits before it is stored and
            answered, and how long a ``LATE_VISIBLE`` record stays hidden from reads, seconds.
        bad_ids: The unusable ids a ``BAD_ID`` fault puts in a 2xx body (one drawn per fault).
        injected: Count of faults injected so far, by kind.
    """

    rules: list[FaultRule] = attrs.field(factory=list)
    seed: int = 0
    slow_seconds: float = 5.0
    retry_after: float = 1.0
    late_seconds: float = 2.5
    bad_ids: tuple[Any, ...] = ("abc", None, 12.9)
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

    def bad_id(self) -> Any:
        """Draw one of :attr:`bad_ids` (from the plan's random source)."""
        return self._rng.choice(self.bad_ids)

    def _count(self, kind: FaultKind) -> FaultKind:
        self.injected[kind] = self.injected.get(kind, 0) + 1
        return kind

    @classmethod
    def parse(cls, spec: str) -> FaultPlan:
        """Build a plan from a command-line spec.

        Comma-separated items:

        * ``KIND=P`` or ``KIND=P@METHOD /path-glob``: the fault with probability ``P`` (0..1,
          or a percentage such as ``5%``), e.g. ``reset-after=0.03@POST /v2.0/tasks``. Kinds:
          ``429``, ``429-date``, ``429-bare``, ``500``, ``502``, ``503``, ``504``,
          ``reset-before``, ``reset-after``, ``slow``, ``malformed``, ``truncated`` (transport),
          and ``late-commit``, ``late-visible``, ``bad-id``, ``reset-21000`` (server; see
          :class:`FaultKind`);
        * ``all=P``: probability ``P`` in total, spread evenly over the transport kinds
          (:data:`TRANSPORT_FAULTS`; unchanged from earlier releases, so seeds reproduce);
        * ``server=P``: spread evenly over the server kinds (:data:`SERVER_FAULTS`);
        * ``every=P``: spread evenly over every kind;
        * a bare ``P`` (``10%``) means ``all=P``;
        * ``seed=N``, ``slow=SECONDS``, ``retry-after=SECONDS``, ``late=SECONDS``. ``slow=`` with
          a route (``slow=0.1@POST /v2.0/tasks``) or a percentage (``slow=5%``) schedules the
          ``slow`` fault kind instead of setting its duration.

        Example: ``"5%,late-commit=0.02@POST /v2.0/tasks,late=2.5,seed=7"``.

        Raises:
            ValueError: an unknown kind or key, a probability outside 0..1, or a negative or
                non-numeric number of seconds.
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
            if name == "slow" and (route.strip() or value.endswith("%")):
                pass  # "slow=0.1@POST /x" or "slow=5%": the slow fault kind, not its duration
            elif name in ("slow", "retry-after", "late"):
                seconds = _seconds(name, value)
                if name == "slow":
                    plan.slow_seconds = seconds
                elif name == "late":
                    plan.late_seconds = seconds
                else:
                    plan.retry_after = seconds
                continue
            try:
                probability = float(value[:-1]) / 100 if value.endswith("%") else float(value)
            except ValueError:
                raise ValueError(f"fault probability {value!r} is not valid: expected 0..1 or 0%..100%") from None
            if not 0.0 <= probability <= 1.0:
                raise ValueError(f"fault probability {value!r} is not valid: expected 0..1 or 0%..100%")
            groups = {"all": TRANSPORT_FAULTS, "server": SERVER_FAULTS, "every": tuple(FaultKind)}
            if name in groups:
                group = groups[name]
                for kind in group:
                    plan.add(kind, probability=probability / len(group), route=route.strip() or None)
            elif name in kinds:
                plan.add(name, probability=probability, route=route.strip() or None)
            else:
                raise ValueError(
                    f"fault {name!r} is not valid: expected one of all, server, every, seed, slow, retry-after, "
                    "late, " + ", ".join(kinds)
                )
        if sum(rule.probability for rule in plan.rules) > 1.0 + 1e-9:
            raise ValueError(f"fault probabilities in {spec!r} add up to more than 1")
        plan._rng = random.Random(plan.seed)
        return plan


def _seconds(name: str, value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise ValueError(f"{name}={value!r} is not valid: expected a number of seconds") from None
    if not seconds >= 0 or math.isinf(seconds):
        raise ValueError(f"{name}={value!r} is not valid: expected a finite number of seconds >= 0")
    return seconds


def _positive(name: str) -> Callable[[Any, Any, Any], None]:
    def check(instance: Any, attribute: Any, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0 or math.isinf(value):
            raise ValueError(f"rate limit {name} {value!r} is not valid: expected a finite number > 0")

    return check


@attrs.define(kw_only=True)
class FixedWindowRateLimit:
    """Fixed windows per credential, aligned to multiples of ``window`` since the epoch.

    Models Lofty's documented limit (lofty_api.md §4): "The window resets every 60 seconds.
    Every response includes rate limit headers" ``X-RateLimit-Limit`` (requests allowed in the
    window), ``X-RateLimit-Remaining`` (requests left in it) and ``X-RateLimit-Reset`` ("Time
    (UTC epoch seconds) when the window resets"); over the limit, HTTP 429 with the API's body
    (Lofty: ``{"message":"Too Many Requests"}``) and, as documented, no ``Retry-After``. A
    request refused with 429 does not count against the window.

    Attributes:
        limit: Requests allowed per window per credential (an integer >= 1).
        window: Window length, seconds (> 0).
        headers: Send ``X-RateLimit-Limit``/``-Remaining``/``-Reset`` on every response.
        reset_format: What ``X-RateLimit-Reset`` carries: ``"epoch"`` (the docs' text: UTC epoch
            seconds of the window's end, rounded up; the default), ``"delta"`` (whole seconds
            until the window's end, rounded up) or ``"21000"`` (the literal value of the docs'
            429 example, on every response).
        align: Where windows start ([GAP]: the docs only say "resets every 60 seconds"):
            ``"epoch"`` (default) at multiples of ``window`` since the epoch, the same for every
            credential; ``"first-request"`` at a credential's first request after its previous
            window ended.
        retry_after: Add a ``Retry-After`` header (seconds to the window's end) on 429
            (undocumented for Lofty: off).
        enabled: Switch the limit on or off at run time.
        clock: Wall-clock source, UTC epoch seconds.

    Raises:
        ValueError: ``limit`` or ``window`` is zero, negative or not finite (the message names
            the value), or ``reset_format`` is unknown.
    """

    limit: int = attrs.field(default=100, validator=_positive("limit"))
    window: float = attrs.field(default=60.0, validator=_positive("window"))
    headers: bool = True
    reset_format: str = attrs.field(default="epoch")
    align: str = attrs.field(default="epoch", validator=attrs.validators.in_(("epoch", "first-request")))
    retry_after: bool = False
    enabled: bool = True
    clock: Callable[[], float] = time.time
    _counts: dict[tuple[str, float], int] = attrs.field(factory=dict)
    _starts: dict[str, float] = attrs.field(factory=dict)

    @limit.validator
    def _integral(self, attribute: Any, value: Any) -> None:
        if not isinstance(value, int):
            raise ValueError(f"rate limit limit {value!r} is not valid: expected a whole number of requests >= 1")

    @reset_format.validator
    def _known_format(self, attribute: Any, value: Any) -> None:
        if value not in ("epoch", "delta", "21000"):
            raise ValueError(f"reset_format {value!r} is not valid: expected 'epoch', 'delta' or '21000'")

    def check(self, credential: str) -> tuple[bool, dict[str, str]]:
        """Count one request; return ``(allowed, headers to add)``."""
        if not self.enabled:
            return True, {}
        now = self.clock()
        if self.align == "epoch":
            start = math.floor(now / self.window) * self.window
        else:
            start = self._starts.get(credential, -math.inf)
            if now >= start + self.window:
                start = self._starts[credential] = now
                if len(self._starts) > 10_000:
                    self._starts = {k: v for k, v in self._starts.items() if v + self.window > now}
        key = (credential, start)
        used = self._counts.get(key, 0)
        allowed = used < self.limit
        if allowed:
            used += 1
            self._counts[key] = used
        if len(self._counts) > 10_000:
            self._counts = {k: v for k, v in self._counts.items() if k[1] + self.window > now}
        reset = start + self.window
        out: dict[str, str] = {}
        if self.headers:
            out = {
                "X-RateLimit-Limit": str(self.limit),
                "X-RateLimit-Remaining": str(max(0, self.limit - used)),
                "X-RateLimit-Reset": self.reset_header(reset, now),
            }
        if not allowed and self.retry_after:
            out["Retry-After"] = str(max(1, math.ceil(reset - now)))
        return allowed, out

    def reset_header(self, reset: float, now: float) -> str:
        """``X-RateLimit-Reset`` for a window ending at ``reset`` (epoch seconds), per :attr:`reset_format`."""
        if self.reset_format == "21000":
            return "21000"
        if self.reset_format == "delta":
            return str(max(0, math.ceil(reset - now)))
        return str(math.ceil(reset))


class StateLog:
    """A crash-safe JSON-lines log of an emulator's changes, replayed on start.

    Each change is one line ``{"op": ..., "record": ...}``. Durability, and its window:

    * every line is handed to the operating system (one unbuffered ``write``) before the
      emulator answers, so a write the client may have heard about survives the process that
      runs the sandbox being killed (``kill -9``): nothing acknowledged is lost;
    * ``fsync`` runs in batches: after ``fsync_every`` lines, or when ``fsync_interval`` seconds
      have passed since the last one (checked on each append and by :meth:`sync`, which the
      emulator's app calls periodically), and on :meth:`close` (a clean shutdown). A crash of the
      whole machine or a power loss can therefore lose at most the last ``fsync_every`` lines or
      ``fsync_interval`` seconds of changes; a clean shutdown loses nothing.

    A torn last line (the crash itself) is ignored on replay.

    Args:
        path: The file (created on the first change).
        fsync_every: Lines between fsyncs (1 fsyncs every line, as before batching).
        fsync_interval: Seconds between fsyncs at most, while lines are pending.
        clock: Monotonic clock for the interval, seconds.

    Raises:
        ValueError: ``fsync_every`` < 1 or ``fsync_interval`` < 0.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        fsync_every: int = 1000,
        fsync_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if fsync_every < 1:
            raise ValueError(f"fsync_every {fsync_every!r} is not valid: expected >= 1")
        if not fsync_interval >= 0:
            raise ValueError(f"fsync_interval {fsync_interval!r} is not valid: expected >= 0 seconds")
        self.path = path
        self.fsync_every = fsync_every
        self.fsync_interval = fsync_interval
        self._clock = clock
        self._fd: int | None = None
        self._pending = 0
        self._last_sync = clock()
        self.fsyncs = 0
        """How many fsyncs were made (for tests and benchmarks)."""
        self._lock = threading.Lock()

    def append(self, op: str, record: Mapping[str, Any]) -> None:
        """Record one change: written to the OS at once, fsynced in a batch."""
        line = (json.dumps({"op": op, "record": record}, ensure_ascii=False) + "\n").encode("utf-8")
        with self._lock:
            if self._fd is None:
                self._open()
            assert self._fd is not None
            view = memoryview(line)
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
            self._pending += 1
            if self._pending >= self.fsync_every or self._clock() - self._last_sync >= self.fsync_interval:
                self._fsync()

    def _open(self) -> None:
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        size = os.fstat(self._fd).st_size
        if size and os.pread(self._fd, 1, size - 1) != b"\n":
            os.write(self._fd, b"\n")  # end a line torn by a crash, so the next one stays whole

    def sync(self, *, force: bool = False) -> None:
        """fsync pending lines if the interval has passed (or at once with ``force``)."""
        with self._lock:
            if self._pending and (force or self._clock() - self._last_sync >= self.fsync_interval):
                self._fsync()

    def close(self) -> None:
        """fsync pending lines and close the file (safe to call twice)."""
        with self._lock:
            if self._fd is not None:
                if self._pending:
                    self._fsync()
                os.close(self._fd)
                self._fd = None

    def _fsync(self) -> None:
        assert self._fd is not None
        os.fsync(self._fd)
        self.fsyncs += 1
        self._pending = 0
        self._last_sync = self._clock()

    def replay(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every recorded change, oldest first (nothing when the file does not exist)."""
        if not os.path.exists(self.path):
            return
        with open(self.path, encoding="utf-8") as handle:
            for line in handle:
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line torn by a crash (later lines start on a fresh line)
                yield entry["op"], entry["record"]


def state_sync(state: StateLog) -> Callable[[web.Application], AsyncIterator[None]]:
    """An ``app.cleanup_ctx`` entry: fsync ``state`` every ``fsync_interval`` while the app is
    served, and fsync and close it on shutdown (so a clean shutdown loses nothing)."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        async def tick() -> None:
            while True:
                await asyncio.sleep(max(0.05, state.fsync_interval))
                state.sync()

        ticker = asyncio.ensure_future(tick())
        try:
            yield
        finally:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
            state.close()

    return context


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
        headers: Request headers, with credentials masked; empty unless the core logs bodies
            (``log_bodies=True``).
        body: Decoded JSON body (text when not JSON); ``None`` without a body or unless the
            core logs bodies.
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
_EMPTY: Mapping[str, str] = MappingProxyType({})
_DEFAULT_ID_FIELDS: tuple[tuple[str, ...], ...] = (("taskId",), ("leadId",), ("data", "id"))


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
        log_bodies: Keep each logged request's headers (credentials masked) and decoded body;
            off by default, so a long sandbox run keeps a few hundred bytes per logged request.
        id_fields: Where a ``BAD_ID`` fault looks for the id in a 2xx JSON body (key paths,
            first found wins).

    Attributes:
        requests: The last ``max_logged`` requests, oldest first.
        statuses: Count of every request answered, by status (``None``: connection dropped);
            not bounded by ``max_logged``.
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
        max_logged: int = 10_000,
        log_bodies: bool = False,
        id_fields: Sequence[tuple[str, ...]] = _DEFAULT_ID_FIELDS,
    ) -> None:
        self.credential_of = credential_of
        self.authenticate = authenticate
        self.throttle_body = throttle_body
        self.rate_limit = rate_limit
        self.faults = faults
        self.api_prefix = api_prefix
        self.log_bodies = log_bodies
        self.id_fields = tuple(id_fields)
        self.requests: deque[LoggedRequest] = deque(maxlen=max_logged)
        self.statuses: Counter[int | None] = Counter()
        self._stop = asyncio.Event()
        self._late: set[asyncio.Future[web.StreamResponse]] = set()

    def count(self, method: str, path_glob: str = "*") -> int:
        """How many logged requests match ``method`` (``"*"`` for any) and ``path_glob``."""
        return sum(1 for r in self.requests if method in ("*", r.method) and fnmatch.fnmatchcase(r.path, path_glob))

    def stop_slow_responses(self) -> None:
        """Release every response held back by a ``SLOW`` fault and commit every ``LATE_COMMIT``
        request at once (used on shutdown)."""
        self._stop.set()

    async def drain(self) -> None:
        """Wait until every late commit has landed (call after :meth:`stop_slow_responses`)."""
        while self._late:
            await asyncio.gather(*list(self._late), return_exceptions=True)

    @staticmethod
    def visible_delay(request: web.Request) -> float:
        """Seconds a record created by ``request`` stays hidden from reads (``LATE_VISIBLE``), else 0."""
        return float(request.get(VISIBLE_DELAY_KEY, 0.0))

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Apply rate limits and faults around the API's handlers; log the request."""
        if not request.path.startswith(self.api_prefix):
            return await handler(request)
        raw = await request.read() if request.can_read_body else b""
        fault = self.faults.draw(request.method, request.path) if self.faults else None
        status: int | None = None
        try:
            response = await self._respond(request, handler, fault)
            status = response.status
            return response
        finally:
            dropped = fault in (FaultKind.RESET_BEFORE, FaultKind.RESET_AFTER, FaultKind.TRUNCATED)
            answered = None if dropped else status
            self.statuses[answered] += 1
            if self.log_bodies:
                headers: Mapping[str, str] = {
                    k: ("***" if k.lower() in _SECRET_HEADERS else v) for k, v in request.headers.items()
                }
                body = _json_or_text(raw)
            else:
                headers, body = _EMPTY, None
            self.requests.append(
                LoggedRequest(
                    method=request.method,
                    path=request.path,
                    query=dict(request.query) if request.query else _EMPTY,
                    headers=headers,
                    body=body,
                    fault=fault,
                    status=answered,
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
            if fault is FaultKind.LATE_COMMIT and plan is not None:
                response = await self._commit_late(request, handler, plan.late_seconds)
            else:
                if fault is FaultKind.LATE_VISIBLE and plan is not None:
                    request[VISIBLE_DELAY_KEY] = plan.late_seconds
                response = await handler(request)
        except EmulatorError as error:
            response = web.json_response(error.body, status=error.status)
        response.headers.update(limit_headers)
        if fault is not None and plan is not None:
            return await self._fault_after(request, fault, plan, response)
        return response

    async def _commit_late(self, request: web.Request, handler: Handler, delay: float) -> web.StreamResponse:
        """Run the handler after ``delay`` seconds, in a task the client's leaving cannot cancel."""

        async def later() -> web.StreamResponse:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay)
            return await handler(request)

        task = asyncio.ensure_future(later())
        self._late.add(task)
        task.add_done_callback(self._late_done)
        return await asyncio.shield(task)

    def _late_done(self, task: asyncio.Future[web.StreamResponse]) -> None:
        self._late.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: an EmulatorError after the client left is expected

    def _fault_before(
        self, request: web.Request, fault: FaultKind, plan: FaultPlan, limit_headers: dict[str, str]
    ) -> web.StreamResponse:
        if fault is FaultKind.RESET_BEFORE:
            _drop(request)
            raise web.HTTPInternalServerError()
        if fault is FaultKind.RESET_21000:
            headers = {
                "X-RateLimit-Limit": limit_headers.get("X-RateLimit-Limit", "20"),
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": "21000",
            }
            return web.json_response(self.throttle_body, status=429, headers=headers)
        if fault in (FaultKind.THROTTLE, FaultKind.THROTTLE_DATE, FaultKind.THROTTLE_BARE):
            headers = dict(limit_headers)
            if "X-RateLimit-Reset" in headers:
                # A scripted 429 reads like an exhausted window that reopens after retry_after.
                headers["X-RateLimit-Remaining"] = "0"
                if self.rate_limit is not None:
                    now = time.time()
                    headers["X-RateLimit-Reset"] = self.rate_limit.reset_header(now + plan.retry_after, now)
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
        if fault in (FaultKind.LATE_COMMIT, FaultKind.LATE_VISIBLE):
            return response
        if fault is FaultKind.BAD_ID:
            return self._corrupt_id(response, plan)
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

    def _corrupt_id(self, response: web.StreamResponse, plan: FaultPlan) -> web.StreamResponse:
        """The same 2xx with its id replaced by an unusable one (other answers pass unchanged)."""
        raw = getattr(response, "body", None)
        if not 200 <= response.status < 300 or not isinstance(raw, bytes):
            return response
        try:
            body = json.loads(raw)
        except ValueError:
            return response
        for path in self.id_fields:
            holder = body
            for key in path[:-1]:
                holder = holder.get(key) if isinstance(holder, dict) else None
            if isinstance(holder, dict) and path[-1] in holder:
                holder[path[-1]] = plan.bad_id()
                headers = {
                    k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-type")
                }
                return web.json_response(body, status=response.status, headers=headers)
        return response


def _drop(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.close()


def _json_or_text(raw: bytes) -> Any:
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
            await core.drain()
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
