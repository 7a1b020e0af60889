"""Response bodies read with orjson give what the standard library gives, or the same error."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_core import ValidationError
from crm_core._converter import parse_int
from crm_core._json import dumps_body, loads_body
from lofty_async import LoftyClient
from lofty_async._lead_models import LeadProperty
from lofty_async.testing import LoftyEmulator

_JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)  # beyond: see the test below
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(_JSON_VALUES, st.booleans())
def test_any_json_reads_as_the_standard_library_reads_it(value: Any, ascii_only: bool) -> None:
    raw = json.dumps(value, ensure_ascii=ascii_only).encode()
    got = loads_body(raw)
    expected = json.loads(raw)
    assert got == expected
    assert json.dumps(got) == json.dumps(expected)  # same types too (1 vs 1.0, True vs 1)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'{"a": NaN, "b": Infinity}', None),  # not RFC 8259: orjson refuses, json reads it
        (b'{"s": "\\ud800"}', {"s": "\ud800"}),  # a lone surrogate
        ('{"name": "Zoë"}'.encode("utf-16"), {"name": "Zoë"}),  # UTF-16 with a BOM: json detects it
        (b'{"a": 1, "a": 2}', {"a": 2}),  # duplicate keys: the last one
        (b'\xef\xbb\xbf{"name": "Zo\xc3\xab"}', {"name": "Zoë"}),  # a UTF-8 BOM: ignored, as json.loads(bytes) does
        (b'\xef\xbb\xbf{"id": 12345678901234567890123}', {"id": 12345678901234567890123}),  # a BOM and a big int
    ],
)
def test_bodies_orjson_refuses_are_read_by_the_standard_library(raw: bytes, expected: Any) -> None:
    got = loads_body(raw)
    if expected is None:
        assert got["a"] != got["a"] and got["b"] == float("inf")  # NaN is not equal to itself
    else:
        assert got == expected


@pytest.mark.parametrize(
    "raw",
    [
        b'{"id": 123456789012345678901234567890, "n": -9223372036854775809}',
        b'{"value": 18446744073709551616, "extra": [1, -18446744073709551617]}',
        b"[1.5, 99999999999999999999]",
    ],
)
def test_an_integer_beyond_64_bits_reads_exactly(raw: bytes) -> None:
    # orjson reads one as a float: such bodies go to the standard library (tester finding: a
    # str field got "1.2345678901234568e+29", extra a float written back as one).
    got = loads_body(raw)
    assert got == json.loads(raw) and json.dumps(got) == json.dumps(json.loads(raw))


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=2**64, max_value=10**30) | st.integers(min_value=-(10**30), max_value=-(2**63) - 1),
    st.text(alphabet="a0123456789 ", max_size=40),
    st.text(alphabet="a0123456789 ", max_size=40),
)
def test_a_big_integer_anywhere_in_the_body_reads_exactly(number: int, before: str, after: str) -> None:
    # The check samples every other byte first: the integer is found at any offset, next to
    # digits or not.
    raw = json.dumps({"a": before, "n": number, "z": after, "ids": [700000000000001, 1763769600000]}).encode()
    got = loads_body(raw)
    assert got["n"] == number and got["n"].__class__ is int


@pytest.mark.parametrize("pad", ["", "x", "xy"])
@pytest.mark.parametrize("digits", [15, 16, 17, 18, 19, 20, 25])
def test_digit_runs_of_each_length_at_each_offset(pad: str, digits: int) -> None:
    text = "9" * digits
    raw = f'{{"p{pad}": {text}, "s": "{text}", "f": {text}.5}}'.encode()
    got = loads_body(raw)
    assert got == json.loads(raw) and json.dumps(got) == json.dumps(json.loads(raw))


def test_long_digit_strings_and_fractions_read_alike_either_way() -> None:
    raw = b'{"phone": "12345678901234567890123", "x": 0.12345678901234567890123, "n": 18446744073709551615}'
    got = loads_body(raw)
    assert got == json.loads(raw) and got["n"] == 2**64 - 1


def test_int_fields_take_floats_only_while_they_are_exact() -> None:
    assert parse_int(5.0) == 5 and parse_int(float(2**53)) == 2**53
    for value in (float(2**53 + 2), 1e20, -1e19, 12.9):
        with pytest.raises(ValueError, match="not an integer"):
            parse_int(value)


@pytest.mark.parametrize("raw", [b"", b"   ", b"{", b"[1,]", b"\xef\xbb\xbf", b"\xef\xbb\xbf{", b"\xff\xfe\x00"])
def test_what_is_not_json_raises_as_the_standard_library_does(raw: bytes) -> None:
    def stdlib(raw: bytes) -> Any:
        try:
            return json.loads(raw.decode())
        except UnicodeDecodeError:
            return json.loads(raw)

    with pytest.raises((json.JSONDecodeError, UnicodeDecodeError)) as expected:
        stdlib(raw)
    with pytest.raises(type(expected.value)):
        loads_body(raw)


# -- request bodies ---------------------------------------------------------------------------

_FINITE_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)  # beyond 64 bits: the standard library writes them
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(_FINITE_VALUES)
def test_a_request_body_reads_back_as_the_standard_librarys_does(value: Any) -> None:
    body = dumps_body(value)
    stdlib = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    assert json.loads(body) == json.loads(stdlib)
    assert json.dumps(json.loads(body)) == json.dumps(json.loads(stdlib))  # same types, same key order
    body.decode("utf-8")  # UTF-8, no BOM


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_a_non_finite_number_is_refused_before_sending(bad: float) -> None:
    with pytest.raises(ValidationError) as caught:
        dumps_body({"property": {"bathrooms": bad, "note": None}})
    assert caught.value.field == "property.bathrooms" and repr(bad) in str(caught.value)
    assert "finite" in str(caught.value)


def test_what_json_cannot_hold_is_refused_as_the_standard_library_refuses_it() -> None:
    for value in ({"at": datetime(2026, 3, 1, tzinfo=UTC)}, {"tags": {"a"}}):
        with pytest.raises(TypeError):
            dumps_body(value)
    assert json.loads(dumps_body({1: "a", "null": None})) == {"1": "a", "null": None}  # as json.dumps


def test_a_non_finite_number_is_named_by_its_place_in_the_body() -> None:
    body = {"firstName": "F", "leadPropertyList": [{"lotSize": 1.5}, {"lotSize": float("inf")}]}
    with pytest.raises(ValidationError) as caught:
        dumps_body(body)
    assert caught.value.field == "lead_property_list[1].lot_size" and caught.value.value == float("inf")


def test_text_with_a_lone_surrogate_is_refused_naming_its_place() -> None:
    # Tester doubt: it raised a bare UnicodeEncodeError from deep inside the transport.
    with pytest.raises(ValidationError) as caught:
        dumps_body({"type": "Call", "content": "ok", "notes": ["fine", "bad \ud800 text"]})
    assert caught.value.field == "notes[1]" and caught.value.value == "bad \ud800 text"
    assert "surrogate" in str(caught.value)


async def test_a_lead_with_a_nan_is_refused_and_nothing_is_sent(lofty: LoftyClient, lofty_state: LoftyEmulator) -> None:
    before = len(lofty_state.core.requests)
    with pytest.raises(ValidationError, match=r"property\.bathrooms=nan .*finite"):
        await lofty.leads.create(first_name="Ava", property=LeadProperty(bathrooms=float("nan")))
    assert len(lofty_state.core.requests) == before
