"""Exactly-once creates on APIs without idempotency keys.

A create that fails ambiguously (timeout or reset after the body left, 500, 502, 504, a 2xx
whose body was lost or unusable) may or may not have landed. Re-sending blindly risks a
duplicate; giving up risks losing the write. :func:`send_create_once` does neither:

1. send (the session retries failures that show the write did not happen);
2. after an ambiguous failure, **look the write up** (the SDK lists the parent record's
   children and matches the fields sent), repeatedly with backoff for a **settle period**
   (a server may store the write after the client gave up waiting);
3. found: return it as created. Still absent after the settle period: re-send, in the same
   retry loop (and reconcile again if that is ambiguous too). Lookup failed: raise
   :class:`~crm_core.ReconciliationError`, never a duplicate.

Identical intended writes (two equal rows in one job) must not be merged: a
:class:`CreateLedger` remembers which records this client or job already landed, and a
candidate already claimed is never taken for a new write. Candidates created well before the
write was first sent (older than ``sent_at - skew``) are ignored too.

A caller-supplied ``dedupe_key`` makes a create idempotent on the client side: the ledger maps
the key to the record created for it, and a second create with the same key returns that
record without sending.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import json
import time
from array import array
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Hashable, Iterable, Iterator
from collections.abc import Set as AbstractSet
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar, cast

import attrs

from ._errors import (
    APIError,
    APIResponseValidationError,
    NotFoundError,
    Outcome,
    ReconcilePending,
    ReconciliationError,
)
from ._events import Event, EventKind
from ._session import HTTPSession, Request, Response

__all__ = [
    "Candidate",
    "CreateLedger",
    "DedupeStore",
    "ReconcileSettings",
    "send_create_once",
]

T = TypeVar("T")
IdT = TypeVar("IdT", bound=Hashable)


@attrs.frozen(kw_only=True)
class Candidate(Generic[IdT, T]):
    """A record found by a lookup that matches the fields of the write.

    Attributes:
        id: The record's ID.
        created_at: When the server says it was created (aware), or ``None`` if unknown.
        value: What the create call returns for it (an ID, a model).
    """

    id: IdT
    created_at: datetime | None
    value: T


class DedupeStore(Protocol):
    """Where dedupe keys are remembered (in memory by default; the import journal persists)."""

    def get(self, key: str) -> Hashable | None:
        """The record ID created for ``key``, or ``None``."""
        ...

    def put(self, key: str, record_id: Hashable) -> None:
        """Remember that ``key`` created ``record_id``."""
        ...


class _MemoryDedupe:
    def __init__(self) -> None:
        self._keys: dict[str, Hashable] = {}

    def get(self, key: str) -> Hashable | None:
        return self._keys.get(key)

    def put(self, key: str, record_id: Hashable) -> None:
        self._keys[key] = record_id


_INT64 = (-(2**63), 2**63)


class _ClaimedIds(AbstractSet[Hashable]):
    """Claimed IDs in claim order, expiring oldest first; integer IDs packed into 8 bytes each.

    The newest claims sit in a dict (ID to claim time, in claim order); every ``block`` of them
    is sealed into a sorted ``array('q')`` (a ``frozenset`` when any ID is not a 64-bit integer)
    stamped with its newest claim's time. Sealed blocks expire whole, so an ID can be kept a
    little longer than ``retention``, never shorter (keeping one of our own IDs longer is safe).
    """

    def __init__(self, block: int = 1024) -> None:
        self._open: dict[Hashable, float] = {}
        self._blocks: deque[tuple[float, array[int] | frozenset[Hashable]]] = deque()
        self._sealed = 0
        self._block = block

    def add(self, record_id: Hashable, now: float) -> None:
        self._open.pop(record_id, None)
        self._open[record_id] = now
        if len(self._open) >= self._block:
            ids = list(self._open)
            packed = all(type(i) is int and _INT64[0] <= i < _INT64[1] for i in ids)
            self._blocks.append((now, array("q", sorted(cast("list[int]", ids))) if packed else frozenset(ids)))
            self._sealed += len(ids)
            self._open = {}

    def expire(self, horizon: float, most: int) -> None:
        """Drop IDs claimed before ``horizon`` and the oldest beyond ``most``."""
        blocks = self._blocks
        while blocks and (blocks[0][0] < horizon or len(self) > most):
            self._sealed -= len(blocks.popleft()[1])
        opened = self._open
        while opened and (len(self) > most or next(iter(opened.values())) < horizon):
            del opened[next(iter(opened))]

    def __contains__(self, record_id: object) -> bool:
        if record_id in self._open:
            return True
        for _, ids in self._blocks:
            if isinstance(ids, frozenset):
                if record_id in ids:
                    return True
            elif type(record_id) is int:
                at = bisect.bisect_left(ids, record_id)
                if at < len(ids) and ids[at] == record_id:
                    return True
        return False

    def __iter__(self) -> Iterator[Hashable]:
        for _, ids in self._blocks:
            yield from ids
        yield from self._open

    def __len__(self) -> int:
        return self._sealed + len(self._open)


class CreateLedger:
    """The records a client (or a bulk job) has created, so identical writes stay distinct.

    Memory stays flat however many rows a job creates: an ID matters only while a later write's
    lookup could still take it for its own, that is while it is younger than the lookup's time
    filter (``ReconcileSettings.skew``). IDs are kept for ``retention`` seconds (default 600 s,
    twice the default skew) and at most ``max_claimed`` of them (default 200,000), oldest
    dropped first. Integer IDs are packed 8 bytes each (200,000 of them take about 1.6 MB).

    Concurrent creates that share a ``dedupe_key`` are serialised here: the first one sends,
    the others wait for it and return its record.

    Args:
        dedupe: Store for caller-supplied dedupe keys (default: in memory).
        retention: Seconds a claimed ID is remembered.
        max_claimed: Most IDs remembered at once.
        clock: Monotonic seconds (default :func:`time.monotonic`).
    """

    def __init__(
        self,
        *,
        dedupe: DedupeStore | None = None,
        retention: float = 600.0,
        max_claimed: int = 200_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._claimed = _ClaimedIds()
        self.dedupe: DedupeStore = dedupe or _MemoryDedupe()
        self.retention = retention
        self.max_claimed = max_claimed
        self._clock = clock
        self._claims = 0
        self.in_flight: dict[str, asyncio.Future[Hashable | None]] = {}
        self._results: OrderedDict[str, object] = OrderedDict()
        self._settling: dict[str, tuple[asyncio.Lock, list[int]]] = {}

    def remember(self, dedupe_key: str, value: object) -> None:
        """Keep the result a ``dedupe_key`` created (the most recent ``max_claimed`` keys), so a
        repeat returns it even while the server does not show the record yet."""
        self._results[dedupe_key] = value
        self._results.move_to_end(dedupe_key)
        while len(self._results) > self.max_claimed:
            self._results.popitem(last=False)

    def recall(self, dedupe_key: str) -> tuple[bool, object]:
        """``(True, result)`` when this ledger created ``dedupe_key``'s record, else ``(False, None)``."""
        if dedupe_key in self._results:
            return True, self._results[dedupe_key]
        return False, None

    @contextlib.asynccontextmanager
    async def settling(self, signature: str) -> AsyncIterator[None]:
        """One settle at a time per write ``signature`` (method, path and body).

        Identical writes are told apart only by which record each claims. Were two of them
        settling at once, one could claim the other's record and, its own still in flight, run
        out of settle period and re-send. Taking turns, each gets its full settle period.
        """
        entry = self._settling.get(signature)
        if entry is None:
            entry = self._settling[signature] = (asyncio.Lock(), [0])
        lock, users = entry
        users[0] += 1
        try:
            async with lock:
                yield
        finally:
            users[0] -= 1
            if users[0] == 0:
                self._settling.pop(signature, None)

    @property
    def claimed(self) -> AbstractSet[Hashable]:
        """IDs of records known to have been created by us (within ``retention``), oldest first."""
        self._expire()
        return self._claimed

    def __contains__(self, record_id: object) -> bool:
        return record_id in self._claimed

    def claim(self, record_id: Hashable, dedupe_key: str | None = None) -> None:
        """Record that ``record_id`` was created by us (for ``dedupe_key``, if any).

        Expired IDs are dropped every 64 claims (and whenever :attr:`claimed` is read), so the
        ledger may briefly hold up to 63 more than ``max_claimed``, never fewer than it should.
        """
        now = self._clock()
        self._claimed.add(record_id, now)
        self._claims += 1
        if not self._claims & 63:
            self._claimed.expire(now - self.retention, self.max_claimed)
        if dedupe_key is not None:
            self.dedupe.put(dedupe_key, record_id)

    def claim_all(self, record_ids: Iterable[Hashable]) -> None:
        """Record several IDs (e.g. from a journal on resume)."""
        for record_id in record_ids:
            self.claim(record_id)

    def _expire(self) -> None:
        self._claimed.expire(self._clock() - self.retention, self.max_claimed)


