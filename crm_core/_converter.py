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

import functools
import logging
import re
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from types import NoneType
from typing import Any, Literal

import attrs
import cattrs
from cattrs.cols import list_structure_factory
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from ._attrs_init import init_only_stores

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


def camel_to_snake(name: str) -> str:
    """``"lotSize"`` -> ``"lot_size"``; a snake_case name stays as it is."""
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def parse_datetime(value: object) -> datetime | None:
    """Read a wire timestamp as an aware datetime.

    Accepts ISO-8601 (``Z`` or an offset), a trailing ``GMT``/``UTC`` (read as UTC), a naive
    ``"yyyy-MM-dd HH:mm:ss"`` or naive ISO string (read as UTC, as Lofty documents for V1), an
    integer of epoch milliseconds, ``""`` and ``None`` (both ``None``).

    Raises:
        ValueError: the value is none of these.
    """
    if value.__class__ is str:
        # Fast paths for the forms the APIs send (same result as the general path below).
        try:
            if value.endswith("GMT"):
                return datetime.fromisoformat(value[:-3] + "+00:00")  # Lofty
            parsed = datetime.fromisoformat(value)  # ISO-8601, Z or offset
        except ValueError:
            pass
        else:
            return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed
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


_EXACT_FLOAT_INT = 2**53  # floats are exact integers up to this


