"""Superfone's envelopes: ``{"data": ..., "message": "success"}`` and errors ``{"message": ...}``.

Superfone has no error codes; the server's ``message`` is kept word for word and the HTTP status
picks the error class (400 ``BadRequestError``, 401 ``AuthenticationError``, 404
``NotFoundError`` — including the documented oddity 404 ``"Lead storage is full"``).
"""

from __future__ import annotations

import json
from typing import Any

from crm_core._errors import body_preview

__all__ = ["parse_error", "unwrap"]


def parse_error(status: int, text: str) -> tuple[int | str | None, str]:
    """``(None, message)`` from an error body; the message is the server's own words."""
    stripped = text.strip()
    if not stripped:
        return None, f"HTTP {status} with an empty body"
    try:
        body = json.loads(stripped)
    except json.JSONDecodeError:
        if stripped.startswith("<"):
            return None, f"HTTP {status} with an HTML body"
        return None, f"HTTP {status}: {body_preview(stripped)!r}"
    if isinstance(body, dict) and isinstance(body.get("message"), str) and body["message"]:
        return None, body["message"]
    if isinstance(body, str) and body:
        return None, body
    return None, f"HTTP {status}: {body_preview(stripped)!r}"


def unwrap(data: Any) -> Any:
    """The ``data`` of a success envelope (bodies without one pass through)."""
    if isinstance(data, dict) and "data" in data:
        return data["data"]
    return data