@attrs.frozen(kw_only=True)
class ReconcileSettings:
    """How ambiguous creates are settled.

    After an ambiguous failure the original request may still land (a server that commits
    late), so "not found" at once proves nothing. The write is looked up repeatedly, with
    backoff, for a settle period; it is re-sent only if still absent after it.

    Cost in time: an ambiguous create takes up to ``settle`` seconds longer (default twice the
    attempt timeout: 60 s with the default 30 s timeout); a create that succeeds or fails
    definitely costs nothing.

    Attributes:
        enabled: Look up after an ambiguous failure (``False``: raise at once, outcome
            ``MAYBE_PROCESSED``, as plain SDKs do).
        max_resends: Re-sends allowed after "not found", per call.
        skew: Seconds of clock difference tolerated when ignoring records created before the
            write was sent.
        settle: Seconds, from the failure, during which the write is looked up before it is
            re-sent; ``None``: ``settle_factor`` times the attempt timeout.
        settle_factor: See ``settle``.
        lookup_delay: First pause between lookups, seconds; doubles up to ``max_lookup_delay``.
        max_lookup_delay: Longest pause between lookups, seconds.
        wait_to_settle: ``False``: when the first lookup finds nothing, do not wait; raise
            :class:`~crm_core.ReconcilePending` with ``recheck_at`` (bulk jobs set the row
            aside and re-check it later with ``check_first=True``).
    """

    enabled: bool = True
    max_resends: int = 3
    skew: float = 300.0
    settle: float | None = None
    settle_factor: float = 2.0
    lookup_delay: float = 0.25
    max_lookup_delay: float = 4.0
    wait_to_settle: bool = True

    def settle_period(self, attempt_timeout: float) -> float:
        """Seconds to keep looking before a re-send, for attempts of ``attempt_timeout``."""
        return self.settle if self.settle is not None else self.settle_factor * attempt_timeout


