"""A file row becomes create arguments the same way on the fast path (every value text, as a CSV
row gives) and field by field (JSON values, or a short CSV row's ``None``)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_core import ValidationError
from crm_core._importjob import ImportTarget
from lofty_async._cli import TARGET as LOFTY
from superfone_async._cli import TARGET as SUPERFONE

_TEXT = st.one_of(
    st.sampled_from(["", " ", "563", " 563 ", "+5", "5_6", "٥٦٣", "0", "Call", " a b ", "\t7\n"]),
    st.text(max_size=6),
)
_VALUES = st.one_of(_TEXT, st.none(), st.integers(), st.booleans())


def _outcome(convert: Any, raw: dict[str, Any]) -> Any:
    try:
        return ("row", convert(raw), list(convert(raw)))  # the values and the key order
    except ValidationError as error:
        return ("error", error.field, error.value)


@given(
    st.sampled_from([LOFTY, SUPERFONE]).flatmap(lambda t: st.tuples(st.just(t), st.permutations(t.columns))), st.data()
)
def test_the_fast_path_converts_as_the_field_by_field_path(target_columns: Any, data: st.DataObject) -> None:
    target, columns = target_columns
    names = columns[: data.draw(st.integers(min_value=0, max_value=len(columns)))]
    values = _TEXT if data.draw(st.booleans()) else _VALUES  # all text (a CSV row), or anything
    raw = {name: data.draw(values) for name in names}
    assert _outcome(target.convert, raw) == _outcome(target._convert_values, raw)


def test_the_first_bad_integer_column_in_row_order_is_named() -> None:
    target = ImportTarget(job="t", columns=("a", "b", "c"), required=(), integer_columns=frozenset({"a", "c"}))
    for order in (("a", "b", "c"), ("c", "b", "a")):
        raw = {name: f" x{name} " for name in order}
        for convert in (target.convert, target._convert_values):
            with pytest.raises(ValidationError) as refused:
                convert(raw)
            assert (refused.value.field, refused.value.value) == (order[0], f"x{order[0]}")
    assert target.convert({"c": " 7 ", "b": " ", "a": "08"}) == {"c": 7, "a": 8}
