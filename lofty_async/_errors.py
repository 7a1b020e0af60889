"""Lofty's error bodies and code catalogue (lofty_api.md §2.6).

Lofty's documented body is ``{"code": ..., "message": ...}``; its spec declares a bare JSON
string; some endpoints use ``{"errorCode": ..., "errorMsg": ...}``; a 429 has only
``{"message": "Too Many Requests"}``; a proxy error may be HTML or empty. :func:`parse_error`
accepts all of them. Codes decide the error class whatever the HTTP status, because Lofty
sends permission and not-found errors as 400s on many endpoints.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from crm_core import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    error_class_for_status,
)
from crm_core._errors import body_preview

__all__ = ["CODE_ERRORS", "error_class", "parse_error"]

CODE_ERRORS: Mapping[int | str, type[APIStatusError]] = {
    # permission
    20017: PermissionDeniedError,
    "PERMISSION_DENIED": PermissionDeniedError,
    200100: PermissionDeniedError,
    "VENDOR_HAS_NO_PERMISSION": PermissionDeniedError,
    "NO_ACCESS_WEBSITE": PermissionDeniedError,
    "ACCESS_ALL_TEAM_LEADS": PermissionDeniedError,
    # not found
    20006: NotFoundError,
    "LEAD_NOT_EXIST": NotFoundError,
    "LEAD_NOT_FOUND": NotFoundError,
    "TASK_NOT_EXIST": NotFoundError,
    20003: NotFoundError,
    "USER_NOT_EXIST": NotFoundError,
    20007: NotFoundError,
    "RESOURCE_NOT_EXIST": NotFoundError,
    200108: NotFoundError,
    "LEAD_PROPERTY_NOT_EXIST": NotFoundError,
    200060: NotFoundError,
    "TRANSACTION_NOT_EXIST": NotFoundError,
    "WEBHOOK_DELETE_NOT_EXIST": NotFoundError,
    # credentials
    200058: AuthenticationError,
    "BAD_CREDENTIALS": AuthenticationError,
    # bad input
    20012: BadRequestError,
    "INVALID_PARAMETER": BadRequestError,
    "MISSING_PARAMETER": BadRequestError,
    20042: BadRequestError,
    "LIMIT_NOT_VALID": BadRequestError,
    "LIMIT_PARAM_OVERSIZE": BadRequestError,
    20043: BadRequestError,
    "PARAMETER_TOO_LONG": BadRequestError,
    "TASK_IS_SMARTPLAN": BadRequestError,
    "INVALID_UPDATE_OPERATION_LEADID": BadRequestError,
    200057: BadRequestError,
    "PROPERTY_ADDRESS_EMPTY": BadRequestError,
    "WEBHOOK_TYPE_ERROR": BadRequestError,
    "WEBHOOK_CALLBACK_URL_INVALID": BadRequestError,
    "WEBHOOK_EXCEED_LIMIT": BadRequestError,
    "WEBHOOK_DELETE_NO_AUTHORITY": PermissionDeniedError,
    20049: BadRequestError,
}
"""Vendor code -> error class; wins over the HTTP status (a 429 stays a rate-limit error)."""


def _normalize(code: object) -> int | str | None:
    if code is None or code == "":
        return None
    if isinstance(code, bool):
        return str(code)
    if isinstance(code, int):
        return code
    text = str(code).strip()
    return int(text) if text.isdigit() else text


def parse_error(status: int, text: str) -> tuple[int | str | None, str]:
    """``(code, message)`` from any of Lofty's error body shapes.

    Args:
        status: HTTP status (used for the message when the body says nothing).
        text: Raw body text.
    """
    stripped = text.strip()
    fallback = f"HTTP {status} with {'an empty body' if not stripped else 'a non-JSON body'}"
    if not stripped:
        return None, fallback
    try:
        body = json.loads(stripped)
    except json.JSONDecodeError:
        return None, f"{fallback}: {body_preview(stripped)!r}" if not stripped.startswith("<") else fallback
    if isinstance(body, str):
        return None, body or fallback
    if isinstance(body, dict):
        code = _normalize(body.get("code", body.get("errorCode")))
        message = body.get("message", body.get("errorMsg"))
        if code == 0:
            code = None
        return code, str(message) if message not in (None, "") else fallback
    return None, f"{fallback}: {body_preview(stripped)!r}"


def error_class(status: int, code: int | str | None) -> type[APIStatusError]:
    """The error class for a Lofty error: the code's class if known, else the status's."""
    if status == 429:
        return RateLimitError
    if code is not None and code in CODE_ERRORS:
        return CODE_ERRORS[code]
    return error_class_for_status(status)