def _ambiguous(error: APIError) -> bool:
    if error.outcome is Outcome.MAYBE_PROCESSED:
        return True
    # A 2xx whose body was lost or unusable: the write landed but we do not know its ID.
    return isinstance(error, APIResponseValidationError) and error.outcome is Outcome.PROCESSED


async def _look_up_candidates(
    lookup: Callable[[], Awaitable[list[Candidate[Hashable, T]]]],
    ledger: CreateLedger,
    sent_at: datetime,
    settings: ReconcileSettings,
) -> Candidate[Hashable, T] | None:
    try:
        candidates = await lookup()
    except NotFoundError:
        # The collection the write goes into (the lead) does not exist: neither does the write.
        return None
    threshold = sent_at.timestamp() - settings.skew
    fresh = [
        c for c in candidates if c.id not in ledger and (c.created_at is None or c.created_at.timestamp() >= threshold)
    ]
    if not fresh:
        return None
    # Several unclaimed matches can only be earlier attempts of this same write or
    # identical writes of others; take the oldest, the most likely first landing.
    return min(fresh, key=lambda c: (c.created_at.timestamp() if c.created_at else 0.0, str(c.id)))


def _cannot_tell(error: APIError, why: str, *, resent: int = 0) -> ReconciliationError:
    after = "nothing was re-sent" if resent == 0 else f"not re-sent again after {resent} re-send(s)"
    return ReconciliationError(
        f"The create may have landed and the lookup could not tell: {why}; {after}",
        method=error.method,
        url=error.url,
        status=error.status,
        code=error.code,
        body=error.body,
        attempts=error.attempts,
        outcome=Outcome.MAYBE_PROCESSED,
        operation=error.operation,
    )


