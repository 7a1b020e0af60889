"""Reading record IDs out of 2xx bodies without ever guessing.

A 2xx whose ID is unusable (``"abc"``, ``null``, ``12.9``, ``true``) raises
:class:`~crm_core.APIResponseValidationError` with ``outcome=PROCESSED``: the write happened, so
reconciliation looks the record up instead of re-sending, and the ID is never truncated.

Note for the integrator: ``crm_core._decode.parse_record_id`` (helper H1) is the shared form of
:func:`record_id`; this private copy exists until that lands and can then delegate to it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from crm_core import APIResponseValidationError, Outcome, Response
from crm_core._decode import envelope_key
from crm_core._errors import body_preview

__all__ = ["check_record_id", "record_id"]

_DIGITS = re.compile(r"^[1-9]\d{0,18}$")
INT64_MAX = 2**63 - 1


def check_record_id(value: object) -> int | None:
    """``value`` as a positive int64 ID, or ``None`` when it is not one.

    Accepted: an ``int`` (not ``bool``) in ``1..2**63-1``, or a string of decimal digits in that
    range (some gateways quote 64-bit IDs). Refused: floats (``12.9``, and ``12.0`` too: a float
    may already have lost digits of a 64-bit ID), other strings, ``None``, booleans.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 1 <= value <= INT64_MAX else None
    if isinstance(value, str) and _DIGITS.match(value.strip()):
        number = int(value.strip())
        return number if number <= INT64_MAX else None
    return None


def unusable(response: Response, what: str) -> APIResponseValidationError:
    """An ``APIResponseValidationError`` (outcome ``PROCESSED``) describing ``what`` was wrong."""
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


def record_id(response: Response, key: str, *, data: Any = None) -> int:
    """``body[key]`` as a positive int64 record ID.

    Args:
        response: The 2xx response.
        key: The ID's key in the JSON object body (``"taskId"``, ``"leadId"``).
        data: Read this object instead of ``response.data``.

    Raises:
        APIResponseValidationError: the body is not an object, lacks ``key``, or its value is
            not a usable ID (``outcome=PROCESSED``: the write happened).
    """
    value = envelope_key(response, key, data=data)
    checked = check_record_id(value)
    if checked is None:
        raise unusable(response, f"{key}={value!r} is not a positive 64-bit integer ID")
    return checked