def parse_int(value: object) -> int:
    """Read a wire integer without guessing (the converter's hook for ``int`` fields).

    Accepts an ``int``, a float with no fractional part up to ``2**53`` (``5.0``: every integer
    that far is exact as a float) and a string of decimal digits (``"563172647619608"``). Refuses
    ``12.9`` (never truncated to 12), larger floats (``1e20`` may stand for another integer),
    ``"abc"``, booleans and anything else.

    Raises:
        ValueError: ``value`` is not an integer, saying what it was.
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer() and abs(value) <= _EXACT_FLOAT_INT:
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
    converter.register_structure_hook(datetime, _structure_datetime)
    converter.register_structure_hook(int, _structure_int)
    converter.register_structure_hook(bool, _structure_bool)  # not int's hook (bool <: int)

    def optional_factory(union: Any) -> Any:
        # cattrs' own Optional hook looks the inner type's hook up on every value; resolve it
        # once per type instead (same result: None stays None, anything else goes to the hook).
        args = union.__args__
        inner_type = args[0] if args[1] is NoneType else args[1]
        fast = _FAST_OPTIONAL.get(inner_type)
        if fast is not None and converter.get_structure_hook(inner_type) is _FAST_INNER[inner_type]:
            return fast
        inner: Any = None  # resolved on first use (a model may refer to itself)

        def structure_optional(value: Any, _: Any) -> Any:
            nonlocal inner
            if value is None:
                return None
            if inner is None:
                inner = converter.get_structure_hook(inner_type)
            return inner(value, inner_type)

        structure_optional.optional_of = inner_type  # type: ignore[attr-defined]  # for fast_structure_fn
        return structure_optional

    # A union given its own hook (``register_structure_hook(datetime | None, ...)`` below, or a
    # caller's) keeps it: cattrs keeps those in its union registry.
    unions: Mapping[Any, Any] = getattr(converter, "_union_struct_registry", {})
    converter.register_structure_hook_factory(lambda tp: _is_simple_optional(tp) and tp not in unions, optional_factory)

    def optional_datetime(value: Any, _: Any) -> datetime | None:
        try:
            return parse_datetime(value)
        except ValueError:
            if strict:
                raise
            _log.warning("unreadable timestamp %r read as None", value)
            return None

    optional_datetime.reads_timestamps = True  # type: ignore[attr-defined]  # see fast_structure_fn
    converter.register_structure_hook(datetime | None, optional_datetime)
    converter.register_unstructure_hook(datetime, format_datetime)

    def structure_factory(cls: type[Any]) -> Any:
        fields = attrs.fields(cls)
        extra = _extra_field(cls)
        overrides: dict[str, Any] = {
            a.name: override(omit=True) if a.name == extra else override(rename=_wire_name(a, naming)) for a in fields
        }
        generated = make_dict_structure_fn(cls, converter, _cattrs_forbid_extra_keys=strict, **overrides)
        wire = {a.name: _wire_name(a, naming) for a in fields if a.name != extra}
        if extra is None:
            return fast_structure_fn(cls, converter, wire, fallback=generated, strict=strict)
        known = frozenset(wire.values())

        def structure_keeping_unknown(data: Any, target: Any) -> Any:
            # Strict converters never get here with unknown keys: ``generated`` refuses them.
            value = generated(data, target)
            unknown = {k: v for k, v in data.items() if k not in known} if isinstance(data, Mapping) else {}
            return attrs.evolve(value, **{extra: unknown}) if unknown else value

        return fast_structure_fn(cls, converter, wire, fallback=structure_keeping_unknown, strict=strict, extra=extra)

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
        plain = extra is None and all(hints.get(a.name) in PLAIN_TYPES for a in attrs.fields(cls))
        if plain:  # every value goes out as it is: one generated function, in field order
            return _plain_unstructure_fn(cls, naming)
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
    converter.register_structure_hook_factory(_is_list_of_models, lambda tp: _model_list_hook(converter, tp))
    return converter


def _is_list_of_models(tp: Any) -> bool:
    args = typing.get_args(tp)
    return typing.get_origin(tp) is list and len(args) == 1 and attrs.has(args[0])


def _model_list_hook(converter: cattrs.Converter, tp: Any) -> Any:
    """The structure hook for ``list[Model]``: a list of bodies of one shape (a page of leads, of
    tasks) is built by that shape's builder in one comprehension; anything else (another shape,
    an error) goes to cattrs' own list hook, whose errors name each bad item's index."""
    generic = list_structure_factory(tp, converter)
    item_type = typing.get_args(tp)[0]
    try:
        item_hook = converter.get_structure_hook(item_type)
    except RecursionError:  # a model that holds a list of itself: cattrs' hook, late-bound
        return generic
    last = getattr(item_hook, "last_builder", None)
    if last is None:
        return generic

    def structure_model_list(obj: Any, _: Any) -> Any:
        build = last[0]
        if obj.__class__ is list and build is not None:
            try:
                return [
                    made if o.__class__ is dict and (made := build(o)) is not _MISS else item_hook(o, item_type)
                    for o in obj
                ]
            except Exception:  # cattrs' hook below reads it again, and reports
                pass
        return generic(obj, _)

    return structure_model_list


def fast_structure_fn(
    cls: type[Any],
    converter: cattrs.Converter,
    wire: Mapping[str, str],
    *,
    fallback: Any,
    strict: bool,
    extra: str | None = None,
) -> Any:
    """A structure hook for the attrs class ``cls`` that gives ``fallback``'s result, faster.

    ``fallback`` is the cattrs-generated hook (with detailed validation). This one reads a
    ``dict`` body field by field (``wire``: attribute name -> wire key) and passes values that
    already have their field's type (a ``str`` for ``str | None``, an ``int`` for ``int``, a list
    of those...) straight through, calling the field's cattrs hook only for the others. Unknown
    keys go to the ``extra`` field (when given). Anything else -- a non-``dict`` body, an
    unknown key under a strict converter, any error -- is handed to ``fallback``, so errors are
    cattrs' own, detailed ones.

    A slotted class whose ``__init__`` only stores its arguments (no validators, converters,
    ``__attrs_pre_init__``/``__attrs_post_init__``, ``init=False`` fields or cached hash: every
    model of this SDK) is built without calling ``__init__``: each slot is set once, a missing
    key gets the field's default, as ``__init__`` would.
    """
    if typing.get_origin(cls) is not None:
        return fallback
    by_name = {a.name: a for a in attrs.fields(cls)}
    hints = typing.get_type_hints(cls)
    known = frozenset(wire.values())
    setters = _slot_setters(cls)
    namespace: dict[str, Any] = {
        "__cls": cls,
        "__fallback": fallback,
        "__known": known,
        "__fromiso": datetime.fromisoformat,
        "__new": object.__new__,
        "__Mapping": Mapping,
    }
    lines = ["def structure_fast(o, _):"]
    # A JSON array, string or number where an object belongs is an error (cattrs' own hook
    # would read it as an object with no keys: a model of all defaults).
    lines += [
        "    if not isinstance(o, __Mapping):",
        f"        raise TypeError('expected a JSON object for {cls.__name__}, got ' + o.__class__.__name__)",
    ]
    if strict:
        lines.append("    if o.__class__ is not dict or not __known.issuperset(o):")
    else:
        lines.append("    if o.__class__ is not dict:")
    lines += ["        return __fallback(o, _)", "    try:"]
    lines.append("        self = __new(__cls)" if setters is not None else "        kw = {}")
    for index, (name, key) in enumerate(wire.items()):
        attribute = by_name[name]
        if not attribute.init:
            continue
        tp = hints.get(name, attribute.type)
        hook, hook_name, type_name = converter.get_structure_hook(tp), f"__h{index}", f"__t{index}"
        namespace[hook_name], namespace[type_name] = hook, tp
        if setters is not None:
            namespace[f"__s{index}"] = setters[name]
            store = f"__s{index}(self, {{}})"
        else:
            store = f"kw[{attribute.alias or name!r}] = {{}}"
        lines += _field_lines(converter, namespace, index, key, attribute, tp, hook, store, direct=setters is not None)
    if extra is not None:
        unknown = "{k: v for k, v in o.items() if k not in __known}"
        if setters is not None:
            namespace["__sx"] = setters[extra]
            lines.append(f"        __sx(self, {{}} if __known.issuperset(o) else {unknown})")
        else:
            alias = by_name[extra].alias or extra
            lines += ["        if not __known.issuperset(o):", f"            kw[{alias!r}] = {unknown}"]
    lines.append("        return self" if setters is not None else "        return __cls(**kw)")
    lines += ["    except Exception:", "        pass", "    return __fallback(o, _)"]
    code = _compile("\n".join(lines), f"<crm_core fast structure {cls.__qualname__}>")
    exec(code, namespace)  # generated from the class's own fields, as cattrs does
    fn = namespace["structure_fast"]
    if _builds_by_dict(cls):
        fn = _shape_structure_fn(cls, converter, wire, hints, extra=extra, per_field=fn, strict=strict)
    fn.fallback = fallback
    return fn


def _builds_by_dict(cls: type[Any]) -> bool:
    """Whether ``cls`` (a dict-based attrs class) may be built by filling its ``__dict__``: no
    class of its MRO has slots, and its ``__init__`` would only store its arguments."""
    return not any(k.__dict__.get("__slots__") for k in cls.__mro__) and init_only_stores(cls)


_SHAPES_PER_MODEL = 64  # distinct (keys, value types) shapes with a generated builder, per model
_SHAPES_SEEN = 4096  # shapes met once (no builder yet) remembered per model
_KEYS_PER_BUILDER = 256  # bodies with more keys are read field by field


def _shape_structure_fn(
    cls: type[Any],
    converter: cattrs.Converter,
    wire: Mapping[str, str],
    hints: Mapping[str, Any],
    *,
    extra: str | None,
    per_field: Any,
    strict: bool,
) -> Any:
    """A structure hook for a dict-based model that reads a body by its *shape*.

    The shape of a body is its keys and the classes of its values. Responses of one endpoint come
    in a handful of shapes; for each, one function is generated (:func:`_shape_builder`) that
    checks a body has exactly that shape (its key count, each key, each value's class) and builds
    the model from it in one dict display: values that already have their field's type (an
    ``int`` for ``int | None``...) as they are, the others through their hook (timestamps,
    lists, nested models, odd values), unknown keys into ``extra``, absent fields their default.
    The builder of the previous body is tried first, so a page of same-shaped bodies costs no
    shape computation at all. A builder is generated the second time a shape is met (the first
    body of a shape is read field by field), for at most ``_SHAPES_PER_MODEL`` shapes; bodies of
    other shapes are read field by field. A shape that cannot be built (a required field
    missing, an unknown key under a strict converter) goes to ``per_field``, the field-by-field
    hook, which also reports every error.
    """
    name_of = {key: name for name, key in wire.items()}
    attributes = {a.name: a for a in attrs.fields(cls)}
    builders: dict[tuple[tuple[str, ...], tuple[type, ...]], Any] = {}

    def value_hook(name: str) -> tuple[Any, Any, bool]:
        tp = hints.get(name, attributes[name].type)
        hook = converter.get_structure_hook(tp)
        return hook, tp, bool(getattr(hook, "reads_timestamps", False))

    hooks = {name: value_hook(name) for name in wire}
    # Fields of the SDK's models (and WireModels) whose default is an immutable constant get it as
    # a class attribute, so a body that lacks them is built without storing them (the instance
    # reads the class's value, as it would its own: a Lead body carries 23 of 60 fields). Other
    # defaults, and every default of a caller's own class, are stored per instance.
    ours = issubclass(cls, WireModel) or cls.__module__.partition(".")[0] in _SDK_PACKAGES
    shared_defaults = {
        name
        for name, attribute in attributes.items()
        if ours
        and name != extra
        and attribute.default.__class__ in _IMMUTABLE_DEFAULTS
        and cls.__dict__.get(name, attribute.default) is attribute.default  # free, or set by another converter
    }
    for name in shared_defaults:
        type.__setattr__(cls, name, attributes[name].default)
    plain_items = {name: _plain_list_item(converter, hints.get(name, attributes[name].type)) for name in wire}
    accepts = {name: _accepted_classes(converter, hints.get(name, attributes[name].type)) for name in wire}

    def make_builder(keys: tuple[str, ...], classes: tuple[type, ...]) -> Any:
        if len(keys) > _KEYS_PER_BUILDER:
            return None  # no code generated for an outsized body: read field by field
        if strict and any(key not in name_of for key in keys):
            return None  # the per-field hook refuses it, as cattrs does
        present = {name_of[key] for key in keys if key in name_of}
        for name, attribute in attributes.items():
            if name not in present and name != extra and attribute.default is attrs.NOTHING:
                return None  # a required key is missing: the per-field hook reports it
        return _shape_builder(
            cls,
            keys,
            classes,
            name_of,
            attributes,
            hooks,
            plain_items,
            accepts,
            extra=extra,
            not_stored_as_default=present | shared_defaults,
        )

    last: list[Any] = [None]  # the builder of the previous body's shape
    seen: set[tuple[tuple[str, ...], tuple[type, ...]]] = set()  # shapes met once, no builder yet

    def structure_by_shape(o: Any, _: Any) -> Any:
        if o.__class__ is not dict:
            return per_field(o, _)
        try:
            build = last[0]
            if build is not None:
                made = build(o)
                if made is not _MISS:
                    return made
            shape = (tuple(o), tuple(map(type, o.values())))
            if shape in builders:
                build = builders[shape]
            elif shape not in seen or len(builders) >= _SHAPES_PER_MODEL:
                # A shape met for the first time is read field by field: a builder is generated
                # only for a shape that comes again, and only for the first _SHAPES_PER_MODEL
                # such shapes. Bodies of ever-new shapes (a server that leaves out null fields)
                # cost what the field-by-field hook costs: no code generated, none thrown away.
                if len(seen) >= _SHAPES_SEEN:
                    seen.clear()
                seen.add(shape)
                return per_field(o, _)
            else:
                seen.discard(shape)
                build = builders[shape] = make_builder(*shape)
            if build is None:
                return per_field(o, _)
            last[0] = build
            made = build(o)
            return made if made is not _MISS else per_field(o, _)
        except Exception:  # any surprise: the per-field hook decides (and reports)
            return per_field(o, _)

    structure_by_shape.last_builder = last  # type: ignore[attr-defined]  # for _model_list_hook
    return structure_by_shape


_IMMUTABLE_DEFAULTS = frozenset({NoneType, bool, int, float, str, bytes})
_SDK_PACKAGES = frozenset({"crm_core", "lofty_async", "superfone_async"})
_MISS = object()  # a shape builder's answer for a body of another shape


def _shape_builder(
    cls: type[Any],
    keys: tuple[str, ...],
    classes: tuple[type, ...],
    name_of: Mapping[str, str],
    attributes: Mapping[str, Any],
    hooks: Mapping[str, tuple[Any, Any, bool]],
    plain_items: Mapping[str, type | None],
    accepts: Mapping[str, frozenset[type]],
    *,
    extra: str | None,
    not_stored_as_default: set[str],
) -> Any:
    """The generated function that builds ``cls`` from a body of one shape, or returns ``_MISS``
    for a body of another shape (a value's hook may still raise: the caller falls back).

    Every field outside ``not_stored_as_default`` (the body's own, and those read from the class)
    and ``extra`` is stored with its default."""
    namespace: dict[str, Any] = {
        "__cls": cls,
        "__new": object.__new__,
        "__set": object.__setattr__,
        "__MISS": _MISS,
        "__ts_get": _TIMESTAMPS.get,
        "__read_ts": _read_timestamp,
    }
    checks: list[str] = []  # each value's class is the shape's
    entries: list[str] = []
    unknown: list[str] = []
    for i, (key, value_class) in enumerate(zip(keys, classes, strict=True)):
        name = name_of.get(key)
        if name is None:
            unknown.append(f"{key!r}: v{i}")  # kept as decoded, whatever its class
            continue
        if value_class is NoneType:
            checks.append(f"v{i} is None")
        else:
            namespace[f"__c{i}"] = value_class
            checks.append(f"v{i}.__class__ is __c{i}")
        hook, tp, reads_timestamps = hooks[name]
        namespace[f"__h{i}"], namespace[f"__t{i}"] = hook, tp
        item = plain_items[name]
        if value_class in accepts[name]:
            value = f"v{i}"
        elif reads_timestamps and value_class is str:  # a timestamp string seen before: parsed once
            value = f"(__ts_get(v{i}) or __read_ts(__h{i}, __t{i}, v{i}))"
        elif item is not None and value_class is list:  # a list[str] / list[int] of exactly those: copied
            namespace[f"__only{i}"], namespace[f"__i{i}"] = frozenset({item}).issuperset, item
            one = f"len(v{i}) == 1 and v{i}[0].__class__ is __i{i}"  # the usual one email, one phone
            value = f"(v{i}.copy() if {one} or not v{i} or __only{i}(map(type, v{i})) else __h{i}(v{i}, __t{i}))"
        elif value_class is list and typing.get_origin(_unwrap_optional(tp)[1]) is list:
            value = f"(__h{i}(v{i}, __t{i}) if v{i} else [])"  # an empty list of models: a new empty list
        else:
            value = f"__h{i}(v{i}, __t{i})"
        entries.append(f"{name!r}: {value}")
    for j, (name, attribute) in enumerate(attributes.items()):
        if name in not_stored_as_default or name == extra:
            continue
        entries.append(f"{name!r}: {_default_expression(namespace, j, attribute.default)}")
    if extra is not None:
        entries.append(f"{extra!r}: {{{', '.join(unknown)}}}")
    # The body's keys, in order, are the shape's (the decoder's keys are mostly the very same
    # string objects, compared by identity); its values are then taken in that order.
    namespace["__keys"] = keys
    lines = [
        "def build(o):",
        "    if tuple(o) != __keys:",
        "        return __MISS",
        f"    {''.join(f'v{i}, ' for i in range(len(keys)))}= tuple(o.values())" if keys else "",
    ]
    if checks:
        lines += [f"    if not ({' and '.join(checks)}):", "        return __MISS"]
    lines += [
        f"    fields = {{{', '.join(entries)}}}",
        "    instance = __new(__cls)",
        "    __set(instance, '__dict__', fields)",
        "    return instance",
    ]
    code = _compile("\n".join(lines), f"<crm_core shape builder {cls.__qualname__}>")
    exec(code, namespace)  # generated from the class's fields and the body's keys (repr'd literals)
    return namespace["build"]


def _plain_list_item(converter: cattrs.Converter, tp: Any) -> type | None:
    """``str`` or ``int`` for a ``list[str]`` / ``list[int]`` field (optional or not) whose items
    pass through their hook as they are; else ``None``."""
    if _list_passthrough(converter, tp) is None:
        return None
    _, inner = _unwrap_optional(tp)
    item: type = typing.get_args(inner)[0]
    return item


def _accepted_classes(converter: cattrs.Converter, tp: Any) -> frozenset[type]:
    """Value classes that a field of type ``tp`` keeps as they are (its hook returns them)."""
    optional, inner = _unwrap_optional(tp)
    accepted: set[type] = {NoneType} if optional else set()
    hook = converter.get_structure_hook(inner)
    if inner is str and hook is cattrs.BaseConverter._structure_call:
        accepted.add(str)
    else:
        try:
            check = _PASSTHROUGH.get(hook)
        except TypeError:  # an unhashable hook object
            check = None
        plain = {"v.__class__ is int": int, "v.__class__ is bool": bool, "v.__class__ is str": str}.get(check or "")
        if plain is not None and plain is inner:
            accepted.add(plain)
    return frozenset(accepted)


_TIMESTAMPS: dict[str, datetime] = {}  # wire string -> aware datetime (immutable, safe to share)
_TIMESTAMPS_MAX = 4096


def _read_timestamp(hook: Any, tp: Any, value: Any) -> Any:
    """``hook(value, tp)`` for a timestamp field, with aware ISO-8601 / Lofty ``...GMT`` strings
    read once per distinct string."""
    if value.__class__ is not str:
        return hook(value, tp)
    known = _TIMESTAMPS.get(value)
    if known is not None:
        return known
    try:
        parsed = datetime.fromisoformat(value[:-3] + "+00:00" if value.endswith("GMT") else value)
    except ValueError:
        return hook(value, tp)
    if parsed.tzinfo is None:
        return hook(value, tp)
    if len(_TIMESTAMPS) >= _TIMESTAMPS_MAX:
        _TIMESTAMPS.clear()
    _TIMESTAMPS[value] = parsed
    return parsed


def _field_lines(
    converter: cattrs.Converter,
    namespace: dict[str, Any],
    index: int,
    key: str,
    attribute: Any,
    tp: Any,
    hook: Any,
    store_template: str,
    *,
    direct: bool,
) -> list[str]:
    """The generated lines reading wire ``key`` into the field ``attribute``.

    ``store_template.format(expr)`` is the statement that stores ``expr`` as the field's value.
    With ``direct``, a missing key must store the field's default (``__init__`` is not called).
    """

    def store(value: str) -> str:
        return store_template.format(value)

    call = f"__h{index}(v, __t{index})"
    passthrough = _passthrough(converter, hook, tp)
    if passthrough is not None:
        value = f"v if {passthrough} else {call}"
    else:
        is_list = _list_passthrough(converter, tp)
        # A list is copied, as cattrs' own list hook would.
        value = call if is_list is None else f"(None if v is None else v.copy()) if {is_list} else {call}"
    default = attribute.default
    if getattr(hook, "reads_timestamps", False):
        # parse_datetime's fast paths inlined: an aware ISO-8601 string (or Lofty's "...GMT")
        # is read here; anything else (None, naive, odd forms, errors) goes to the hook.
        present = [
            "            if v.__class__ is str:",
            "                try:",
            "                    d = __fromiso(v[:-3] + '+00:00') if v.endswith('GMT') else __fromiso(v)",
            "                except ValueError:",
            "                    d = None",
            f"                {store(f'd if d is not None and d.tzinfo is not None else {call}')}",
            "            else:",
            f"                {store(call)}",
        ]
    else:
        if direct and default is None and passthrough is not None and passthrough.startswith("(v is None or"):
            # A missing key reads as None, which is the default and passes through.
            return [f"        v = o.get({key!r})", f"        {store(value)}"]
        present = [f"            {store(value)}"]
    lines = [f"        if {key!r} in o:", f"            v = o[{key!r}]", *present]
    if direct:
        lines.append("        else:")
        if default is attrs.NOTHING:
            lines.append("            return __fallback(o, _)  # a required key is missing: cattrs says so")
        else:
            lines.append(f"            {store(_default_expression(namespace, index, default))}")
    return lines


def _default_expression(namespace: dict[str, Any], index: int, default: Any) -> str:
    """Generated code's expression for a field's default (a factory is called per instance)."""
    if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
        namespace[f"__f{index}"] = default.factory
        return f"__f{index}()"
    namespace[f"__d{index}"] = default
    return f"__d{index}"


def _slot_setters(cls: type[Any]) -> dict[str, Any] | None:
    """Each field's slot setter, when ``cls.__init__`` would only store its arguments; else None."""
    if not init_only_stores(cls):
        return None
    slots: set[str] = set()
    for klass in cls.__mro__:
        own = klass.__dict__.get("__slots__", ())
        slots.update((own,) if isinstance(own, str) else own)
    if "__dict__" in slots or any(name.startswith("__attrs_cached_hash") for name in slots):
        return None
    setters: dict[str, Any] = {}
    for a in attrs.fields(cls):
        descriptor = next((k.__dict__[a.name] for k in cls.__mro__ if a.name in k.__dict__), None)
        if not isinstance(descriptor, types.MemberDescriptorType):
            return None
        setters[a.name] = descriptor.__set__
    return setters


@functools.lru_cache(maxsize=512)
def _compile(source: str, name: str) -> types.CodeType:
    # Every client has its own converter; the generated source of a model is the same.
    return compile(source, name, "exec")


def register_passthrough(hook: Any, check: str) -> None:
    """Declare that ``hook(v, type)`` returns ``v`` itself whenever the Python expression
    ``check`` (over ``v``) is true, so :func:`fast_structure_fn` may skip the call then."""
    _PASSTHROUGH[hook] = check


def _passthrough(converter: cattrs.Converter, hook: Any, tp: Any) -> str | None:
    """The pass-through test for a field of type ``tp`` structured by ``hook``, if known."""
    try:
        check = _PASSTHROUGH.get(hook)
    except TypeError:  # an unhashable hook object
        return None
    if check is not None:
        return check
    if hook is cattrs.BaseConverter._structure_call and tp is str:
        return "v.__class__ is str"
    inner_type = getattr(hook, "optional_of", None)
    if inner_type is not None and inner_type is not tp:
        inner_check = _passthrough(converter, converter.get_structure_hook(inner_type), inner_type)
        if inner_check is not None:
            return f"(v is None or {inner_check})"
    return None


def _list_passthrough(converter: cattrs.Converter, tp: Any) -> str | None:
    """A test that ``v`` (for ``list[str]`` / ``list[int]``, optional or not) needs no conversion."""
    optional, inner = _unwrap_optional(tp)
    if typing.get_origin(inner) is not list or typing.get_args(inner) not in ((str,), (int,)):
        return None
    (item,) = typing.get_args(inner)
    item_hook = converter.get_structure_hook(item)
    if item is int and item_hook is not _structure_int:
        return None
    if item is str and item_hook is not cattrs.BaseConverter._structure_call:
        return None
    check = f"v.__class__ is list and (not v or all(e.__class__ is {item.__name__} for e in v))"
    return f"(v is None or {check})" if optional else f"({check})"


@attrs.frozen(kw_only=True, slots=False)
class WireModel:
    """Base of response models that keep what they do not know.

    Keys of a response that no field of the model names are kept, as decoded JSON, in
    :attr:`extra` instead of being dropped, and :meth:`cattrs.Converter.unstructure` puts them
    back, so an API addition loses no data on a read-modify-write round trip. A strict
    converter (``make_converter(strict=True)``, used in tests) still refuses unknown keys, so
    API drift shows up as a failing test.

    Subclass it with ``@attrs.frozen(kw_only=True, slots=False) class Task(WireModel): ...``; any
    attrs class can instead declare its own field with ``metadata={"extra": True}``. Models are
    dict-based (``slots=False``) so that the converter builds one from a response body with a
    few C-level dict operations (see :func:`fast_structure_fn`); a slotted model works too,
    built slot by slot.

    Attributes:
        extra: Unknown response keys (wire names) and their JSON values; empty when none.
    """

    extra: Mapping[str, Any] = attrs.field(factory=dict, repr=False, metadata={"extra": True})


PLAIN_TYPES: frozenset[Any] = frozenset([str, int, float, bool, str | None, int | None, float | None, bool | None])
"""Field types cattrs unstructures as they are (no hook): such a model's unstructure is generated whole."""


def _plain_unstructure_fn(cls: type[Any], naming: Naming) -> Any:
    """The unstructure function of a model whose fields all go out as they are.

    Same output as cattrs' generated function with the overrides above (wire names, fields
    defaulting to ``None`` omitted when ``None``), in field order, without its re-ordering pass.
    """
    fields = [(a.name, _wire_name(a, naming), None if a.default is None else attrs.NOTHING) for a in attrs.fields(cls)]
    return plain_unstructure_fn(cls, fields)


def plain_unstructure_fn(cls: type[Any], fields: Sequence[tuple[str, str, object]]) -> Callable[[Any], dict[str, Any]]:
    """A generated ``value -> dict`` for ``cls``, whose listed fields go out as they are.

    Args:
        cls: An attrs class (its name labels the generated code).
        fields: ``(attribute, wire name, omitted default)`` in wire order; a field is left out
            while it equals its omitted default (``attrs.NOTHING``: never left out). Fields not
            listed are not sent.

    Returns:
        What cattrs' ``make_dict_unstructure_fn`` with ``rename`` and ``omit_if_default`` gives
        for such fields, in the listed order (one pass, no hooks: only for values that need none).
    """
    lines = ["def unstructure(value):"]
    head: list[str] = []
    rest: list[str] = []
    namespace: dict[str, Any] = {}
    for index, (name, wire, default) in enumerate(fields):
        if default is attrs.NOTHING:
            if rest:
                rest.append(f"    out[{wire!r}] = value.{name}")
            else:
                head.append(f"{wire!r}: value.{name}")
            continue
        rest.append(f"    v = value.{name}")
        if default is None:
            rest.append(f"    if v is not None: out[{wire!r}] = v")
        else:
            namespace[f"default_{index}"] = default
            rest.append(f"    if v is not default_{index} and v != default_{index}: out[{wire!r}] = v")
    lines.append("    out = {" + ", ".join(head) + "}")
    lines += rest
    lines.append("    return out")
    exec(compile("\n".join(lines), f"<unstructure {cls.__qualname__}>", "exec"), namespace)
    function: Callable[[Any], dict[str, Any]] = namespace["unstructure"]
    function.__qualname__ = f"unstructure_{cls.__name__}"
    return function


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


def _structure_datetime(value: object, _: Any) -> datetime:
    return _must(parse_datetime(value))


_structure_datetime.reads_timestamps = True  # type: ignore[attr-defined]  # see fast_structure_fn


def _structure_int(value: object, _: Any) -> int:
    return parse_int(value)


def _structure_bool(value: object, _: Any) -> bool:
    if value.__class__ is bool:
        return value
    if value.__class__ is int and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "1"):
            return True
        if text in ("false", "0"):
            return False
    # ``bool("false")`` is True: a boolean field never guesses.
    raise ValueError(f"{value!r} is not a boolean (expected true, false, 1 or 0)")


def _optional_int(value: object, _: Any) -> int | None:
    if value is None:
        return None
    if value.__class__ is int:
        return value
    return parse_int(value)


def _optional_str(value: object, _: Any) -> str | None:
    if value is None:
        return None
    if value.__class__ is str:
        return value
    return str(value)  # cattrs' own hook for ``str``


def _optional_bool(value: object, _: Any) -> bool | None:
    return None if value is None else _structure_bool(value, bool)


# ``X | None`` for the commonest X, when X's hook is ours (or cattrs' own, for ``str``): the same
# result as the general optional hook, in one call.
_FAST_OPTIONAL: dict[Any, Any] = {int: _optional_int, str: _optional_str, bool: _optional_bool}
_PASSTHROUGH: dict[Any, str] = {
    _optional_int: "(v is None or v.__class__ is int)",
    _optional_str: "(v is None or v.__class__ is str)",
    _optional_bool: "(v is None or v.__class__ is bool)",
    _structure_int: "v.__class__ is int",
    _structure_bool: "v.__class__ is bool",
}
_FAST_INNER: dict[Any, Any] = {
    int: _structure_int,
    str: cattrs.BaseConverter._structure_call,
    bool: _structure_bool,
}


def _unwrap_optional(tp: Any) -> tuple[bool, Any]:
    """``(True, X)`` for ``X | None``; ``(False, tp)`` for anything else."""
    if _is_simple_optional(tp):
        return True, next(a for a in typing.get_args(tp) if a is not NoneType)
    return False, tp


def _is_simple_optional(tp: Any) -> bool:
    """``X | None`` (or ``Optional[X]``) with exactly one other type."""
    if typing.get_origin(tp) not in (typing.Union, types.UnionType):
        return False
    args = typing.get_args(tp)
    return len(args) == 2 and NoneType in args


def _must(value: datetime | None) -> datetime:
    if value is None:
        raise ValueError("a timestamp is required here, got an empty value")
    return value
