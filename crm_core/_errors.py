"""One error tree for both SDKs.

::

    Exception
     ├── ValueError
     │    └── ValidationError            bad input, raised before anything is sent
     └── APIError                        anything that went wrong talking to the API
          ├── APIConnectionError         no usable HTTP response (refused, reset, DNS)
          │    └── APITimeoutError       the attempt ran out of time
          ├── APIResponseValidationError a 2xx whose body could not be read or decoded
          ├── ReconciliationError        a create may have landed and we cannot tell
          │    └── ReconcilePending      not visible yet: re-check after ``recheck_at``
          └── APIStatusError             the server answered with a non-2xx status
               ├── BadRequestError           400
               ├── AuthenticationError       401
               ├── PermissionDeniedError     403
               ├── NotFoundError             404
               ├── RateLimitError            429 (``retry_at``)
               └── ServerError               5xx

Every ``APIError`` carries the method, the URL (never a secret: credentials travel in headers),
the status, the vendor code, the server's message, the raw body, the attempts taken and, for
writes, the :class:`Outcome`: whether the write did not happen, may have happened, or was
processed. The status -> class mapping lives in :data:`STATUS_ERRORS`; vendors map their own
codes on top of it (a Lofty ``20017`` is a ``PermissionDeniedError`` whatever the status).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

__all__ = [
    "STATUS_ERRORS",
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "NotFoundError",
    "Outcome",
    "PermissionDeniedError",
    "RateLimitError",
    "ReconcilePending",
    "ReconciliationError",
    "ServerError",
    "ValidationError",
    "error_class_for_status",
]

_BODY_PREVIEW = 300


class Outcome(enum.Enum):
    """What is known about a request's effect on the server.

    Attributes:
        NOT_SENT: The request did not take effect and is safe to send again: it never left the
            client (connection refused, DNS failure), or the server refused it before processing
            (408, 429, 503).
        MAYBE_PROCESSED: The request left the client and no definite answer came back (timeout
            or reset after the body was sent, 500, 502, 504, a cancelled call). A create in this
            state must be reconciled before it is sent again.
        PROCESSED: The server answered definitely: a 2xx, or a 4xx that says nothing was applied.
    """

    NOT_SENT = "not_sent"
    MAYBE_PROCESSED = "maybe_processed"
    PROCESSED = "processed"


class ValidationError(ValueError):
    """Bad input, caught before any request is sent.

    Attributes:
        field: The argument or column at fault, in the SDK's snake_case (``"lead_id"``).
        value: The offending value (never a secret).
        allowed: What would have been accepted, in words (``"one of Call, Email, ..."``).
    """

    def __init__(self, field: str, value: object, allowed: str) -> None:
        self.field = field
        self.value = value
        self.allowed = allowed
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        super().__init__(f"{field}={shown} is not valid: expected {allowed}")


class APIError(Exception):
    """Base class of every error raised while talking to an API.

    Attributes:
        message: The server's message word for word when there is one, else our description.
        method: HTTP method (``"POST"``).
        url: Full request URL without credentials.
        status: HTTP status, or ``None`` when no response arrived.
        code: The vendor's error code (``20017``, ``"TASK_NOT_EXIST"``), or ``None``.
        body: The raw response body as text (may be empty).
        attempts: How many attempts were made, retries included.
        outcome: What is known about the request's effect (see :class:`Outcome`).
        operation: A short name of the call (``"tasks.create"``), or ``None``.
        headers: The response headers, when a response arrived.
        retry_after: Seconds the server asked us to wait (``Retry-After``, or
            ``X-RateLimit-Reset`` on a 429), or ``None``.
        note: An extra sentence on why the SDK stopped (budget spent, deadline passed).
    """

    def __init__(
        self,
        message: str,
        *,
        method: str | None = None,
        url: str | None = None,
        status: int | None = None,
        code: int | str | None = None,
        body: str = "",
        attempts: int = 0,
        outcome: Outcome = Outcome.PROCESSED,
        operation: str | None = None,
        headers: Mapping[str, str] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.method = method
        self.url = url
        self.status = status
        self.code = code
        self.body = body
        self.attempts = attempts
        self.outcome = outcome
        self.operation = operation
        self.headers: Mapping[str, str] = dict(headers or {})
        self.retry_after = retry_after
        self.note: str | None = None

    @property
    def retryable(self) -> bool:
        """Whether the failure is transient in nature (before the write rules are applied)."""
        return False

    def __str__(self) -> str:
        where = f"{self.method} {self.url}" if self.method and self.url else (self.url or "")
        parts = []
        head = self.message.rstrip(".")
        if self.status is not None:
            code = f", code {self.code}" if self.code is not None else ""
            head = f"HTTP {self.status}{code}: {head}"
        parts.append(head)
        if where:
            parts.append(f"({where})")
        text = " ".join(parts) + "."
        if self.attempts > 1:
            text += f" Gave up after {self.attempts} attempts."
        if self.outcome is Outcome.MAYBE_PROCESSED:
            text += " The request may have been processed by the server: look the record up before sending it again."
        if self.note:
            text += f" {self.note}"
        return text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, "
            f"message={self.message!r}, method={self.method!r}, url={self.url!r}, "
            f"attempts={self.attempts!r}, outcome={self.outcome.value!r})"
        )


class APIConnectionError(APIError):
    """No usable HTTP response: connection refused or reset, DNS failure, broken body."""

    @property
    def retryable(self) -> bool:
        return True


class APITimeoutError(APIConnectionError):
    """The attempt did not finish within its timeout (or the call's deadline)."""


class APIResponseValidationError(APIError):
    """The server said 2xx but the body could not be decoded into the documented shape.

    Attributes:
        transient: The body was cut short or garbled in transit (not valid JSON), so reading
            again may succeed; ``False`` when valid JSON had the wrong shape.
    """

    def __init__(self, message: str, *, transient: bool = False, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.transient = transient

    @property
    def retryable(self) -> bool:
        return self.transient


class ReconciliationError(APIError):
    """A create may have landed, and looking it up could not tell either way.

    Nothing was re-sent, so no duplicate was made. Check the records by hand (``url`` and
    ``operation`` say which call), then retry or drop the write.
    """


class ReconcilePending(ReconciliationError):
    """An ambiguous create is not visible yet and the caller asked not to wait for it
    (``ReconcileSettings(wait_to_settle=False)``): nothing was re-sent.

    Look it up again after ``recheck_at`` (``create_checked(..., check_first=True,
    sent_at=<first send>)`` does: found, it is returned; absent, it is sent).

    Attributes:
        recheck_at: Wall-clock time (UTC epoch seconds) when the settle period ends.
    """

    def __init__(self, message: str, *, recheck_at: float, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.recheck_at = recheck_at


class APIStatusError(APIError):
    """The server answered with a non-2xx status."""

    @property
    def retryable(self) -> bool:
        return self.status in (408, 429, 500, 502, 503, 504)


class BadRequestError(APIStatusError):
    """HTTP 400 (or a vendor code that means invalid input)."""


class AuthenticationError(APIStatusError):
    """HTTP 401, or a vendor code that means the credential is wrong (Lofty ``200058``)."""


class PermissionDeniedError(APIStatusError):
    """HTTP 403, or a vendor permission code (Lofty ``20017``, ``200100``) under any status."""


class NotFoundError(APIStatusError):
    """HTTP 404, or a vendor not-found code (Lofty ``20006``) under any status."""


class RateLimitError(APIStatusError):
    """HTTP 429, or a server pause hint longer than the client will wait.

    Attributes:
        retry_at: Wall-clock time (UTC epoch seconds) after which the server said to try again,
            or ``None`` when it gave no hint.
    """

    def __init__(self, message: str, *, retry_at: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_at = retry_at


class ServerError(APIStatusError):
    """HTTP 5xx."""


STATUS_ERRORS: Mapping[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    429: RateLimitError,
}
"""The one status -> class table. 5xx is :class:`ServerError`; others :class:`APIStatusError`."""


def error_class_for_status(status: int) -> type[APIStatusError]:
    """Return the error class for an HTTP status (see :data:`STATUS_ERRORS`)."""
    if status in STATUS_ERRORS:
        return STATUS_ERRORS[status]
    if status >= 500:
        return ServerError
    return APIStatusError


def body_preview(body: str) -> str:
    """Shorten a body for use in a message."""
    text = " ".join(body.split())
    return text if len(text) <= _BODY_PREVIEW else text[: _BODY_PREVIEW - 3] + "..."