def send_create_once(
    http: HTTPSession,
    request: Request,
    *,
    decode: Callable[[Response], T],
    lookup: Callable[[], Awaitable[list[Candidate[Hashable, T]]]],
    id_of: Callable[[T], Hashable],
    ledger: CreateLedger,
    settings: ReconcileSettings,
    sent_at: datetime,
    dedupe_key: str | None = None,
    known: Callable[[Hashable], Awaitable[T]] | None = None,
    check_first: bool = False,
    last_sent_at: datetime | None = None,
) -> Coroutine[Any, Any, T]:
    """Create once: send ``request``; settle any ambiguous failure by looking the write up.

    Returns the call's coroutine (await it): no coroutine layer of its own.

    The send, its retries and its re-sends run in the session's one retry loop
    (:meth:`HTTPSession.run`): after an ambiguous failure (timeout or reset after sending, 500,
    502, 504, a 2xx whose body or ID is unusable) the next attempt first looks the write up,
    repeatedly for the settle period (:class:`ReconcileSettings`); found, its result is
    returned; still absent, the create is re-sent with the loop's backoff, budget and events.
    A 2xx with an unusable body (outcome ``PROCESSED``) is never re-sent: not found after the
    settle period, it raises :class:`~crm_core.ReconciliationError`. Outcomes are emitted as
    ``RECONCILED`` events (``reason`` ``"found"``, ``"not found"``, ``"cannot tell"``).

    Args:
        http: The session.
        request: The create (``RequestKind.CREATE``).
        decode: Turns the 2xx into the result; raises ``APIResponseValidationError``
            (outcome ``PROCESSED``) for an unusable body (see :func:`~crm_core.parse_record_id`).
        lookup: Lists records matching the write's fields, as :class:`Candidate`.
        id_of: The record ID of a result.
        ledger: Records already created by this client or job.
        settings: Reconciliation settings.
        sent_at: When the write was first attempted (aware), to ignore older records.
        dedupe_key: Caller's key: a repeat (or a concurrent twin) returns the first record
            without sending.
        known: Turns a remembered record ID back into a result (for ``dedupe_key`` hits).
        check_first: The write may already have been sent (after a crash, or a row set aside
            by :class:`~crm_core.ReconcilePending`): look it up before sending, repeatedly until
            the settle period after ``last_sent_at`` has passed (an earlier attempt may still land);
            with ``wait_to_settle=False`` a first look-up that finds nothing before then raises
            ``ReconcilePending`` instead. A look-up answered 404 (the lead is gone) counts as
            "absent".
        last_sent_at: The latest time (aware) an earlier attempt can have been sent, e.g. the
            end of the crashed run that may have sent it (default ``sent_at``); ``check_first``
            counts the settle period from it.

    Raises:
        ReconciliationError: the write may have landed and the lookup could not tell.
        ReconcilePending: (``wait_to_settle=False``) not found yet; re-check after
            ``recheck_at`` with ``check_first=True``.
        APIError: a definite failure (the write did not land), or an ambiguous one with
            reconciliation disabled.
    """
    if dedupe_key is None:
        return _create(http, request, decode, lookup, id_of, ledger, settings, sent_at, None, check_first, last_sent_at)
    return _deduped(
        lambda: _create(
            http, request, decode, lookup, id_of, ledger, settings, sent_at, dedupe_key, check_first, last_sent_at
        ),
        ledger,
        dedupe_key,
        id_of,
        known,
    )


async def _deduped(
    create: Callable[[], Awaitable[T]],
    ledger: CreateLedger,
    dedupe_key: str,
    id_of: Callable[[T], Hashable],
    known: Callable[[Hashable], Awaitable[T]] | None,
) -> T:
    """:func:`send_create_once` with a ``dedupe_key``: a repeat, or a concurrent twin, gets the
    first record without sending; otherwise ``create()`` sends it."""
    while True:
        previous = ledger.dedupe.get(dedupe_key)
        if previous is not None:
            mine_before, value = ledger.recall(dedupe_key)
            if mine_before:
                return value  # type: ignore[return-value]  # the result this key created here
            if known is not None:
                return await known(previous)
        twin = ledger.in_flight.get(dedupe_key)
        if twin is None:
            break
        await asyncio.wait({twin})  # a concurrent call with the same key: wait for its record
    mine: asyncio.Future[Hashable | None] = asyncio.get_running_loop().create_future()
    ledger.in_flight[dedupe_key] = mine
    try:
        result = await create()
        ledger.remember(dedupe_key, result)
        mine.set_result(id_of(result))
        return result
    finally:
        if not mine.done():
            mine.set_result(None)  # failed or cancelled: a waiting twin tries for itself
        ledger.in_flight.pop(dedupe_key, None)


