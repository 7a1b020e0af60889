"""What one API call is, before and after: pure data and the per-API conventions.

:class:`Request` (what to send), :class:`Response` (a 2xx, decoded), :class:`Dialect` (what
differs between APIs), :class:`Auth` (credentials) and :func:`outcome_for_status` (what a status
says about a write's effect). No I/O here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import attrs

from ._attrs_init import direct_init
from ._errors import APIStatusError, Outcome, error_class_for_status
from ._retry import RequestKind

__all__ = ["Auth", "Dialect", "Request", "Response", "StaticAuth", "outcome_for_status"]

QueryValue = str | int | float | bool | Sequence[str | int]


@direct_init
@attrs.frozen(kw_only=True, slots=False)
class Request:
    """One API call, before it is sent. Pure data.

    Attributes:
        method: HTTP method.
        path: Path below the client's base URL, starting with ``/``.
        operation: Short call name for logs, events and errors (``"tasks.create"``).
        kind: How safe the request is to send twice (decides what is retried).
        params: Query parameters; ``None`` values are dropped, booleans become
            ``"true"``/``"false"``, sequences repeat the key.
        json: JSON-ready body, or ``None`` for no body.
        form: A form body (``application/x-www-form-urlencoded``), instead of ``json``.
    """

    method: str
    path: str
    operation: str
    kind: RequestKind
    params: Mapping[str, QueryValue | None] | None = None
    json: Any = None
    form: Mapping[str, str] | None = None

    def query(self) -> list[tuple[str, str]]:
        """The query string as ``(key, value)`` pairs, in order."""
        pairs: list[tuple[str, str]] = []
        for key, value in (self.params or {}).items():
            if value is None:
                continue
            values = value if isinstance(value, list | tuple) else [value]
            for item in values:
                if isinstance(item, bool):
                    pairs.append((key, "true" if item else "false"))
                else:
                    pairs.append((key, str(item)))
        return pairs


@direct_init
@attrs.frozen(kw_only=True, slots=False)
class Response:
    """A successful (2xx) response.

    Attributes:
        status: HTTP status.
        headers: Response headers (case-insensitive).
        data: The decoded JSON body after the dialect's envelope unwrap; ``None`` when empty.
        attempts: Attempts it took, retries included.
        request: The request that produced it.
        url: The full request URL (no query string, no credentials).
    """

    status: int
    headers: Mapping[str, str]
    data: Any
    attempts: int
    request: Request
    url: str = ""


@attrs.frozen(kw_only=True)
class Dialect:
    """What differs between APIs, injected by each SDK (never subclassed).

    Attributes:
        name: Logger name and ``User-Agent`` product (``"lofty_async"``).
        version: SDK version for the ``User-Agent``.
        parse_error: ``(status, body_text) -> (vendor_code, message)``.
        error_class: ``(status, vendor_code) -> error class``; vendor codes may override the
            status (Lofty's ``20017`` is a permission error under a 400).
        unwrap: Turns a decoded success body into the payload (Superfone strips ``data``).
        content_type_always: Send ``Content-Type: application/json`` on every request, even
            without a body (Lofty's DELETE endpoints reject requests without it).
        max_server_pause: Longest plausible server pause, seconds: the API's rate-limit window
            (Lofty documents 60 s). ``Retry-After`` / ``X-RateLimit-Reset`` hints beyond it are
            capped to it, in errors' ``retry_after`` and in the shared cooldown.
    """

    name: str
    version: str
    parse_error: Callable[[int, str], tuple[int | str | None, str]]
    error_class: Callable[[int, int | str | None], type[APIStatusError]] = lambda status, _code: error_class_for_status(
        status
    )
    unwrap: Callable[[Any], Any] = lambda data: data
    content_type_always: bool = False
    max_server_pause: float = 60.0


class Auth(Protocol):
    """Supplies credentials; may refresh them once after a 401."""

    async def headers(self) -> Mapping[str, str]:
        """Headers that authenticate one request."""
        ...

    async def on_unauthorized(self, sent: Mapping[str, str]) -> bool:
        """Called after a 401 with the headers that were sent; return ``True`` to retry once
        (credentials were renewed, possibly by a concurrent caller)."""
        ...


class StaticAuth:
    """Fixed credentials (an API key or a long-lived token). Never refreshes.

    The header values are kept out of ``repr``.
    """

    def __init__(self, headers: Mapping[str, str]) -> None:
        self._headers = dict(headers)

    async def headers(self) -> Mapping[str, str]:
        return self._headers

    def fixed_headers(self) -> Mapping[str, str]:
        """The headers, read without awaiting (they never change)."""
        return self._headers

    def identity(self) -> str:
        """A digest of the credentials (for sharing a rate limiter; never the secret itself)."""
        text = "\n".join(f"{k}:{v}" for k, v in sorted(self._headers.items()))
        return hashlib.sha256(text.encode()).hexdigest()

    async def on_unauthorized(self, sent: Mapping[str, str]) -> bool:
        return False

    def __repr__(self) -> str:
        return f"StaticAuth(headers={sorted(self._headers)!r})"


_NOT_SENT_STATUSES = frozenset({408, 429, 503})
_MAYBE_STATUSES_MIN = 500


def outcome_for_status(status: int) -> Outcome:
    """What a non-2xx status says about a write's effect."""
    if status in _NOT_SENT_STATUSES:
        return Outcome.NOT_SENT
    if status >= _MAYBE_STATUSES_MIN:
        return Outcome.MAYBE_PROCESSED
    return Outcome.PROCESSED
