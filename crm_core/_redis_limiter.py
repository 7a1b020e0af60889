"""A rate limiter whose state lives in Redis, shared by every process and machine naming one key.

The pacing rules are not re-implemented here. Redis holds the same :class:`LimiterState` the
in-process limiter uses, serialized as JSON, and every decision runs the same pure functions
(:func:`~crm_core._ratelimit.reserve_detail`, :func:`~crm_core._ratelimit.observe_response`) inside an
optimistic transaction: read the state and Redis's clock, decide in Python, then write the new
state only if nobody changed it in between (a three-line Lua compare-and-set); on a conflict,
read again and decide again. So N processes on M machines share one token bucket, one count of
the server's remaining budget, and one cooldown after a 429, and follow every rule the local
limiter follows.

Redis data layout (one string key per API and credential)::

    crm-async:ratelimit:<api>:<digest>  ->  JSON, with a TTL (PX)
    {
      "format": 1,
      "seq": 1234,                      # bumped on every write
      "state": {...LimiterState...},    # rate, tokens, cooldown_until, server_remaining, ...
      "workers": {"<worker id>": [outstanding, last_seen], ...}
    }

``<digest>`` is a SHA-256 of the base URL and the credential's digest (never the secret).
``state.outstanding`` (requests sent, response not yet seen) is the sum of the live workers'
counts: a worker writes its own count on every transaction and refreshes it while it has
requests in flight, so a worker that dies stops counting after ``worker_ttl`` seconds. The key
expires ``state_ttl`` seconds after its last write (never before a cooldown in it ends).

Time: every decision uses Redis's clock (``TIME``), so the workers' own clocks need not agree;
local clocks only measure durations (sleeps). ``X-RateLimit-Reset`` epoch values are compared
with Redis's clock, so the Redis host's clock should be NTP-synced, as a single machine's would.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import copy
import hashlib
import json
import logging
import math
import os
import random
import re
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote, unquote

import attrs
import cattrs
from multidict import CIMultiDict

from ._clock import Clock, SystemClock
from ._ratelimit import (
    PROBE_RECHECK,
    LimiterSnapshot,
    LimiterState,
    LimiterWaitTooLong,
    LocalRateLimiter,
    observe_response,
    reserve_detail,
)

if TYPE_CHECKING:
    import redis.asyncio

__all__ = ["RedisRateLimiter"]

log = logging.getLogger("crm_core.redis")

OnUnavailable = Literal["wait", "local"]

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


@attrs.frozen
class _Observe:
    status: int | None
    headers: Mapping[str, str]
    latency: float | None
    at: float  # Redis clock
    settles: bool  # ends one of this worker's shared permits


@attrs.frozen
class _Pause:
    until: float  # Redis clock


_Op = _Observe | _Pause


class RedisUnavailable(Exception):
    """Internal: Redis could not be reached (the message is redacted)."""


class RedisRateLimiter:
    """A :class:`~crm_core.RateLimiter` shared through Redis by every client that names one key.

    Build it with :meth:`from_url`. Give it to ``LoftyClient(..., limiter=...)`` or
    ``SuperfoneClient(..., limiter=...)``; without ``key=``, the client binds it to its API and
    credential, so every worker with the same credential shares one budget without further
    configuration. One instance serves one API and credential; it may be shared by any number of
    clients of that credential in one process (one event loop).

    Shared, across processes and machines: the token bucket (``requests`` per ``window``), the
    server's ``X-RateLimit-Limit/-Remaining/-Reset`` readings with the remaining budget counted
    down as requests leave, and the cooldown after a 429. Not supported: AIMD adaptation.

    Args:
        client: A ``redis.asyncio.Redis`` client (decode_responses off or on).
        url: The URL ``client`` was built from, for messages (redacted before any use).
        key: The Redis key; ``None`` to let the first client bind it to
            ``crm-async:ratelimit:<api>:<digest of base URL and credential>``.
        requests: The shared token bucket's size per ``window`` (all workers together), or
            ``None`` for no bucket (server pacing and cooldowns still apply). Needed by
            ``on_unavailable="local"``.
        window: The bucket's window, seconds.
        burst: Bucket size (largest burst), requests; default ``max(1, requests / 10)``.
        fallback_pause: First pause after a 429 without a hint, seconds (doubles per 429).
        probe: Requests sent, by all workers together, while the server's budget is unknown
            (first request, or a window that just rolled over); the others wait for the first
            response's headers.
        max_pause: Longest plausible server pause or window, seconds; longer hints are capped
            (logged once per process). Default: the client's API's window (Lofty: 60 s), else 60.
        on_unavailable: When Redis cannot be reached: ``"wait"`` (requests wait, the connection
            is retried with backoff up to ``max_backoff``) or ``"local"`` (each worker paces itself
            at ``requests / expected_workers`` per ``window`` until Redis answers again). Logged
            once per outage, at WARNING, with the URL's password hidden.
        expected_workers: How many workers share the limit (for the ``"local"`` fallback share).
        worker_ttl: Seconds after which a silent worker's in-flight requests stop counting.
        state_ttl: Seconds an unused key lives.
        max_backoff: Longest pause between connection attempts, seconds.
        clock: Local time source for sleeps (decisions use Redis's clock).

    Raises:
        ValueError: A setting out of range, or ``on_unavailable="local"`` without ``requests``
            and ``expected_workers``.
    """

    def __init__(
        self,
        client: redis.asyncio.Redis,
        *,
        url: str = "",
        key: str | None = None,
        requests: float | None = None,
        window: float = 60.0,
        burst: float | None = None,
        fallback_pause: float = 1.0,
        probe: int = 1,
        max_pause: float | None = None,
        on_unavailable: OnUnavailable = "wait",
        expected_workers: int | None = None,
        worker_ttl: float = 60.0,
        state_ttl: float = 600.0,
        max_backoff: float = 5.0,
        clock: Clock | None = None,
    ) -> None:
        import redis.exceptions

        if requests is not None and (requests <= 0 or window <= 0):
            raise ValueError(f"requests={requests!r} per window={window!r}: both must be > 0")
        if on_unavailable not in ("wait", "local"):
            raise ValueError(f"on_unavailable={on_unavailable!r} is not valid: expected 'wait' or 'local'")
        if expected_workers is not None and expected_workers < 1:
            raise ValueError(f"expected_workers={expected_workers!r} is not valid: expected an int >= 1")
        if on_unavailable == "local" and (requests is None or expected_workers is None):
            raise ValueError(
                "on_unavailable='local' paces each worker at requests / expected_workers per window: "
                "pass requests=, window= (the API's limit, e.g. Lofty: 500 per 60 s) and expected_workers="
            )
        if probe < 1:
            raise ValueError(f"probe={probe!r} is not valid: expected an integer >= 1")
        if max_pause is not None and max_pause <= 0:
            raise ValueError(f"max_pause={max_pause!r} is not valid: expected seconds > 0")
        if worker_ttl <= 0 or state_ttl <= 0 or max_backoff <= 0:
            raise ValueError("worker_ttl, state_ttl and max_backoff must be seconds > 0")
        self._redis = client
        self._url = redact_url(url) if url else "redis"
        self._secrets = _password_forms(url)
        self._key = key
        self._explicit_key = key is not None
        self._rate = None if requests is None else requests / window
        self._capacity = burst if burst is not None else max(1.0, (requests or 0.0) / 10.0)
        self._requests = requests
        self._window = window
        self._fallback_pause = fallback_pause
        self._probe = probe
        self._max_pause = max_pause if max_pause is not None else 60.0
        self._explicit_max_pause = max_pause is not None
        self._warned_implausible = False
        self._response_seen: asyncio.Event | None = None  # set by observe(): wakes a probe waiter
        self.on_unavailable: OnUnavailable = on_unavailable
        self._expected_workers = expected_workers
        self._worker_ttl = worker_ttl
        self._state_ttl = state_ttl
        self._max_backoff = max_backoff
        self._clock = clock or SystemClock()
        # Every Redis error counts as unavailability (logged once with its reason): a wrong
        # password or a full server must not let requests through unpaced.
        self._unavailable_errors: tuple[type[BaseException], ...] = (redis.exceptions.RedisError, OSError)
        self._read = client.register_script(_READ_LUA)
        self._cas = client.register_script(_CAS_LUA)
        self.worker_id = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        # What this worker knows; refreshed by every transaction.
        self._cached = self._fresh_state(0.0)
        self._offset = 0.0  # Redis clock minus local clock, seconds
        self._held = 0  # shared permits taken by this worker whose response is not yet observed
        self._pending: collections.deque[_Op] = collections.deque(maxlen=10_000)
        self._last_write = -math.inf  # local monotonic time of our last successful write
        self._head: asyncio.Lock | None = None  # one acquirer per process talks to Redis
        self._txn: asyncio.Lock | None = None  # one transaction at a time per process
        self._flusher: asyncio.Task[None] | None = None
        self._closing = False
        self._wake: asyncio.Event | None = None
        # Outage handling.
        self._down_since: float | None = None  # local monotonic time the outage was noticed
        self._next_try = 0.0  # local monotonic time of the next connection attempt
        self._failures = 0
        self._local: LocalRateLimiter | None = None
        self.conflicts = 0  # compare-and-set retries (for metrics and tests)
        self.fallbacks = 0  # outages noticed

    # -- construction -------------------------------------------------------------------

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        key: str | None = None,
        requests: float | None = None,
        window: float = 60.0,
        burst: float | None = None,
        fallback_pause: float = 1.0,
        probe: int = 1,
        max_pause: float | None = None,
        on_unavailable: OnUnavailable = "wait",
        expected_workers: int | None = None,
        worker_ttl: float = 60.0,
        state_ttl: float = 600.0,
        max_backoff: float = 5.0,
        connect_timeout: float = 1.0,
        socket_timeout: float = 2.0,
        clock: Clock | None = None,
    ) -> RedisRateLimiter:
        """A limiter on the Redis server at ``url``; nothing is connected until the first request.

        Args:
            url: ``redis://[[user]:password@]host[:port][/db]`` (or ``rediss://``, ``unix://``).
                The password never appears in logs, errors or ``repr``.
            key: The Redis key all sharing workers name; default: bound by the client to its API
                and a digest of its credential.
            requests, window, burst, fallback_pause, probe, max_pause, on_unavailable,
                expected_workers, worker_ttl, state_ttl, max_backoff, clock: See
                :class:`RedisRateLimiter`.
            connect_timeout: Seconds to open a connection to Redis.
            socket_timeout: Seconds to wait for a Redis reply.

        Raises:
            ImportError: redis-py is not installed (``pip install 'crm-async[redis]'``).
            ValueError: An unusable URL or setting (the message never shows the password).
        """
        try:
            import redis.asyncio
            from redis.asyncio.retry import Retry
            from redis.backoff import NoBackoff
        except ImportError as exc:  # pragma: no cover - the dev extra installs redis
            raise ImportError("RedisRateLimiter needs redis-py: pip install 'crm-async[redis]'") from exc
        try:
            client = redis.asyncio.Redis.from_url(
                url,
                socket_connect_timeout=connect_timeout,
                socket_timeout=socket_timeout,
                # One immediate retry (a pooled connection gone stale after a Redis restart);
                # longer outages are ours to handle: logged once, then on_unavailable.
                retry=Retry(NoBackoff(), 1),
            )
        except ValueError:
            raise ValueError(f"Redis URL {redact_url(url)!r} is not valid") from None
        return cls(
            client,
            url=url,
            key=key,
            requests=requests,
            window=window,
            burst=burst,
            fallback_pause=fallback_pause,
            probe=probe,
            max_pause=max_pause,
            on_unavailable=on_unavailable,
            expected_workers=expected_workers,
            worker_ttl=worker_ttl,
            state_ttl=state_ttl,
            max_backoff=max_backoff,
            clock=clock,
        )

    def __repr__(self) -> str:
        return f"RedisRateLimiter(url={self._url!r}, key={self._key!r}, on_unavailable={self.on_unavailable!r})"

    @property
    def key(self) -> str | None:
        """The Redis key holding the shared state (``None`` until bound)."""
        return self._key

    def bind(self, *, api: str, base_url: str, identity: str | None, max_pause: float | None = None) -> None:
        """Called by a client: name the key after its API and credential (unless ``key=`` was given).

        Args:
            api: The SDK's name (``"lofty_async"``).
            base_url: The API root the client talks to.
            identity: A digest of the client's credential (never the secret), or ``None`` when
                the credential offers none.
            max_pause: The API's longest plausible pause (its window), seconds, used unless
                ``max_pause=`` was given.

        Raises:
            ValueError: This limiter is already bound to another API or credential, or the
                credential has no digest and no ``key=`` was given.
        """
        if max_pause is not None and not self._explicit_max_pause:
            self._max_pause = max_pause
        if self._explicit_key:
            return
        if identity is None:
            raise ValueError("this client's credential offers no digest: pass key= to RedisRateLimiter.from_url")
        digest = hashlib.sha256(f"{base_url.rstrip('/')}\n{identity}".encode()).hexdigest()[:32]
        key = f"{KEY_PREFIX}{api}:{digest}"
        if self._key is None:
            self._key = key
        elif self._key != key:
            raise ValueError(
                "this RedisRateLimiter already serves another API or credential; "
                "use one limiter per credential (or pass key= to share deliberately)"
            )

    async def flush(self) -> None:
        """Write the pending observations to Redis now (they are otherwise written in the background).

        Raises:
            RuntimeError: Redis could not be reached (the message hides the password).
        """
        if self._key is None or not self._pending:
            return
        try:
            await self._transaction(take=False)
        except RedisUnavailable as exc:
            raise RuntimeError(f"Redis at {self._url} is unreachable: {exc}") from None

    async def aclose(self) -> None:
        """Flush pending observations (best effort, 2 s at most) and close the Redis connections."""
        self._closing = True
        if self._flusher is not None and not self._flusher.done():
            if self._wake is not None:
                self._wake.set()
            done, _ = await asyncio.wait({self._flusher}, timeout=2.0)
            if not done:
                self._flusher.cancel()
                await asyncio.wait({self._flusher})
        await self._redis.aclose()

    # -- the RateLimiter interface ------------------------------------------------------

    async def acquire(self, *, max_wait: float | None = None) -> float:
        """Wait until one request may leave; return the seconds waited.

        Raises:
            LimiterWaitTooLong: the shared wait (cooldown, server window) exceeds ``max_wait``.
            RuntimeError: no key (not bound to a client and no ``key=``).
        """
        if self._key is None:
            raise RuntimeError("RedisRateLimiter has no key: pass key= or give it to a client (limiter=)")
        if self._head is None:
            self._head = asyncio.Lock()
        started = self._clock.monotonic()
        if self._response_seen is None:
            self._response_seen = asyncio.Event()
        async with self._head:
            while True:
                now_local = self._clock.monotonic()
                if self._down_since is None or now_local >= self._next_try:
                    self._response_seen.clear()
                    try:
                        wait, why, now = await self._transaction(take=True)
                    except RedisUnavailable as exc:
                        self._mark_down(exc)
                    else:
                        self._mark_up()
                        if wait <= 0:
                            self._kick()  # keeps this worker's in-flight count fresh in Redis
                            return self._clock.monotonic() - started
                        if why == "probe":
                            # Behind a probe (any worker's): re-check when a response arrives
                            # here, or every PROBE_RECHECK seconds for other workers' answers.
                            with contextlib.suppress(TimeoutError):
                                await asyncio.wait_for(self._response_seen.wait(), min(wait, PROBE_RECHECK))
                            continue
                        if max_wait is not None and wait > max_wait:
                            raise LimiterWaitTooLong(wait, now - self._offset + wait)
                        await self._clock.sleep(wait)
                        continue
                # Redis is down.
                retry_in = max(0.0, self._next_try - self._clock.monotonic())
                if self.on_unavailable == "wait":
                    await self._clock.sleep(retry_in)
                    continue
                local = self._fallback()
                wait, why = reserve_detail(local.state, self._clock.time())
                if wait <= 0:
                    return self._clock.monotonic() - started
                if why == "probe":
                    wait = min(wait, PROBE_RECHECK)
                elif max_wait is not None and wait > max_wait:
                    raise LimiterWaitTooLong(wait, self._clock.time() + wait)
                await self._clock.sleep(min(wait, retry_in) if retry_in > 0 else wait)

    def observe(self, *, status: int | None, headers: Mapping[str, str], latency: float | None) -> float | None:
        """Fold a response into the shared state (written to Redis in the background).

        Returns:
            The cooldown this response started, seconds, or ``None``.
        """
        settles = self._held > 0
        if settles:
            self._held -= 1
        at = self._clock.time() + self._offset
        kept = CIMultiDict(headers)
        pause, _ = observe_response(
            self._cached_for_op(settles),
            status=status,
            headers=kept,
            now=at,
            latency=latency,
            aimd=None,
            fallback_pause=self._fallback_pause,
        )
        if self._local is not None and self._down_since is not None:
            local_pause = self._local.observe(status=status, headers=kept, latency=latency)
            if local_pause is not None:
                pause = max(pause or 0.0, local_pause)
        if self._key is not None:
            self._pending.append(_Observe(status=status, headers=kept, latency=latency, at=at, settles=settles))
            self._kick()
        if self._response_seen is not None:
            self._response_seen.set()
        return pause

    def pause(self, seconds: float) -> None:
        """Start (or extend) a shared cooldown of ``seconds`` for every worker."""
        until = self._clock.time() + self._offset + seconds
        self._cached.cooldown_until = max(self._cached.cooldown_until, until)
        if self._local is not None:
            self._local.pause(seconds)
        if self._key is not None:
            self._pending.append(_Pause(until=until))
            self._kick()

    def wait_time(self) -> float:
        """Seconds a new request would wait for the shared cooldown, as last seen (0 when none)."""
        wait = max(0.0, self._cached.cooldown_until - (self._clock.time() + self._offset))
        if self._local is not None and self._down_since is not None:
            wait = max(wait, self._local.wait_time())
        return wait

    def snapshot(self) -> LimiterSnapshot:
        """The shared state as of this worker's last transaction."""
        s = self._cached
        now = self._clock.time() + self._offset
        return LimiterSnapshot(
            rate=s.rate,
            tokens=s.tokens,
            cooldown_remaining=max(0.0, s.cooldown_until - now),
            server_limit=s.server_limit,
            server_remaining=s.server_remaining,
            server_reset=s.server_reset,
            concurrency_limit=None,
        )

    @property
    def unavailable(self) -> bool:
        """Whether Redis is currently unreachable (requests follow ``on_unavailable``)."""
        return self._down_since is not None

    # -- the transaction ----------------------------------------------------------------

    def _fresh_state(self, now: float) -> LimiterState:
        return LimiterState(
            rate=self._rate,
            capacity=self._capacity,
            tokens=self._capacity,
            refilled_at=now,
            probe=self._probe,
            max_pause=self._max_pause,
        )

    def _cached_for_op(self, settles: bool) -> LimiterState:
        if not settles:
            self._cached.outstanding += 1  # observe_response settles one; this one was never counted
        return self._cached

    async def _transaction(self, *, take: bool) -> tuple[float, str, float]:
        """Apply the pending operations (and, if ``take``, one :func:`reserve_detail`) atomically.

        Returns:
            ``(wait, why, now)``: :func:`reserve_detail`'s answer (0 = a permit was taken; always
            0 when not ``take``) and Redis's clock, epoch seconds.

        Raises:
            RedisUnavailable: Redis could not be reached or answered with an error.
        """
        assert self._key is not None
        if self._txn is None:
            self._txn = asyncio.Lock()
        async with self._txn:
            attempt = 0
            while True:
                try:
                    before = self._clock.time()
                    raw, seconds, micros = await self._read(keys=[self._key])
                    after = self._clock.time()
                except self._unavailable_errors as exc:
                    raise RedisUnavailable(self._describe(exc)) from None
                now = int(seconds) + int(micros) / 1_000_000
                # From here to the write's await nothing else runs: observe() may change _held and
                # _pending only before (counted here) or after (counted by the next transaction).
                ops = list(self._pending)
                held_now = self._held
                self._offset = now - (before + after) / 2
                old = "" if raw is None else raw.decode() if isinstance(raw, bytes) else str(raw)
                doc = self._decode(old)
                state: LimiterState = doc["state"] if doc else self._fresh_state(now)
                workers: dict[str, list[float]] = doc["workers"] if doc else {}
                seq = int(doc["seq"]) if doc else 0
                # Our settings win: every worker should pass the same ones.
                state.rate = self._rate
                state.capacity = self._capacity
                state.tokens = min(state.tokens, self._capacity)
                state.probe = self._probe
                state.max_pause = self._max_pause
                odd_before = state.implausible_hints
                live = {
                    w: entry
                    for w, entry in workers.items()
                    if w != self.worker_id and now - float(entry[1]) < self._worker_ttl and entry[0] > 0
                }
                others = sum(int(entry[0]) for entry in live.values())
                settling = sum(1 for op in ops if isinstance(op, _Observe) and op.settles)
                state.outstanding = others + held_now + settling
                for op in ops:
                    if isinstance(op, _Pause):
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
                        fallback_pause=self._fallback_pause,
                    )
                wait, why = reserve_detail(state, now) if take else (0.0, "")
                granted = 1 if take and wait <= 0 else 0
                held = held_now + granted
                state.outstanding = others + held
                if held > 0:
                    live[self.worker_id] = [held, now]
                new = json.dumps(
                    {
                        "format": _FORMAT,
                        "seq": seq + 1,
                        "state": _converter.unstructure(state),
                        "workers": live,
                    },
                    separators=(",", ":"),
                )
                ttl = max(self._state_ttl, state.cooldown_until - now + self._window, self._worker_ttl)
                try:
                    written = await self._cas(keys=[self._key], args=[old, new, int(ttl * 1000)])
                except self._unavailable_errors as exc:
                    raise RedisUnavailable(self._describe(exc)) from None
                if int(written) == 1:
                    for _ in ops:
                        self._pending.popleft()
                    self._held += granted  # observe() may have settled some meanwhile
                    self._cached = state
                    self._last_write = self._clock.monotonic()
                    if state.implausible_hints > odd_before and not self._warned_implausible:
                        self._warned_implausible = True
                        log.warning(
                            "The server sent a rate-limit hint beyond %.0f s; it is capped at %.0f s. "
                            "Further ones are counted in the shared state's implausible_hints.",
                            self._max_pause,
                            self._max_pause,
                        )
                    return wait, why, now
                self.conflicts += 1
                attempt += 1
                if attempt % 8 == 0:  # heavy contention: step aside briefly
                    await asyncio.sleep(random.uniform(0, 0.002 * min(attempt, 64)))

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
            log.warning("Redis key %s holds no readable limiter state; starting afresh", self._key)
            return None

    # -- background writes --------------------------------------------------------------

    def _kick(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop: the next acquire writes the pending operations
        if self._wake is None:
            self._wake = asyncio.Event()
        self._wake.set()
        if self._flusher is None or self._flusher.done():
            self._flusher = loop.create_task(self._flush(), name="crm_core.redis-limiter-flush")

    async def _flush(self) -> None:
        """Write pending observations; refresh this worker's entry while requests are in flight."""
        assert self._wake is not None
        heartbeat = self._worker_ttl / 3
        while self._pending or (self._held > 0 and not self._closing):
            due = self._pending or self._clock.monotonic() - self._last_write >= heartbeat
            if due:
                try:
                    await self._transaction(take=False)
                except RedisUnavailable as exc:
                    self._mark_down(exc)
                    await self._clock.sleep(max(0.05, self._next_try - self._clock.monotonic()))
                    continue
                self._mark_up()
                continue
            self._wake.clear()
            wait = max(0.0, heartbeat - (self._clock.monotonic() - self._last_write))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    # -- outages ------------------------------------------------------------------------

    def _describe(self, exc: BaseException) -> str:
        text = f"{type(exc).__name__}: {exc}"
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _mark_down(self, exc: RedisUnavailable) -> None:
        now = self._clock.monotonic()
        self._failures += 1
        backoff = min(self._max_backoff, 0.1 * 2 ** min(self._failures - 1, 10))
        self._next_try = now + random.uniform(backoff / 2, backoff)
        if self._down_since is not None:
            return
        self._down_since = now
        self.fallbacks += 1
        if self.on_unavailable == "local":
            self._fallback()
            share = (self._requests or 0.0) / (self._expected_workers or 1)
            log.warning(
                "Redis rate limiter at %s is unreachable (%s); pacing this worker alone at %.4g requests "
                "per %.4g s (1/%d of the limit) until it answers",
                self._url,
                exc,
                share,
                self._window,
                self._expected_workers,
            )
        else:
            log.warning(
                "Redis rate limiter at %s is unreachable (%s); requests wait and the connection is retried",
                self._url,
                exc,
            )

    def _mark_up(self) -> None:
        self._failures = 0
        if self._down_since is None:
            return
        outage = self._clock.monotonic() - self._down_since
        self._down_since = None
        self._local = None
        log.warning("Redis rate limiter at %s answers again after %.1f s; sharing the limit again", self._url, outage)

    def _fallback(self) -> LocalRateLimiter:
        """This worker's conservative local share, seeded from the last shared state seen."""
        if self._local is None:
            workers = self._expected_workers or 1
            local = LocalRateLimiter(
                requests=(self._requests or 1.0) / workers,
                window=self._window,
                burst=1.0,
                fallback_pause=self._fallback_pause,
                probe=self._probe,
                max_pause=self._max_pause,
                clock=self._clock,
            )
            local.state.tokens = 0.0  # the shared bucket's tokens may have been spent elsewhere
            seen = copy.copy(self._cached)
            to_local = -self._offset
            local.state.cooldown_until = seen.cooldown_until + to_local
            local.state.server_limit = seen.server_limit
            if seen.server_reset is not None and seen.server_remaining is not None:
                local.state.server_reset = seen.server_reset + to_local
                local.state.server_remaining = math.floor(max(0.0, seen.server_remaining) / workers)
            self._local = local
        return self._local


def _password_forms(url: str) -> list[str]:
    """The URL's password as written, decoded and re-encoded (longest first), to scrub from text."""
    found: set[str] = set()
    _, _, rest = url.partition("://")
    userinfo, at, _ = rest.split("/", 1)[0].rpartition("@")
    if at and ":" in userinfo:
        found.add(userinfo.split(":", 1)[1])
    found.update(match.group(1) for match in re.finditer(r"[?&]password=([^&#]*)", url, re.IGNORECASE))
    forms = {form for raw in found if raw for form in (raw, unquote(raw), quote(unquote(raw), safe=""))}
    return sorted(forms, key=len, reverse=True)
