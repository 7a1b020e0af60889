"""JSON bodies on the wire: orjson when it is installed, else the standard library.

Request bodies (:func:`dumps_body`) come out as the standard library's compact form would, as
far as a JSON parser can tell (same values, keys in the same order; orjson may write a float's
exponent differently, ``1.5e-7`` for ``1.5e-07``), about 5x cheaper. A non-finite float has no
JSON form: it is refused before anything is sent, naming where it is (the standard library would
have sent ``NaN``, which no JSON parser reads; orjson would have sent ``null``); so is text with a
lone surrogate, which UTF-8 cannot carry.

Response bodies (:func:`loads_body`) read exactly as the standard library reads them: orjson
parses 2-3x faster than :func:`json.loads`, but it refuses what RFC 8259 does not allow and the
standard library accepts (``NaN``, lone surrogates, UTF-16/32 bodies with a BOM, a UTF-8 BOM, ignored
as ``json.loads(bytes)`` ignores it) and reads an
integer beyond 64 bits as the nearest float. A body orjson refuses, and a body holding a run of
19 digits or more (which may be such an integer; also a long digit string or fraction, read the
same either way), is read by the standard library, which decides (a value or
:class:`json.JSONDecodeError`). Everything else reads alike: same values, same types, the last
of duplicate keys (tested against the standard library).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from ._converter import camel_to_snake
from ._errors import ValidationError

try:
    import orjson
except ImportError:  # pragma: no cover - a dependency on CPython; other interpreters go without
    orjson = None  # type: ignore[assignment]

__all__ = ["dumps_body", "loads_body"]

_DIGITS = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x20 for byte in range(256))  # digits -> "0", else " "
_LONG_DIGIT_RUN = b"0" * 19  # the shortest integer literal orjson may not read exactly (-2**63 - 1)
# Every other byte of a run of 19 digits: 9 or 10 digits in a row. A body whose every other byte
# never shows 9 digits in a row has no run of 19 (a run must be 17 long to show 9: ids of 15
# digits, epoch ms of 13 and ISO times never do); one that does is checked byte by byte. Half of
# the bytes to map. (Every third byte would not do: an ISO time's separators are 3 apart.)
_SAMPLE_STEP = 2
_SAMPLED_RUN = b"0" * 9

# What the standard library cannot write (datetimes, dataclasses) orjson must not write either.
_DUMPS_OPTIONS = 0 if orjson is None else orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def dumps_body(value: Any) -> bytes:
    """``value`` as a compact UTF-8 JSON request body.

    Raises:
        ValidationError: ``value`` holds a NaN or an infinity, or text with a lone surrogate
            (which UTF-8 cannot carry); ``field`` says where (``"property.bathrooms"``,
            ``"body"`` for the whole value). Nothing is sent.
        TypeError: ``value`` holds something JSON cannot hold (a ``datetime``, a set...).
    """
    if orjson is not None:
        try:
            body: bytes | None = orjson.dumps(value, option=_DUMPS_OPTIONS)
        except TypeError:  # integers beyond 64 bits, non-str keys, surrogates: the standard library decides
            body = None
        # orjson writes a NaN or an infinity as null: a body with a null is written again below,
        # where a non-finite float is refused.
        if body is not None and b"null" not in body:
            return body
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
    except UnicodeEncodeError:
        path, text = _first(value, _not_utf8, ())
        raise ValidationError(
            _field(path), text, "text without lone surrogates (U+D800 to U+DFFF), which UTF-8 cannot carry"
        ) from None
    except ValueError as exc:
        if "Out of range float" not in str(exc):
            raise
        path, number = _first(value, _non_finite, ())
        raise ValidationError(_field(path), number, "a finite number (JSON has no NaN or Infinity)") from None


def _non_finite(value: Any) -> bool:
    return isinstance(value, float) and not math.isfinite(value)


def _not_utf8(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        value.encode()
    except UnicodeEncodeError:
        return True
    return False


def _first(value: Any, test: Callable[[Any], bool], path: tuple[str | int, ...]) -> tuple[tuple[str | int, ...], Any]:
    """Where the first value (or key) in ``value`` passing ``test`` is (keys and indexes), and it."""
    if test(value):
        return path, value
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list | tuple) else ()
    for key, item in items:
        if test(key):
            return (*path, key), key
        found = _first(item, test, (*path, key))
        if found[1] is not None:
            return found
    return path, None


def _field(path: tuple[str | int, ...]) -> str:
    """A place in a body in the SDK's terms: ``lead_property_list[1].lot_size``; ``body`` for the whole."""
    parts = (f"[{part}]" if isinstance(part, int) else f".{camel_to_snake(str(part))}" for part in path)
    return "".join(parts).lstrip(".") or "body"


def loads_body(raw: bytes) -> Any:
    """The decoded JSON of a response body (``bytes``, UTF-8 or UTF-16/32; a leading UTF-8 BOM
    is ignored, as ``json.loads(bytes)`` ignores it).

    Raises:
        json.JSONDecodeError: not JSON, as the standard library reads it.
        UnicodeDecodeError: not text in any of JSON's encodings.
    """
    # orjson reads an integer beyond 64 bits as a float: a body with a run of 19 digits or more
    # (one may be such an integer) is read by the standard library, exactly. C-level passes over
    # every other byte, and over all of them only when those show a long run.
    if orjson is not None and (
        _SAMPLED_RUN not in raw[::_SAMPLE_STEP].translate(_DIGITS) or _LONG_DIGIT_RUN not in raw.translate(_DIGITS)
    ):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:  # stricter than json: the standard library decides
            pass
    try:
        text = raw.decode()  # UTF-8, as RFC 8259 requires on the wire
    except UnicodeDecodeError:
        return json.loads(raw)  # UTF-16/32, which json detects by itself
    return json.loads(text.removeprefix("\ufeff"))  # a UTF-8 BOM is ignored, as json.loads(bytes) does
