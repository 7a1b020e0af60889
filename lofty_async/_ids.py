"""Reading Lofty record IDs out of 2xx bodies without ever guessing.

A 2xx whose ID is unusable (``"abc"``, ``null``, ``12.9``, ``true``) raises
:class:`~crm_core.APIResponseValidationError` with ``outcome=PROCESSED``: the write happened, so
reconciliation looks the record up instead of re-sending, and the ID is never truncated.
"""

from __future__ import annotations

from typing import Any

from crm_core import Response
from crm_core._decode import envelope_key, invalid_body, parse_record_id

__all__ = ["record_id", "unusable"]

unusable = invalid_body


def record_id(response: Response, key: str, *, data: Any = None) -> int:
    """``body[key]`` as a positive int64 record ID (a quoted string of digits is accepted too:
    some gateways quote 64-bit IDs).

    Args:
        response: The 2xx response.
        key: The ID's key in the JSON object body (``"taskId"``, ``"leadId"``).
        data: Read this object instead of ``response.data``.

    Raises:
        APIResponseValidationError: the body is not an object, lacks ``key``, or its value is
            not a usable ID (``outcome=PROCESSED``: the write happened).
    """
    return parse_record_id(envelope_key(response, key, data=data), response=response, field=key, digit_strings=True)
