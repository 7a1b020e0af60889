"""Superfone's wire forms: numeric IDs, millisecond UTC times, and the converter hooks for them.

Superfone documents every ID as a JSON number (leads, tasks, labels, stages, ...), writes times
as ISO-8601 UTC with milliseconds (``"2026-05-20T15:00:00.000Z"``) and reads request times in
any ISO-8601 form. These helpers keep the SDK to exactly those forms.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_unstructure_fn, override

from crm_core._converter import make_converter

__all__ = [
    "BODY_CONVERTER",
    "UNSET",
    "Unset",
    "install_hooks",
    "record_id",
    "request_body",
    "same_millisecond",
    "utc_z",
]

C = TypeVar("C", bound=type)


class Unset(enum.Enum):
    """The type of :data:`UNSET`."""

    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


UNSET = Unset.UNSET
"""Default of the nullable upsert fields: not sent (``None`` sends ``null``, which clears)."""

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


# -- request bodies --------------------------------------------------------------------------

BODY_CONVERTER: cattrs.Converter = make_converter(naming="snake")
"""Unstructures Superfone request bodies (snake_case wire names, as the API's).

Models marked with :func:`request_body` go out in field order, without fields left at a default
of ``None``, :data:`UNSET` or (``metadata={"omit_default": True}``) any other default;
``metadata={"in_path": True}`` keeps a path parameter out of the body and
``metadata={"wire": "..."}`` renames a field. Other attrs models (``Address``) are unstructured
without their ``None`` fields.
"""

_BODY_MODELS: set[type] = set()


def request_body(cls: C) -> C:
    """Class decorator: ``cls`` is a request body for :data:`BODY_CONVERTER`."""
    _BODY_MODELS.add(cls)
    return cls


def _body_hook(cls: type[Any]) -> Callable[[Any], dict[str, Any]]:
    overrides: dict[str, Any] = {}
    order: list[str] = []
    for field in attrs.fields(cls):
        if field.metadata.get("in_path"):
            overrides[field.name] = override(omit=True)
            continue
        wire = str(field.metadata.get("wire") or field.name)
        order.append(wire)
        omit = field.default is None or field.default is UNSET or bool(field.metadata.get("omit_default"))
        overrides[field.name] = override(rename=wire, omit_if_default=omit)
    generated = make_dict_unstructure_fn(cls, BODY_CONVERTER, **overrides)

    def in_field_order(value: Any) -> dict[str, Any]:
        data = generated(value)
        return {key: data[key] for key in order if key in data}

    return in_field_order


BODY_CONVERTER.register_unstructure_hook_factory(lambda cls: cls in _BODY_MODELS, _body_hook)
