"""cattrs converters: wire JSON <-> attrs models.

* Wire names: ``camelCase`` (Lofty) or ``snake_case`` (Superfone) from the model's snake_case
  field names; a field may name its wire key explicitly with ``metadata={"wire": "_metadata"}``.
* Datetimes are timezone-aware both ways. Parsing accepts ISO-8601 with ``Z`` or an offset,
  Lofty's literal ``GMT`` suffix (``"2026-03-01T15:00:00GMT"``, read as UTC), Lofty V1's
  ``"yyyy-MM-dd HH:mm:ss"`` (UTC), and epoch milliseconds. An empty string reads as ``None``.
  Unstructuring a naive datetime is a ``ValueError``.
* Unknown response keys are kept in ``extra`` on models derived from :class:`WireModel` (and
  written back by ``unstructure``), ignored on other models, and an error with ``strict=True``
  (tests) so that API drift shows up as a failing test.
* Unstructuring omits fields whose value is ``None``: request payloads send only what is given.
* A field with ``metadata={"epoch_ms": True}`` is an aware datetime in the model and epoch
  milliseconds on the wire (Lofty's transaction and V1 appointment dates).
* In production an optional timestamp in an undocumented format reads as ``None`` (with a
  warning in the log) instead of failing the whole call; the strict converter raises.
"""

from __future__ import annotations

import logging
import re
import typing
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

__all__ = [
    "WireModel",
    "format_datetime",
    "format_epoch_ms",
    "format_iso_offset",
    "format_utc_z",
    "make_converter",
    "parse_datetime",
    "parse_int",
    "same_instant_at_precision",
    "snake_to_camel",
]

Naming = Literal["camel", "snake"]
_log = logging.getLogger("crm_core")

_GMT_SUFFIX = re.compile(r"\s*(GMT|UTC)$")
_SPACE_FORMAT = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}(:\d{2}(\.\d+)?)?$")


def snake_to_camel(name: str) -> str:
    """``"lead_id"`` -> ``"leadId"``."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def parse_datetime(value: object) -> datetime | None:
    """Read a wire timestamp as an aware datetime.

    Accepts ISO-8601 (``Z`` or an offset), a trailing ``GMT``/``UTC`` (read as UTC), a naive
    ``"yyyy-MM-dd HH:mm:ss"`` or naive ISO string (read as UTC, as Lofty documents for V1), an
    integer of epoch milliseconds, ``""`` and ``None`` (both ``None``).

    Raises:
        ValueError: the value is none of these.
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a timestamp")
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000.0, tz=UTC)
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a timestamp")
    text = value.strip()
    assume_utc = False
    stripped = _GMT_SUFFIX.sub("", text)
    if stripped != text:
        text, assume_utc = stripped, True
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    if _SPACE_FORMAT.match(text):
        text = text.replace(" ", "T")
    parsed = datetime.fromisoformat(text)
    if assume_utc or parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed
    return parsed


