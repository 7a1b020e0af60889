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

Where things are: this module's :class:`RedisRateLimiter` is the ``RateLimiter`` interface and
its construction; :class:`~crm_core._redis_store.RedisStore` holds the connection, the Lua
scripts, the JSON (de)serialization, the ``workers`` bookkeeping and the background writer;
:class:`~crm_core._redis_outage.Outage` handles Redis being unreachable (``on_unavailable``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING

from multidict import CIMultiDict

from ._clock import Clock, SystemClock
from ._ratelimit import PROBE_RECHECK, LimiterSnapshot, LimiterWaitTooLong, observe_response
from ._redis_outage import Outage
from ._redis_store import (
    KEY_PREFIX,
    Observe,
    OnUnavailable,
    Pause,
    RedisStore,
    RedisUnavailable,
    Settings,
    connect,
    redact_url,
)

if TYPE_CHECKING:
    import redis.asyncio

__all__ = ["RedisRateLimiter", "redact_url"]


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
        self._url = redact_url(url) if url else "redis"
        self._settings = Settings(
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
        )
        self._explicit_key = key is not None
        self._clock = clock or SystemClock()
        self._outage = Outage(self._settings, url=self._url, clock=self._clock)
        self._store = RedisStore(client, self._settings, url=url, key=key, health=self._outage, clock=self._clock)
        self.worker_id = self._store.worker_id  # this worker's entry in the state's "workers"
        self._head: asyncio.Lock | None = None  # one acquirer per process talks to Redis
        self._response_seen: asyncio.Event | None = None  # set by observe(): wakes a probe waiter

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
        client = connect(url, connect_timeout=connect_timeout, socket_timeout=socket_timeout)
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
        return f"RedisRateLimiter(url={self._url!r}, key={self.key!r}, on_unavailable={self.on_unavailable!r})"

    @property
    def key(self) -> str | None:
        """The Redis key holding the shared state (``None`` until bound)."""
        return self._store.key

    @property
    def on_unavailable(self) -> OnUnavailable:
        """``"wait"`` or ``"local"``: what requests do while Redis cannot be reached."""
        return self._settings.on_unavailable

    @on_unavailable.setter
    def on_unavailable(self, value: OnUnavailable) -> None:
        self._settings.on_unavailable = value

    @property
    def conflicts(self) -> int:
        """Compare-and-set retries so far (for metrics and tests)."""
        return self._store.conflicts

    @property
    def fallbacks(self) -> int:
        """Outages noticed so far."""
        return self._outage.fallbacks

    @property
    def unavailable(self) -> bool:
        """Whether Redis is currently unreachable (requests follow ``on_unavailable``)."""
        return self._outage.down

    @property
    def _flusher(self) -> asyncio.Task[None] | None:
        """The background writer's task (tests cancel it to simulate a crashed worker)."""
        return self._store.flusher

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
        if max_pause is not None and self._settings.max_pause is None:
            self._settings.pause_cap = max_pause
        if self._explicit_key:
            return
        if identity is None:
            raise ValueError("this client's credential offers no digest: pass key= to RedisRateLimiter.from_url")
        digest = hashlib.sha256(f"{base_url.rstrip('/')}\n{identity}".encode()).hexdigest()[:32]
        key = f"{KEY_PREFIX}{api}:{digest}"
        if self._store.key is None:
            self._store.key = key
        elif self._store.key != key:
            raise ValueError(
                "this RedisRateLimiter already serves another API or credential; "
                "use one limiter per credential (or pass key= to share deliberately)"
            )

    async def flush(self) -> None:
        """Write the pending observations to Redis now (they are otherwise written in the background).

        Raises:
            RuntimeError: Redis could not be reached (the message hides the password).
        """
        if self._store.key is None or not self._store.pending:
            return
        try:
            await self._store.transaction(take=False)
        except RedisUnavailable as exc:
            raise RuntimeError(f"Redis at {self._url} is unreachable: {exc}") from None

    async def aclose(self) -> None:
        """Flush pending observations (best effort, 2 s at most) and close the Redis connections."""
        await self._store.aclose()

    # -- the RateLimiter interface ------------------------------------------------------

    async def acquire(self, *, max_wait: float | None = None) -> float:
        """Wait until one request may leave; return the seconds waited.

        Raises:
            LimiterWaitTooLong: the shared wait (cooldown, server window) exceeds ``max_wait``.
            RuntimeError: no key (not bound to a client and no ``key=``).
        """
        store = self._store
        if store.key is None:
            raise RuntimeError("RedisRateLimiter has no key: pass key= or give it to a client (limiter=)")
        if self._head is None:
            self._head = asyncio.Lock()
        started = self._clock.monotonic()
        if self._response_seen is None:
            self._response_seen = asyncio.Event()
        async with self._head:
            while True:
                if self._outage.due():
                    self._response_seen.clear()
                    answer = await store.attempt(take=True)
                    if answer is not None:
                        wait, why, now = answer
                        if wait <= 0:
                            store.kick()  # keeps this worker's in-flight count fresh in Redis
                            return self._clock.monotonic() - started
                        if why == "probe":
                            # Behind a probe (any worker's): re-check when a response arrives
                            # here, or every PROBE_RECHECK seconds for other workers' answers.
                            with contextlib.suppress(TimeoutError):
                                await asyncio.wait_for(self._response_seen.wait(), min(wait, PROBE_RECHECK))
                            continue
                        if max_wait is not None and wait > max_wait:
                            raise LimiterWaitTooLong(wait, now - store.offset + wait)
                        await self._clock.sleep(wait)
                        continue
                # Redis is down.
                if await self._outage.wait_or_take(max_wait, store.cached, store.offset):
                    return self._clock.monotonic() - started

    def observe(self, *, status: int | None, headers: Mapping[str, str], latency: float | None) -> float | None:
        """Fold a response into the shared state (written to Redis in the background).

        Returns:
            The cooldown this response started, seconds, or ``None``.
        """
        store = self._store
        settles = store.settle()
        at = store.now()
        kept = CIMultiDict(headers)
        pause, _ = observe_response(
            store.cached_for_op(settles),
            status=status,
            headers=kept,
            now=at,
            latency=latency,
            aimd=None,
            fallback_pause=self._settings.fallback_pause,
        )
        local_pause = self._outage.observe(status=status, headers=kept, latency=latency)
        if local_pause is not None:
            pause = max(pause or 0.0, local_pause)
        store.submit(Observe(status=status, headers=kept, latency=latency, at=at, settles=settles))
        if self._response_seen is not None:
            self._response_seen.set()
        return pause

    def pause(self, seconds: float) -> None:
        """Start (or extend) a shared cooldown of ``seconds`` for every worker."""
        store = self._store
        until = store.now() + seconds
        store.cached.cooldown_until = max(store.cached.cooldown_until, until)
        self._outage.pause(seconds)
        store.submit(Pause(until=until))

    def wait_time(self) -> float:
        """Seconds a new request would wait for the shared cooldown, as last seen (0 when none)."""
        return max(0.0, self._store.cached.cooldown_until - self._store.now(), self._outage.wait_time())

    def snapshot(self) -> LimiterSnapshot:
        """The shared state as of this worker's last transaction."""
        return self._store.snapshot()
