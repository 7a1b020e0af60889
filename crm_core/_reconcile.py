"""Exactly-once creates on APIs without idempotency keys.

A create that fails ambiguously (timeout or reset after the body left, 500, 502, 504, a 2xx
whose body was lost) may or may not have landed. Re-sending blindly risks a duplicate; giving
up risks losing the write. :func:`create_exactly_once` does neither:

1. send (the session already retries failures that show the write did not happen);
2. after an ambiguous failure, **look the write up** (the SDK lists the parent record's
   children and matches the fields sent);
3. found: return it as created. Not found: re-send (and reconcile again if that is ambiguous
   too). Lookup failed: raise :class:`~crm_core.ReconciliationError`, never a duplicate.

Identical intended writes (two equal rows in one job) must not be merged: a
:class:`CreateLedger` remembers which records this client or job already landed, and a
candidate already claimed is never taken for a new write. Candidates created well before the
write was first sent (older than ``sent_at - skew``) are ignored too.

A caller-supplied ``dedupe_key`` makes a create idempotent on the client side: the ledger maps
the key to the record created for it, and a second create with the same key returns that
record without sending.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Iterable
from datetime import datetime
from typing import Generic, Protocol, TypeVar

import attrs

from ._errors import APIError, APIResponseValidationError, Outcome, ReconciliationError
from ._events import Event, EventKind
from ._session import HTTPSession, Request, Response

__all__ = [
    "Candidate",
    "CreateLedger",
    "DedupeStore",
    "ReconcileSettings",
    "create_exactly_once",
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


class CreateLedger:
    """The records a client (or a bulk job) has created, so identical writes stay distinct.

    Args:
        dedupe: Store for caller-supplied dedupe keys (default: in memory).

    Attributes:
        claimed: IDs of records known to have been created by us.
    """

    def __init__(self, *, dedupe: DedupeStore | None = None) -> None:
        self.claimed: set[Hashable] = set()
        self.dedupe: DedupeStore = dedupe or _MemoryDedupe()

    def claim(self, record_id: Hashable, dedupe_key: str | None = None) -> None:
        """Record that ``record_id`` was created by us (for ``dedupe_key``, if any)."""
        self.claimed.add(record_id)
        if dedupe_key is not None:
            self.dedupe.put(dedupe_key, record_id)

    def claim_all(self, record_ids: Iterable[Hashable]) -> None:
        """Record several IDs (e.g. from a journal on resume)."""
        self.claimed.update(record_ids)


@attrs.frozen(kw_only=True)
class ReconcileSettings:
    """How ambiguous creates are settled.

    Attributes:
        enabled: Look up after an ambiguous failure (``False``: raise at once, outcome
            ``MAYBE_PROCESSED``, as plain SDKs do).
        max_resends: Re-sends allowed after "not found", per call.
        skew: Seconds of clock difference tolerated when ignoring records created before the
            write was sent.
    """

    enabled: bool = True
    max_resends: int = 3
    skew: float = 300.0


def _ambiguous(error: APIError) -> bool:
    if error.outcome is Outcome.MAYBE_PROCESSED:
        return True
    # A 2xx whose body was lost: the write landed but we do not know its ID.
    return isinstance(error, APIResponseValidationError) and error.outcome is Outcome.PROCESSED


async def create_exactly_once(
    *,
    send: Callable[[], Awaitable[T]],
    lookup: Callable[[], Awaitable[list[Candidate[Hashable, T]]]],
    id_of: Callable[[T], Hashable],
    ledger: CreateLedger,
    sent_at: datetime,
    settings: ReconcileSettings,
    dedupe_key: str | None = None,
    known: Callable[[Hashable], Awaitable[T]] | None = None,
    on_reconciled: Callable[[str], None] | None = None,
    check_first: bool = False,
) -> T:
    """Create once: send, and settle any ambiguous failure by looking the write up.

    Args:
        send: Performs the create (with the session's safe retries); returns its result.
        lookup: Lists records matching the write's fields, as :class:`Candidate`.
        id_of: The record ID of a ``send`` result.
        ledger: Records already created by this client or job.
        sent_at: When the write was first attempted (aware), to ignore older records.
        settings: Reconciliation switches.
        dedupe_key: Caller's key; a repeat returns the earlier record without sending.
        known: Turns a remembered record ID back into a result (for ``dedupe_key`` hits).
        on_reconciled: Told ``"found"``, ``"not found"`` or ``"cannot tell"``.
        check_first: The write may already have been sent (a journal says so after a crash):
            look it up before sending anything.

    Raises:
        ReconciliationError: The write may have landed and the lookup could not tell.
        APIError: A definite failure (the write did not land), or an ambiguous one with
            reconciliation disabled.
    """
    if dedupe_key is not None:
        previous = ledger.dedupe.get(dedupe_key)
        if previous is not None and known is not None:
            return await known(previous)
    if check_first:
        try:
            found = await _look_up_candidates(lookup, ledger, sent_at, settings, on_reconciled)
        except APIError as lookup_error:
            if on_reconciled is not None:
                on_reconciled("cannot tell")
            raise _cannot_tell(lookup_error, "the lookup after a restart failed") from lookup_error
        if found is not None:
            ledger.claim(found.id, dedupe_key)
            return found.value
    resends = 0
    while True:
        try:
            result = await send()
        except APIError as error:
            if not (settings.enabled and _ambiguous(error)):
                raise
            found = await _look_up(error, lookup, ledger, sent_at, settings, on_reconciled)
            if found is not None:
                ledger.claim(found.id, dedupe_key)
                return found.value
            if error.outcome is Outcome.PROCESSED or resends >= settings.max_resends:
                # Landed for sure (a lost 2xx) yet not visible, or we keep failing: stop here.
                if on_reconciled is not None:
                    on_reconciled("cannot tell")
                raise _cannot_tell(error, "the record is not visible yet") from error
            resends += 1
            continue
        ledger.claim(id_of(result), dedupe_key)
        return result


async def _look_up(
    error: APIError,
    lookup: Callable[[], Awaitable[list[Candidate[Hashable, T]]]],
    ledger: CreateLedger,
    sent_at: datetime,
    settings: ReconcileSettings,
    on_reconciled: Callable[[str], None] | None,
) -> Candidate[Hashable, T] | None:
    try:
        return await _look_up_candidates(lookup, ledger, sent_at, settings, on_reconciled)
    except APIError as lookup_error:
        if on_reconciled is not None:
            on_reconciled("cannot tell")
        raise _cannot_tell(error, f"the lookup failed too ({lookup_error.message})") from lookup_error


async def _look_up_candidates(
    lookup: Callable[[], Awaitable[list[Candidate[Hashable, T]]]],
    ledger: CreateLedger,
    sent_at: datetime,
    settings: ReconcileSettings,
    on_reconciled: Callable[[str], None] | None,
) -> Candidate[Hashable, T] | None:
    candidates = await lookup()
    threshold = sent_at.timestamp() - settings.skew
    fresh = [
        c
        for c in candidates
        if c.id not in ledger.claimed and (c.created_at is None or c.created_at.timestamp() >= threshold)
    ]
    if on_reconciled is not None:
        on_reconciled("found" if fresh else "not found")
    if not fresh:
        return None
    # Several unclaimed matches can only be earlier attempts of this same write or
    # identical writes of others; take the oldest, the most likely first landing.
    return min(fresh, key=lambda c: (c.created_at.timestamp() if c.created_at else 0.0, str(c.id)))


def _cannot_tell(error: APIError, why: str) -> ReconciliationError:
    failure = ReconciliationError(
        f"The create may have landed and the lookup could not tell: {why}; nothing was re-sent",
        method=error.method,
        url=error.url,
        status=error.status,
        code=error.code,
        body=error.body,
        attempts=error.attempts,
        outcome=Outcome.MAYBE_PROCESSED,
        operation=error.operation,
    )
    return failure


async def send_create_once(
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
) -> T:
    """:func:`create_exactly_once` for one create request sent through ``http``.

    Sends ``request`` and decodes the 2xx with ``decode``; reconciliation outcomes are emitted
    as ``RECONCILED`` events on the session's hooks.
    """

    async def send() -> T:
        return decode(await http.send(request))

    def on_reconciled(what: str) -> None:
        http.emit(
            Event(
                kind=EventKind.RECONCILED,
                operation=request.operation,
                method=request.method,
                url=http.url_for(request),
                reason=what,
            )
        )

    return await create_exactly_once(
        send=send,
        lookup=lookup,
        id_of=id_of,
        ledger=ledger,
        sent_at=sent_at,
        settings=settings,
        dedupe_key=dedupe_key,
        known=known,
        on_reconciled=on_reconciled,
        check_first=check_first,
    )
