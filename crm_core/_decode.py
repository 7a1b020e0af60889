"""Turning a decoded JSON body into models, with errors that say what was wrong."""

from __future__ import annotations

from typing import Any, TypeVar

import cattrs

from ._errors import APIResponseValidationError, Outcome, body_preview
from ._session import Response

__all__ = ["envelope_key", "invalid_body", "parse_record_id", "structure"]

T = TypeVar("T")


def invalid_body(response: Response, what: str) -> APIResponseValidationError:
    import json

    text = json.dumps(response.data, ensure_ascii=False, default=str)
    return APIResponseValidationError(
        f"The response does not have the documented shape: {what}; body {body_preview(text)!r}",
        method=response.request.method,
        url=response.url,
        status=response.status,
        body=text,
        attempts=response.attempts,
        outcome=Outcome.PROCESSED,
        operation=response.request.operation,
        headers=response.headers,
    )


def envelope_key(response: Response, key: str, *, data: Any = None) -> Any:
    """``body[key]`` of a JSON object body (``data`` overrides the response's body).

    Raises:
        APIResponseValidationError: the body is not an object or lacks ``key``.
    """
    body = response.data if data is None else data
    if not isinstance(body, dict) or key not in body:
        raise invalid_body(response, f"expected an object with {key!r}")
    return body[key]


INT64_MAX = 2**63 - 1


def parse_record_id(value: Any, *, response: Response, field: str, digit_strings: bool = False) -> int:
    """A record ID read from a 2xx body, checked: a positive int (never truncated, never guessed).

    Accepts an ``int`` (not a ``bool``) in ``1..2**63-1``, and, with ``digit_strings`` (for APIs that
    document string IDs), a string of ASCII digits. Rejects ``"abc"``, ``None``, ``12.9``,
    ``12.0``, ``True``, ``0``, negatives.

    Args:
        value: The decoded JSON value (``body["taskId"]``).
        response: The 2xx it came from (for the error's method, URL, status and body).
        field: The wire field name, for the message (``"taskId"``).
        digit_strings: Also accept digit-only strings.

    Returns:
        The ID.

    Raises:
        APIResponseValidationError: with ``outcome=PROCESSED``: the server answered 2xx, so the
            write landed; a create must look it up, never re-send it blindly.
    """
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= INT64_MAX:
        return value
    if digit_strings and isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.isdigit() and 0 < int(text) <= INT64_MAX:
            return int(text)
    allowed = "a positive 64-bit integer" + (" or a string of its digits" if digit_strings else "")
    raise invalid_body(response, f"{field}={value!r} is not a usable record ID (expected {allowed})")


def structure(converter: cattrs.Converter, data: Any, cls: type[T], response: Response) -> T:
    """Structure ``data`` as ``cls``.

    Raises:
        APIResponseValidationError: the data does not fit ``cls`` (with the cattrs detail).
    """
    try:
        return converter.structure(data, cls)
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError) as exc:
        detail = "; ".join(cattrs.transform_error(exc)) if isinstance(exc, cattrs.BaseValidationError) else str(exc)
        raise invalid_body(response, f"{cls.__name__}: {detail}") from exc
