"""Superfone's wire forms: numeric IDs, millisecond UTC times, and the converter hooks for them.

Superfone documents every ID as a JSON number (leads, tasks, labels, stages, ...), writes times
as ISO-8601 UTC with milliseconds (``"2026-05-20T15:00:00.000Z"``) and reads request times in
any ISO-8601 form. These helpers keep the SDK to exactly those forms.
"""

from __future__ import annotations

import enum
import typing
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from crm_core._converter import (
    PLAIN_TYPES,
    fast_structure_fn,
    format_utc_z,
    make_converter,
    plain_unstructure_fn,
    register_passthrough,
    same_instant_at_precision,
)

__all__ = [
    "BODY_CONVERTER",
    "EXTRA",
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

_MILLISECOND = timedelta(milliseconds=1)


def record_id(value: object) -> int:
    """An ID (or any integer field) as the API documents it: a JSON integer.

    ``12`` reads as ``12``; ``12.9`` (never truncated), ``12.0``, ``"12"``, ``"abc"``, ``true``
    and ``null`` are refused, as ``crm_core``'s ``parse_record_id`` refuses them. (Superfone's
    converter hook for every ``int`` field, so page counts such as ``total_pages: 0`` pass.)

    Raises:
        ValueError: anything else, naming the value.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{value!r} is not a usable ID or integer (expected a JSON integer)")
    return value


def _structure_int(value: Any, _: Any) -> int:
    return record_id(value)


register_passthrough(_structure_int, "v.__class__ is int")  # record_id(v) is v for an int


def install_hooks(converter: cattrs.Converter) -> cattrs.Converter:
    """Superfone's hooks on a client's response converter.

    * Every ``int`` field is a whole JSON number: a 2xx whose ``id`` is ``"abc"``, ``null`` or
      ``12.9`` fails to decode, which the SDK reports as
      :class:`~crm_core.APIResponseValidationError` (outcome ``PROCESSED``).
    * Models with an :func:`extra_field` keep unknown response keys there, and unstructure them
      back (a round trip loses nothing); a strict converter (``strict_responses=True``, for
      tests) still refuses them.
    * Datetimes unstructure as UTC with ``Z`` (:func:`utc_z`), the form Superfone reads and writes.

    Install before the converter first structures a model (hooks are compiled on first use).
    """
    default_bool = converter.get_structure_hook(bool)
    converter.register_structure_hook(int, _structure_int)
    converter.register_structure_hook(bool, default_bool)  # bool subclasses int: keep its own hook
    converter.register_unstructure_hook(datetime, format_utc_z)
    _keep_extra(converter, omit_none=False)
    return converter


# -- unknown response fields -------------------------------------------------------------------


EXTRA: Mapping[str, Any] = {"extra": True}
"""Field metadata: this ``dict`` field keeps the model's unknown response keys (``{wire_name: value}``)."""


def _origin(cls: Any) -> Any:
    return typing.get_origin(cls) or cls


def _extra_attribute(cls: Any) -> attrs.Attribute[Any] | None:
    origin = _origin(cls)
    if not (isinstance(origin, type) and attrs.has(origin)):
        return None
    return next((a for a in attrs.fields(origin) if a.metadata.get("extra")), None)


def _wire_name(attribute: attrs.Attribute[Any]) -> str:
    return str(attribute.metadata.get("wire") or attribute.name)


def _keep_extra(converter: cattrs.Converter, *, omit_none: bool) -> None:
    strict = converter.forbid_extra_keys

    def structure_factory(cls: Any) -> Callable[[Any, Any], Any]:
        extra = _extra_attribute(cls)
        assert extra is not None
        known = [a for a in attrs.fields(_origin(cls)) if a is not extra]
        overrides: dict[str, Any] = {a.name: override(rename=_wire_name(a)) for a in known}
        overrides[extra.name] = override(omit=True)
        base = make_dict_structure_fn(cls, converter, _cattrs_forbid_extra_keys=False, **overrides)
        names = frozenset(_wire_name(a) for a in known)
        alias = extra.alias or extra.name

        def structure(data: Any, type_: Any) -> Any:
            value = base(data, type_)
            unknown = {k: v for k, v in data.items() if k not in names} if isinstance(data, Mapping) else {}
            if not unknown:
                return value
            if strict:
                error = cattrs.ForbiddenExtraKeysError(None, _origin(cls), set(unknown))
                raise cattrs.ClassValidationError(f"While structuring {_origin(cls).__name__}", [error], cls)
            return attrs.evolve(value, **{alias: unknown})

        # The same result, faster: values already of their field's type skip their hook;
        # ``structure`` still reports every error (and unknown keys under a strict converter).
        wire = {a.name: _wire_name(a) for a in known}
        fast: Callable[[Any, Any], Any] = fast_structure_fn(
            cls, converter, wire, fallback=structure, strict=strict, extra=extra.name
        )
        return fast

    def unstructure_factory(cls: Any) -> Callable[[Any], dict[str, Any]]:
        extra = _extra_attribute(cls)
        assert extra is not None
        known = [a for a in attrs.fields(_origin(cls)) if a is not extra]
        overrides: dict[str, Any] = {
            a.name: override(rename=_wire_name(a), omit_if_default=omit_none and a.default is None) for a in known
        }
        overrides[extra.name] = override(omit=True)
        base = make_dict_unstructure_fn(cls, converter, **overrides)
        order = [_wire_name(a) for a in known]

        def unstructure(value: Any) -> dict[str, Any]:
            data = base(value)
            out = {key: data[key] for key in order if key in data}
            out.update({k: v for k, v in getattr(value, extra.name).items() if k not in out})
            return out

        return unstructure

    converter.register_structure_hook_factory(lambda cls: _extra_attribute(cls) is not None, structure_factory)
    converter.register_unstructure_hook_factory(lambda cls: _extra_attribute(cls) is not None, unstructure_factory)


def utc_z(value: datetime) -> str:
    """An aware datetime as Superfone reads times: UTC with ``Z``, milliseconds when not whole.

    ``datetime(2026, 5, 20, 20, 30, tzinfo=IST)`` -> ``"2026-05-20T15:00:00Z"``; sub-millisecond
    digits are dropped (the server keeps milliseconds). The shared
    :func:`crm_core._converter.format_utc_z`.
    """
    return format_utc_z(value)


def same_millisecond(sent: datetime, stored: datetime) -> bool:
    """Whether ``stored`` is how Superfone keeps ``sent``: the same instant at millisecond precision, in UTC.

    Offsets do not matter (both are compared as UTC instants). The server may truncate or round
    sub-millisecond digits; either reading counts as the same time. (The shared
    :func:`crm_core._converter.same_instant_at_precision` at one millisecond.)
    """
    return same_instant_at_precision(sent, stored, precision=_MILLISECOND)


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
    plain: list[tuple[str, str, object]] = []
    hints = typing.get_type_hints(cls)
    for field in attrs.fields(cls):
        if field.metadata.get("in_path"):
            overrides[field.name] = override(omit=True)
            continue
        wire = str(field.metadata.get("wire") or field.name)
        order.append(wire)
        omit = field.default is None or field.default is UNSET or bool(field.metadata.get("omit_default"))
        overrides[field.name] = override(rename=wire, omit_if_default=omit)
        plain.append((field.name, wire, field.default if omit else attrs.NOTHING))
    if all(hints.get(name) in PLAIN_TYPES for name, _, _ in plain):
        return plain_unstructure_fn(cls, plain)  # values go out as they are: one generated pass
    generated = make_dict_unstructure_fn(cls, BODY_CONVERTER, **overrides)

    def in_field_order(value: Any) -> dict[str, Any]:
        data = generated(value)
        return {key: data[key] for key in order if key in data}

    return in_field_order


_keep_extra(BODY_CONVERTER, omit_none=True)  # e.g. an Address read from a lead, sent back in an upsert
BODY_CONVERTER.register_unstructure_hook_factory(lambda cls: cls in _BODY_MODELS, _body_hook)
