"""Events the session emits for metrics and tracing, and the hook type that receives them."""

from __future__ import annotations

import enum
from collections.abc import Callable

import attrs

__all__ = ["Event", "EventHook", "EventKind"]


class EventKind(enum.Enum):
    """What happened.

    Attributes:
        REQUEST: An attempt is about to be sent.
        RESPONSE: An attempt got an HTTP response (any status).
        RETRY: An attempt failed and another will follow after ``delay`` seconds.
        RATE_LIMITED: The server throttled us (429) or the limiter paused sending.
        GIVE_UP: The call failed for good; ``error`` says why.
        RECONCILED: An ambiguous create was looked up; ``reason`` says what was found.
    """

    REQUEST = "request"
    RESPONSE = "response"
    RETRY = "retry"
    RATE_LIMITED = "rate_limited"
    GIVE_UP = "give_up"
    RECONCILED = "reconciled"


@attrs.frozen(kw_only=True)
class Event:
    """One observation, passed to every hook the client was given.

    Attributes:
        kind: What happened.
        operation: Short call name (``"tasks.create"``).
        method: HTTP method.
        url: Request URL (no credentials).
        attempt: 1-based attempt number.
        status: HTTP status when a response arrived.
        delay: Seconds until the next attempt (``RETRY``) or the pause length (``RATE_LIMITED``).
        elapsed: Seconds the attempt took (``RESPONSE``).
        reason: Short words: ``"status 503"``, ``"ServerDisconnectedError"``, ``"found"``.
        error: The error, for ``RETRY`` and ``GIVE_UP``.
    """

    kind: EventKind
    operation: str
    method: str
    url: str
    attempt: int = 1
    status: int | None = None
    delay: float | None = None
    elapsed: float | None = None
    reason: str | None = None
    error: BaseException | None = None


EventHook = Callable[[Event], None]
"""A synchronous callable taking an :class:`Event`. It must not raise; errors are logged."""
