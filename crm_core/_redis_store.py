"""The Redis side of :class:`~crm_core.RedisRateLimiter`: one worker's view of the shared state.

:class:`RedisStore` owns the connection, the two Lua scripts (read the state with Redis's clock;
compare-and-set), the state's JSON (de)serialization, the bookkeeping of every worker's in-flight
requests, and the background writer that sends this worker's observations. The pacing decisions
themselves are the in-process limiter's pure functions (:mod:`crm_core._ratelimit`); the data
layout is described in :mod:`crm_core._redis_limiter`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import math
import os
import random
import re
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, Protocol
from urllib.parse import quote, unquote

import attrs
import cattrs

from ._clock import Clock
from ._ratelimit import LimiterSnapshot, LimiterState, observe_response, reserve_detail

if TYPE_CHECKING:
    import redis.asyncio

__all__ = [
    "KEY_PREFIX",
    "Health",
    "Observe",
    "OnUnavailable",
    "Pause",
    "RedisStore",
    "RedisUnavailable",
    "Settings",
    "connect",
    "redact_url",
]

log = logging.getLogger("crm_core.redis")

KEY_PREFIX = "crm-async:ratelimit:"
_FORMAT = 1

# Read the state and Redis's clock in one round trip.
_READ_LUA = """
local doc = redis.call('GET', KEYS[1])
local t = redis.call('TIME')
return {doc, t[1], t[2]}
"""

# Compare-and-set: write ARGV[2] (with a PX of ARGV[3] ms) only if the key still holds ARGV[1]
# ('' meaning absent).
_CAS_LUA = """
local current = redis.call('GET', KEYS[1])
if (current or '') ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
"""

_converter = cattrs.Converter()

OnUnavailable = Literal["wait", "local"]


def redact_url(url: str) -> str:
    """``url`` with its password (if any) replaced by ``***``; safe for logs, errors and reprs.

    Covers ``redis://user:password@host`` and a ``?password=`` query parameter, and never raises
    (a malformed URL is redacted as text, not parsed).
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return _QUERY_PASSWORD.sub(r"\1***", url)
    end = min((i for i in (rest.find("/"), rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
    netloc, tail = rest[:end], rest[end:]
    userinfo, at, hostport = netloc.rpartition("@")
    if at and ":" in userinfo:
        netloc = f"{userinfo.split(':', 1)[0]}:***@{hostport}"
    return f"{scheme}://{netloc}" + _QUERY_PASSWORD.sub(r"\1***", tail)


_QUERY_PASSWORD = re.compile(r"([?&]password=)[^&#]*", re.IGNORECASE)


def password_forms(url: str) -> list[str]:
    """The URL's password as written, decoded and re-encoded (longest first), to scrub from text."""
    found: set[str] = set()
    _, _, rest = url.partition("://")
    userinfo, at, _ = rest.split("/", 1)[0].rpartition("@")
    if at and ":" in userinfo:
        found.add(userinfo.split(":", 1)[1])
    found.update(match.group(1) for match in re.finditer(r"[?&]password=([^&#]*)", url, re.IGNORECASE))
    forms = {form for raw in found if raw for form in (raw, unquote(raw), quote(unquote(raw), safe=""))}
    return sorted(forms, key=len, reverse=True)


def connect(url: str, *, connect_timeout: float, socket_timeout: float) -> redis.asyncio.Redis:
    """A ``redis.asyncio.Redis`` client for ``url``; nothing is connected until the first command.

    Raises:
        ImportError: redis-py is not installed (``pip install 'crm-async[redis]'``).
        ValueError: An unusable URL (the message never shows the password).
    """
    try:
        import redis.asyncio
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff
    except ImportError as exc:  # pragma: no cover - the dev extra installs redis
        raise ImportError("RedisRateLimiter needs redis-py: pip install 'crm-async[redis]'") from exc
    try:
        return redis.asyncio.Redis.from_url(
            url,
            socket_connect_timeout=connect_timeout,
            socket_timeout=socket_timeout,
            # One immediate retry (a pooled connection gone stale after a Redis restart);
            # longer outages are ours to handle: logged once, then on_unavailable.
            retry=Retry(NoBackoff(), 1),
        )
    except ValueError:
        raise ValueError(f"Redis URL {redact_url(url)!r} is not valid") from None


@attrs.define
class Settings:
    """The settings of one :class:`~crm_core.RedisRateLimiter` (every worker of a key should pass the same).

    The arguments are the limiter's (see there); derived on construction: ``rate`` (requests per
    second, or ``None``), ``capacity`` (bucket size, requests) and ``pause_cap`` (the longest
    plausible server pause, seconds: ``max_pause`` if given, else 60 until a client's ``bind``
    sets its API's window).

    Raises:
        ValueError: A setting out of range, or ``on_unavailable="local"`` without ``requests``
            and ``expected_workers``.
    """

    requests: float | None
    window: float
    burst: float | None
    fallback_pause: float
    probe: int
    max_pause: float | None
    on_unavailable: OnUnavailable
    expected_workers: int | None
    worker_ttl: float
    state_ttl: float
    max_backoff: float
    rate: float | None = attrs.field(init=False)
    capacity: float = attrs.field(init=False)
    pause_cap: float = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        requests, window = self.requests, self.window
        if requests is not None and (requests <= 0 or window <= 0):
            raise ValueError(f"requests={requests!r} per window={window!r}: both must be > 0")
        if self.on_unavailable not in ("wait", "local"):
            raise ValueError(f"on_unavailable={self.on_unavailable!r} is not valid: expected 'wait' or 'local'")
        if self.expected_workers is not None and self.expected_workers < 1:
            raise ValueError(f"expected_workers={self.expected_workers!r} is not valid: expected an int >= 1")
        if self.on_unavailable == "local" and (requests is None or self.expected_workers is None):
            raise ValueError(
                "on_unavailable='local' paces each worker at requests / expected_workers per window: "
                "pass requests=, window= (the API's limit, e.g. Lofty: 500 per 60 s) and expected_workers="
            )
        if self.probe < 1:
            raise ValueError(f"probe={self.probe!r} is not valid: expected an integer >= 1")
        if self.max_pause is not None and self.max_pause <= 0:
            raise ValueError(f"max_pause={self.max_pause!r} is not valid: expected seconds > 0")
        if self.worker_ttl <= 0 or self.state_ttl <= 0 or self.max_backoff <= 0:
            raise ValueError("worker_ttl, state_ttl and max_backoff must be seconds > 0")
        self.rate = None if requests is None else requests / window
        self.capacity = self.burst if self.burst is not None else max(1.0, (requests or 0.0) / 10.0)
        self.pause_cap = self.max_pause if self.max_pause is not None else 60.0

    def fresh_state(self, now: float) -> LimiterState:
        """A full bucket, nothing known about the server (Redis clock ``now``)."""
        return LimiterState(
            rate=self.rate,
            capacity=self.capacity,
            tokens=self.capacity,
            refilled_at=now,
            probe=self.probe,
            max_pause=self.pause_cap,
        )


@attrs.frozen
class Observe:
    """A response to fold into the shared state."""

    status: int | None
    headers: Mapping[str, str]
    latency: float | None
    at: float  # Redis clock
    settles: bool  # ends one of this worker's shared permits


@attrs.frozen
class Pause:
    """A cooldown to extend the shared one with."""

    until: float  # Redis clock


_Op = Observe | Pause


class RedisUnavailable(Exception):
    """Internal: Redis could not be reached (the message is redacted)."""


class Health(Protocol):
    """What the store reports its transactions' outcomes to (the limiter's outage handling)."""

    def mark_down(self, exc: RedisUnavailable, seen: LimiterState, offset: float) -> None: ...

    def mark_up(self) -> None: ...

    def retry_in(self) -> float: ...


class RedisStore:
    """One worker's connection to the shared state, and what it knows of it.

    Attributes:
        key: The Redis key (``None`` until the limiter is bound).
        worker_id: This worker's entry in the state's ``workers``.
        cached: The shared state as of this worker's last transaction.
        offset: Redis's clock minus the local clock, seconds.
        held: Shared permits taken by this worker whose response is not yet observed.
        conflicts: Compare-and-set retries (for metrics and tests).
        flusher: The background writer's task, while it runs.
    """

    def __init__(
        self,
        client: redis.asyncio.Redis,
        settings: Settings,
        *,
        url: str,
        key: str | None,
        health: Health,
        clock: Clock,
    ) -> None:
        import redis.exceptions

        self.redis = client
        self.settings = settings
        self.key = key
        self._secrets = password_forms(url)
        self._health = health
        self._clock = clock
        # Every Redis error counts as unavailability (logged once with its reason): a wrong
        # password or a full server must not let requests through unpaced.
        self._unavailable_errors: tuple[type[BaseException], ...] = (redis.exceptions.RedisError, OSError)
        self._read = client.register_script(_READ_LUA)
        self._cas = client.register_script(_CAS_LUA)
        self.worker_id = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self.cached = settings.fresh_state(0.0)
        self.offset = 0.0
        self.held = 0
        self.pending: collections.deque[_Op] = collections.deque(maxlen=10_000)
        self._last_write = -math.inf  # local monotonic time of our last successful write
        self._txn: asyncio.Lock | None = None  # one transaction at a time per process
        self._warned_implausible = False
        self.flusher: asyncio.Task[None] | None = None
        self._closing = False
        self._wake: asyncio.Event | None = None
        self.conflicts = 0

    def now(self) -> float:
        """Redis's clock, as estimated at the last transaction, epoch seconds."""
        return self._clock.time() + self.offset

    def snapshot(self) -> LimiterSnapshot:
        """The shared state as of this worker's last transaction."""
        s = self.cached
        return LimiterSnapshot(
            rate=s.rate,
            tokens=s.tokens,
            cooldown_remaining=max(0.0, s.cooldown_until - self.now()),
            server_limit=s.server_limit,
            server_remaining=s.server_remaining,
            server_reset=s.server_reset,
            concurrency_limit=None,
        )

    def settle(self) -> bool:
        """Count one response against this worker's permits; whether it ended one."""
        settles = self.held > 0
        if settles:
            self.held -= 1
        return settles

    def cached_for_op(self, settles: bool) -> LimiterState:
        """The cached state, ready for :func:`observe_response` of a response that ``settles`` or not."""
        if not settles:
            self.cached.outstanding += 1  # observe_response settles one; this one was never counted
        return self.cached

    def submit(self, op: _Op) -> None:
        """Queue ``op`` for the shared state (written in the background); ignored while unbound."""
        if self.key is not None:
            self.pending.append(op)
            self.kick()

    async def attempt(self, *, take: bool) -> tuple[float, str, float] | None:
        """:meth:`transaction`, reporting the outcome to the health; ``None`` when Redis is down."""
        try:
            result = await self.transaction(take=take)
        except RedisUnavailable as exc:
            self._health.mark_down(exc, self.cached, self.offset)
            return None
        self._health.mark_up()
        return result

    async def transaction(self, *, take: bool) -> tuple[float, str, float]:
        """Apply the pending operations (and, if ``take``, one :func:`reserve_detail`) atomically.

        Returns:
            ``(wait, why, now)``: :func:`reserve_detail`'s answer (0 = a permit was taken; always
            0 when not ``take``) and Redis's clock, epoch seconds.

        Raises:
            RedisUnavailable: Redis could not be reached or answered with an error.
        """
        assert self.key is not None
        if self._txn is None:
            self._txn = asyncio.Lock()
        async with self._txn:
            attempt = 0
            while True:
                try:
                    before = self._clock.time()
                    raw, seconds, micros = await self._read(keys=[self.key])
                    after = self._clock.time()
                except self._unavailable_errors as exc:
                    raise RedisUnavailable(self.describe(exc)) from None
                now = int(seconds) + int(micros) / 1_000_000
                # From here to the write's await nothing else runs: observe() may change held and
                # pending only before (counted here) or after (counted by the next transaction).
                ops = list(self.pending)
                held_now = self.held
                self.offset = now - (before + after) / 2
                old = "" if raw is None else raw.decode() if isinstance(raw, bytes) else str(raw)
                state, workers, seq = self._load(old, now)
                odd_before = state.implausible_hints
                live = {
                    w: entry
                    for w, entry in workers.items()
                    if w != self.worker_id and now - float(entry[1]) < self.settings.worker_ttl and entry[0] > 0
                }
                others = sum(int(entry[0]) for entry in live.values())
                settling = sum(1 for op in ops if isinstance(op, Observe) and op.settles)
                state.outstanding = others + held_now + settling
                self._apply(state, ops)
                wait, why = reserve_detail(state, now) if take else (0.0, "")
                granted = 1 if take and wait <= 0 else 0
                held = held_now + granted
                state.outstanding = others + held
                if held > 0:
                    live[self.worker_id] = [held, now]
                new = json.dumps(
                    {"format": _FORMAT, "seq": seq + 1, "state": _converter.unstructure(state), "workers": live},
                    separators=(",", ":"),
                )
                s = self.settings
                ttl = max(s.state_ttl, state.cooldown_until - now + s.window, s.worker_ttl)
                try:
                    written = await self._cas(keys=[self.key], args=[old, new, int(ttl * 1000)])
                except self._unavailable_errors as exc:
                    raise RedisUnavailable(self.describe(exc)) from None
                if int(written) == 1:
                    for _ in ops:
                        self.pending.popleft()
                    self.held += granted  # observe() may have settled some meanwhile
                    self.cached = state
                    self._last_write = self._clock.monotonic()
                    if state.implausible_hints > odd_before:
                        self._warn_implausible()
                    return wait, why, now
                self.conflicts += 1
                attempt += 1
                if attempt % 8 == 0:  # heavy contention: step aside briefly
                    await asyncio.sleep(random.uniform(0, 0.002 * min(attempt, 64)))

    def _load(self, old: str, now: float) -> tuple[LimiterState, dict[str, list[float]], int]:
        """The stored ``(state, workers, seq)``, with this limiter's settings, or a fresh state."""
        doc = self._decode(old)
        state: LimiterState = doc["state"] if doc else self.settings.fresh_state(now)
        workers: dict[str, list[float]] = doc["workers"] if doc else {}
        seq = int(doc["seq"]) if doc else 0
        # Our settings win: every worker should pass the same ones.
        s = self.settings
        state.rate = s.rate
        state.capacity = s.capacity
        state.tokens = min(state.tokens, s.capacity)
        state.probe = s.probe
        state.max_pause = s.pause_cap
        return state, workers, seq

    def _apply(self, state: LimiterState, ops: list[_Op]) -> None:
        """Fold the pending operations into ``state``, in order."""
        for op in ops:
            if isinstance(op, Pause):
                state.cooldown_until = max(state.cooldown_until, op.until)
                continue
            if not op.settles:
                state.outstanding += 1
            observe_response(
                state,
                status=op.status,
                headers=op.headers,
                now=op.at,
                latency=op.latency,
                aimd=None,
                fallback_pause=self.settings.fallback_pause,
            )

    def _warn_implausible(self) -> None:
        if self._warned_implausible:
            return
        self._warned_implausible = True
        log.warning(
            "The server sent a rate-limit hint beyond %.0f s; it is capped at %.0f s. "
            "Further ones are counted in the shared state's implausible_hints.",
            self.settings.pause_cap,
            self.settings.pause_cap,
        )

    def _decode(self, raw: str) -> dict[str, Any] | None:
        if not raw:
            return None
        try:
            doc = json.loads(raw)
            if not isinstance(doc, dict) or doc.get("format") != _FORMAT:
                raise ValueError("unknown format")
            doc["state"] = _converter.structure(doc["state"], LimiterState)
            workers = doc.get("workers") or {}
            if not isinstance(workers, dict):
                raise ValueError("workers is not an object")
            doc["workers"] = {str(w): [int(e[0]), float(e[1])] for w, e in workers.items()}
            return doc
        except (ValueError, TypeError, KeyError, IndexError, cattrs.BaseValidationError):
            log.warning("Redis key %s holds no readable limiter state; starting afresh", self.key)
            return None

    def describe(self, exc: BaseException) -> str:
        """``exc`` as text, with every form of the URL's password replaced by ``***``."""
        text = f"{type(exc).__name__}: {exc}"
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    # -- background writes --------------------------------------------------------------

    def kick(self) -> None:
        """Wake (or start) the background writer."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop: the next acquire writes the pending operations
        if self._wake is None:
            self._wake = asyncio.Event()
        self._wake.set()
        if self.flusher is None or self.flusher.done():
            self.flusher = loop.create_task(self._flush(), name="crm_core.redis-limiter-flush")

    async def _flush(self) -> None:
        """Write pending observations; refresh this worker's entry while requests are in flight."""
        assert self._wake is not None
        heartbeat = self.settings.worker_ttl / 3
        while self.pending or (self.held > 0 and not self._closing):
            due = self.pending or self._clock.monotonic() - self._last_write >= heartbeat
            if due:
                if await self.attempt(take=False) is None:
                    await self._clock.sleep(max(0.05, self._health.retry_in()))
                continue
            self._wake.clear()
            wait = max(0.0, heartbeat - (self._clock.monotonic() - self._last_write))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    async def aclose(self) -> None:
        """Let the background writer finish (2 s at most) and close the Redis connections."""
        self._closing = True
        if self.flusher is not None and not self.flusher.done():
            if self._wake is not None:
                self._wake.set()
            done, _ = await asyncio.wait({self.flusher}, timeout=2.0)
            if not done:
                self.flusher.cancel()
                await asyncio.wait({self.flusher})
        await self.redis.aclose()