async def _create(
    http: HTTPSession,
    request: Request,
    decode: Callable[[Response], T],
    lookup: Callable[[], Awaitable[list[Candidate[Hashable, T]]]],
    id_of: Callable[[T], Hashable],
    ledger: CreateLedger,
    settings: ReconcileSettings,
    sent_at: datetime,
    dedupe_key: str | None,
    check_first: bool,
    last_sent_at: datetime | None,
) -> T:
    def told(what: str) -> None:
        if http.has_hooks:
            http.emit(
                Event(
                    kind=EventKind.RECONCILED,
                    operation=request.operation,
                    method=request.method,
                    url=http.url_for(request),
                    reason=what,
                )
            )

    async def look_until(
        left: Callable[[], float],
        cannot_tell: Callable[[APIError], ReconciliationError],
        pending: Callable[[float], ReconcilePending],
    ) -> Candidate[Hashable, T] | None:
        """Look the write up, with backoff, until ``left()`` seconds run out (found: claimed).

        "Absent" is concluded only from a look-up that began after the time ran out: a look-up
        takes time (several pages, each maybe retried), and one that began earlier may have
        read the page the write lands on before it landed.
        """
        clock = http.clock
        delay = settings.lookup_delay
        while True:
            conclusive = left() <= 0
            try:
                found = await _look_up_candidates(lookup, ledger, sent_at, settings)
            except APIError as lookup_error:
                told("cannot tell")
                raise cannot_tell(lookup_error) from lookup_error
            if found is not None:
                told("found")
                ledger.claim(found.id, dedupe_key)
                return found
            if conclusive:
                told("not found")
                return None
            remaining = left()
            if remaining <= 0:
                continue  # the time ran out during this look-up: one more, begun after it
            if not settings.wait_to_settle:
                told("pending")
                raise pending(remaining)
            await clock.sleep(min(delay, remaining))
            delay = min(delay * 2, settings.max_lookup_delay)

    if check_first:
        # An earlier attempt (a crashed run's) may still land until the settle period after
        # its last possible send has passed: look until then before sending again.
        last = sent_at if last_sent_at is None else max(sent_at, last_sent_at)
        until = last.timestamp() + settings.settle_period(http.timeout)
        earlier = await look_until(
            lambda: until - http.clock.time(),
            lambda lookup_error: _cannot_tell(lookup_error, "the lookup after a restart failed"),
            lambda _: ReconcilePending(
                "An earlier attempt of this create may still land and is not visible yet; "
                "re-check it after recheck_at (look it up before sending it again)",
                recheck_at=until,
                method=request.method,
                url=http.url_for(request),
                outcome=Outcome.MAYBE_PROCESSED,
                operation=request.operation,
            ),
        )
        if earlier is not None:
            return earlier.value
    resends = 0

    async def settle(error: APIError) -> T | None:
        # Only a failed create pays for its signature (a JSON dump of the body).
        async with ledger.settling(_signature(request)):
            return await settle_turn(error)

    async def settle_turn(error: APIError) -> T | None:
        nonlocal resends
        clock = http.clock
        until = clock.monotonic() + settings.settle_period(http.timeout)
        found = await look_until(
            lambda: until - clock.monotonic(),
            lambda lookup_error: _cannot_tell(error, f"the lookup failed too ({lookup_error.message})"),
            lambda left: _pending(error, clock.time() + left),
        )
        if found is not None:
            return found.value
        if error.outcome is Outcome.PROCESSED:
            raise _cannot_tell(error, "the server answered 2xx but the record is not visible") from error
        if resends >= settings.max_resends:
            raise _cannot_tell(error, "still not found", resent=resends) from error
        resends += 1
        return None

    result = await http.run(request, decode, settle=settle if settings.enabled else None)
    ledger.claim(id_of(result), dedupe_key)
    return result


def _pending(error: APIError, recheck_at: float) -> ReconcilePending:
    return ReconcilePending(
        "The create may have landed and is not visible yet; re-check it after recheck_at "
        "(look it up before sending it again)",
        recheck_at=recheck_at,
        method=error.method,
        url=error.url,
        status=error.status,
        code=error.code,
        body=error.body,
        attempts=error.attempts,
        outcome=Outcome.MAYBE_PROCESSED,
        operation=error.operation,
    )


def _signature(request: Request) -> str:
    """What makes two creates identical: method, path and body."""
    body = request.json if request.json is not None else request.form
    return f"{request.method} {request.path} {json.dumps(body, sort_keys=True, default=str)}"