def format_datetime(value: datetime, *, field: str = "datetime") -> str:
    """ISO-8601 with the datetime's own offset, seconds precision when whole.

    Raises:
        ValueError: ``value`` is naive (no tzinfo), naming ``field``.
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"{field}={value.isoformat()!r} is a naive datetime: expected a timezone-aware "
            "datetime (e.g. datetime(..., tzinfo=ZoneInfo('America/Los_Angeles')))"
        )
    spec = "seconds" if value.microsecond == 0 else "milliseconds"
    return value.isoformat(timespec=spec)


_INT_TEXT = re.compile(r"^\s*-?\d+\s*$")


def parse_int(value: object) -> int:
    """Read a wire integer without guessing (the converter's hook for ``int`` fields).

    Accepts an ``int``, a float with no fractional part (``5.0``) and a string of decimal digits
    (``"563172647619608"``). Refuses ``12.9`` (never truncated to 12), ``"abc"``, booleans and
    anything else.

    Raises:
        ValueError: ``value`` is not an integer, saying what it was.
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INT_TEXT.match(value):
        return int(value)
    raise ValueError(f"{value!r} is not an integer")


def format_iso_offset(value: datetime, *, field: str = "datetime") -> str:
    """Wire form "ISO-8601 with the datetime's own offset" (Lofty V2 tasks and calendar).

    ``datetime(2026, 3, 1, 15, 0, tzinfo=ZoneInfo("America/Los_Angeles"))`` ->
    ``"2026-03-01T15:00:00-08:00"``; milliseconds are kept when present
    (``"...T15:00:00.250-08:00"``). Same as :func:`format_datetime`.

    Raises:
        ValueError: ``value`` is naive, naming ``field``.
    """
    return format_datetime(value, field=field)


def format_epoch_ms(value: datetime, *, field: str = "datetime") -> int:
    """Wire form "epoch milliseconds" (Lofty V1 ``deadline``, calendar ``*Ms``, Superfone).

    Rounded to the nearest millisecond: ``2026-03-01T23:00:00.0004Z`` -> ``1772406000000``.

    Raises:
        ValueError: ``value`` is naive, naming ``field``.
    """
    _require_aware(value, field)
    return round(value.timestamp() * 1000)


def format_utc_z(value: datetime, *, field: str = "datetime") -> str:
    """Wire form "UTC with a ``Z`` suffix": the instant in UTC, seconds, or milliseconds when present.

    ``2026-03-01T15:00:00-08:00`` -> ``"2026-03-01T23:00:00Z"``;
    ``...T15:00:00.250-08:00`` -> ``"2026-03-01T23:00:00.250Z"``.

    Raises:
        ValueError: ``value`` is naive, naming ``field``.
    """
    _require_aware(value, field)
    utc = value.astimezone(UTC)
    spec = "seconds" if utc.microsecond == 0 else "milliseconds"
    return utc.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def same_instant_at_precision(sent: datetime, stored: datetime, *, precision: timedelta = timedelta(seconds=1)) -> bool:
    """Whether ``stored`` is ``sent`` as read back from a server that keeps only ``precision``.

    For reconciliation: a create sent at ``23:00:00.750-08:00`` and read back as
    ``"2026-03-02T07:00:00GMT"`` (Lofty, whole seconds) or ``...:00.750Z`` (Superfone,
    milliseconds) is the same write. Whether such a server truncates or rounds is not documented,
    so every form counts: ``stored`` equal to ``sent`` exactly, truncated to ``precision``, or
    rounded to it (half up, and half to even). Offsets do not matter, only the instant.

    Args:
        sent: The time sent (aware).
        stored: The time read back (aware).
        precision: The server's resolution (``timedelta(seconds=1)``, ``timedelta(milliseconds=1)``).

    Raises:
        ValueError: a naive datetime, or a ``precision`` that is not positive.
    """
    _require_aware(sent, "sent")
    _require_aware(stored, "stored")
    step = precision // timedelta(microseconds=1)
    if step <= 0:
        raise ValueError(f"precision={precision!r} is not valid: expected a positive timedelta")
    sent_us = (sent - _EPOCH) // timedelta(microseconds=1)
    stored_us = (stored - _EPOCH) // timedelta(microseconds=1)
    floor = sent_us - sent_us % step
    allowed = {sent_us, floor}
    if 2 * (sent_us % step) >= step:
        allowed.add(floor + step)
    return stored_us in allowed


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _require_aware(value: datetime, field: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"{field}={value.isoformat()!r} is a naive datetime: expected a timezone-aware "
            "datetime (e.g. datetime(..., tzinfo=ZoneInfo('America/Los_Angeles')))"
        )


def _wire_name(attribute: attrs.Attribute[Any], naming: Naming) -> str:
    explicit = attribute.metadata.get("wire")
    if explicit:
        return str(explicit)
    return snake_to_camel(attribute.name) if naming == "camel" else attribute.name


def make_converter(*, naming: Naming = "camel", strict: bool = False) -> cattrs.Converter:
    """A converter for one API's models.

    Args:
        naming: Wire-name style: ``"camel"`` (``leadId``) or ``"snake"`` (``lead_id``).
        strict: Forbid unknown keys when structuring (use in tests).
    """
    converter = cattrs.Converter(omit_if_default=False, forbid_extra_keys=strict)
    converter.register_structure_hook(datetime, lambda value, _: _must(parse_datetime(value)))
    converter.register_structure_hook(int, lambda value, _: parse_int(value))
    converter.register_structure_hook(bool, lambda value, _: bool(value))  # not int's hook (bool <: int)

    def optional_datetime(value: Any, _: Any) -> datetime | None:
        try:
            return parse_datetime(value)
        except ValueError:
            if strict:
                raise
            _log.warning("unreadable timestamp %r read as None", value)
            return None

    converter.register_structure_hook(datetime | None, optional_datetime)
    converter.register_unstructure_hook(datetime, format_datetime)

    def structure_factory(cls: type[Any]) -> Any:
        fields = attrs.fields(cls)
        extra = _extra_field(cls)
        overrides: dict[str, Any] = {
            a.name: override(omit=True) if a.name == extra else override(rename=_wire_name(a, naming)) for a in fields
        }
        generated = make_dict_structure_fn(cls, converter, _cattrs_forbid_extra_keys=strict, **overrides)
        if extra is None:
            return generated
        known = frozenset(_wire_name(a, naming) for a in fields if a.name != extra)

        def structure_keeping_unknown(data: Any, target: Any) -> Any:
            # Strict converters never get here with unknown keys: ``generated`` refuses them.
            value = generated(data, target)
            unknown = {k: v for k, v in data.items() if k not in known} if isinstance(data, Mapping) else {}
            return attrs.evolve(value, **{extra: unknown}) if unknown else value

        return structure_keeping_unknown

    def unstructure_factory(cls: type[Any]) -> Any:
        hints = typing.get_type_hints(cls)
        extra = _extra_field(cls)
        overrides: dict[str, Any] = {}
        for a in attrs.fields(cls):
            if a.name == extra:
                overrides[a.name] = override(omit=True)
                continue
            hook = None
            if a.metadata.get("epoch_ms"):
                hook = _epoch_ms
            elif hints.get(a.name) in (datetime, datetime | None):
                hook = _field_datetime_hook(a.name)
            overrides[a.name] = override(
                rename=_wire_name(a, naming), omit_if_default=a.default is None, unstruct_hook=hook
            )
        generated = make_dict_unstructure_fn(cls, converter, **overrides)
        order = [_wire_name(a, naming) for a in attrs.fields(cls) if a.name != extra]

        def unstructure_in_field_order(value: Any) -> dict[str, Any]:
            # cattrs emits required fields first; keep the model's order on the wire.
            data = generated(value)
            out = {key: data[key] for key in order if key in data}
            if extra is not None:
                for key, item in getattr(value, extra).items():
                    out.setdefault(key, item)  # unknown response keys go back out as they came
            return out

        return unstructure_in_field_order

    converter.register_structure_hook_factory(attrs.has, structure_factory)
    converter.register_unstructure_hook_factory(attrs.has, unstructure_factory)
    return converter


@attrs.frozen(kw_only=True)
class WireModel:
    """Base of response models that keep what they do not know.

    Keys of a response that no field of the model names are kept, as decoded JSON, in
    :attr:`extra` instead of being dropped, and :meth:`cattrs.Converter.unstructure` puts them
    back, so an API addition loses no data on a read-modify-write round trip. A strict
    converter (``make_converter(strict=True)``, used in tests) still refuses unknown keys, so
    API drift shows up as a failing test.

    Subclass it with ``@attrs.frozen(kw_only=True) class Task(WireModel): ...``; any attrs class
    can instead declare its own field with ``metadata={"extra": True}``.

    Attributes:
        extra: Unknown response keys (wire names) and their JSON values; empty when none.
    """

    extra: Mapping[str, Any] = attrs.field(factory=dict, repr=False, metadata={"extra": True})


def _extra_field(cls: type[Any]) -> str | None:
    for a in attrs.fields(cls):
        if a.metadata.get("extra"):
            return str(a.name)
    return None


def _epoch_ms(value: datetime | None) -> int | None:
    return None if value is None else format_epoch_ms(value)


def _field_datetime_hook(field: str) -> Any:
    def hook(value: datetime | None) -> str | None:
        return None if value is None else format_datetime(value, field=field)

    return hook


def _must(value: datetime | None) -> datetime:
    if value is None:
        raise ValueError("a timestamp is required here, got an empty value")
    return value
