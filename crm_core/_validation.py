"""Checks run before anything is sent. Each raises :class:`~crm_core.ValidationError`."""

from __future__ import annotations

import unicodedata
import zoneinfo
from collections.abc import Collection
from datetime import datetime
from functools import lru_cache

from ._converter import format_iso_offset, parse_datetime
from ._errors import ValidationError

__all__ = [
    "check_choice",
    "check_int_range",
    "check_positive_id",
    "check_text",
    "check_time_zone",
    "to_aware_datetime",
]

INT64_MAX = 2**63 - 1


def check_positive_id(field: str, value: object) -> int:
    """A positive 64-bit integer ID (``bool`` and numeric strings are refused)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(field, value, "a positive integer ID")
    if not 1 <= value <= INT64_MAX:
        raise ValidationError(field, value, "a positive integer ID below 2**63")
    return value


def check_choice(field: str, value: object, allowed: Collection[str], *, allow_unknown: bool = False) -> str:
    """One of ``allowed`` (exact spelling).

    Args:
        field: The argument's name, for the error.
        value: What the caller gave.
        allowed: The documented values.
        allow_unknown: Also accept any other non-blank string, sent as given: the escape
            hatch for enums the vendor documents as "currently allowed" (a value added on the
            server must not need a release). The caller opts in per call.

    Raises:
        ValidationError: not a string, or (without ``allow_unknown``) not one of ``allowed``.
    """
    if isinstance(value, str) and (value in allowed or (allow_unknown and value.strip())):
        return value
    expected = "one of " + ", ".join(sorted(allowed))
    if allow_unknown:
        expected += " or another non-blank string"
    raise ValidationError(field, value, expected)


def check_credential(field: str, value: object) -> str:
    """A credential (API key, token) stripped of surrounding whitespace, refused if unusable.

    Both SDKs and both command lines treat credentials this way: spaces, tabs and newlines
    around the value are removed; an empty value, or any control character inside it (a newline,
    a tab, U+0000..U+001F, U+007F, format characters), is refused before anything is sent, since
    it could never be a valid header value.

    Raises:
        ValueError: the value is not a string, is empty, or holds a control character. The
            message names ``field`` and the character's position, never the value.
    """
    if not isinstance(value, str):
        raise ValueError(f"{field} must be a string, not {type(value).__name__}")
    stripped = value.strip()
    if not stripped:
        raise ValueError(f"{field} is empty")
    for index, char in enumerate(stripped):
        if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp"):
            raise ValueError(
                f"{field} contains a control character (U+{ord(char):04X} at position {index + 1}); "
                "a credential is one line of printable text: check how it was pasted or exported"
            )
    return stripped


def check_text(field: str, value: object, *, required: bool = True, max_length: int | None = None) -> str:
    """A non-blank string (when required), at most ``max_length`` characters."""
    if value is None and required:
        raise ValidationError(field, value, "a non-empty string (required)")
    if not isinstance(value, str):
        raise ValidationError(field, value, "a string")
    if required and not value.strip():
        raise ValidationError(field, value, "a non-empty string")
    if max_length is not None and len(value) > max_length:
        raise ValidationError(field, value, f"at most {max_length} characters")
    return value


def check_int_range(field: str, value: object, low: int, high: int | None = None) -> int:
    """An integer in ``low..high`` (inclusive; ``high=None`` for no upper bound)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(field, value, f"an integer >= {low}")
    if value < low or (high is not None and value > high):
        bound = f"from {low} to {high}" if high is not None else f">= {low}"
        raise ValidationError(field, value, f"an integer {bound}")
    return value


@lru_cache(maxsize=512)
def _zone_exists(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def check_time_zone(field: str, value: object) -> str:
    """A real IANA time-zone name (``"America/Los_Angeles"``)."""
    if not isinstance(value, str) or not value or not _zone_exists(value):
        raise ValidationError(field, value, "an IANA time-zone name such as 'America/Los_Angeles'")
    return value


def to_aware_datetime(field: str, value: object) -> datetime:
    """A timezone-aware datetime from a ``datetime`` or an ISO-8601 string with an offset.

    Raises:
        ValidationError: naive datetime, a string without an offset, or unparseable.
    """
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValidationError(field, value, "a timezone-aware datetime (this one is naive: add tzinfo)")
        return value
    if isinstance(value, str):
        text = value.strip()
        has_offset = text.endswith(("Z", "z")) or (len(text) > 10 and ("+" in text[10:] or "-" in text[10:]))
        if not has_offset:
            raise ValidationError(field, value, "an ISO-8601 time with an offset, e.g. '2026-03-01T15:00:00-08:00'")
        try:
            parsed = parse_datetime(text)
        except ValueError:
            parsed = None
        if parsed is None:
            raise ValidationError(field, value, "an ISO-8601 time with an offset, e.g. '2026-03-01T15:00:00-08:00'")
        return parsed
    raise ValidationError(field, value, "a timezone-aware datetime or an ISO-8601 string with an offset")


def wire_time(field: str, value: object) -> str:
    """Validate ``value`` as an aware time and render it for the wire.

    A string is sent exactly as given (so a documented example body stays byte-for-byte); a
    ``datetime`` is rendered ISO-8601 with its own offset.
    """
    parsed = to_aware_datetime(field, value)
    if isinstance(value, str):
        return value.strip()
    return format_iso_offset(parsed, field=field)
