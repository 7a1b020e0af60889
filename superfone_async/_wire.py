"""Superfone's wire forms: numeric IDs, millisecond UTC times, and the converter hooks for them.

Superfone documents every ID as a JSON number (leads, tasks, labels, stages, ...), writes times
as ISO-8601 UTC with milliseconds (``"2026-05-20T15:00:00.000Z"``) and reads request times in
any ISO-8601 form. These helpers keep the SDK to exactly those forms.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import cattrs

__all__ = ["install_hooks", "record_id", "same_millisecond", "utc_z"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def record_id(value: object) -> int:
    """A record ID as the API documents it: a JSON number with no fraction.

    ``12`` and ``12.0`` read as ``12``; ``12.9`` (never truncated), ``"12"``, ``"abc"``,
    ``true`` and ``null`` are refused. (Private stand-in for ``crm_core``'s shared ID parser.)

    Raises:
        ValueError: anything else, naming the value.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a numeric ID, got {value!r}")
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise ValueError(f"expected a whole-number ID, got {value!r}")
        return int(value)
    return value


def _structure_int(value: Any, _: Any) -> int:
    return record_id(value)


def install_hooks(converter: cattrs.Converter) -> cattrs.Converter:
    """Make ``converter`` Superfone-strict: every ``int`` field is a whole JSON number.

    Install before the converter first structures a model (hooks are compiled on first use).
    A 2xx whose ``id`` is ``"abc"``, ``null`` or ``12.9`` then fails to decode, which the SDK
    reports as :class:`~crm_core.APIResponseValidationError` (outcome ``PROCESSED``).
    """
    default_bool = converter.get_structure_hook(bool)
    converter.register_structure_hook(int, _structure_int)
    converter.register_structure_hook(bool, default_bool)  # bool subclasses int: keep its own hook
    return converter


def utc_z(value: datetime) -> str:
    """An aware datetime as Superfone writes times: UTC with ``Z``, milliseconds when not whole.

    ``datetime(2026, 5, 20, 20, 30, tzinfo=IST)`` -> ``"2026-05-20T15:00:00Z"``; sub-millisecond
    digits are dropped (the server keeps milliseconds).
    """
    moment = value.astimezone(UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond // 1000:
        text += f".{moment.microsecond // 1000:03d}"
    return text + "Z"


def _epoch_us(value: datetime) -> int:
    return (value - _EPOCH) // _MICROSECOND


def same_millisecond(sent: datetime, stored: datetime) -> bool:
    """Whether ``stored`` is how Superfone keeps ``sent``: the same instant at millisecond precision, in UTC.

    Offsets do not matter (both are compared as UTC instants). The server may truncate or round
    sub-millisecond digits; either reading counts as the same time.
    """
    sent_us, stored_us = _epoch_us(sent), _epoch_us(stored)
    if stored_us // 1000 == sent_us // 1000:
        return True
    return stored_us == (sent_us + 500) // 1000 * 1000
