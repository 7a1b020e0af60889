"""The fast structure hooks (crm_core._converter.fast_structure_fn) give exactly cattrs' result.

Every response model is structured by a generated hook that passes values already of their
field's type straight through and hands anything else to the cattrs-generated hook. These tests
compare the two on good bodies, odd-but-valid bodies, unknown keys and bad bodies, for both
SDKs' converters, strict and not.
"""

from __future__ import annotations

import copy
import inspect
import pickle
import random
import sys
import typing
from datetime import UTC, datetime
from typing import Any

import attrs
import cattrs
import pytest

from crm_core._converter import PLAIN_TYPES, WireModel, _extra_field, _wire_name, make_converter, parse_datetime
from lofty_async import LoftyClient
from lofty_async._lead_models import Lead
from lofty_async._models import Task as LoftyTask
from superfone_async import SuperfoneClient
from superfone_async._models import Task as SuperfoneTask

LOFTY_TASK: dict[str, Any] = {
    "id": 5,
    "leadId": 7,
    "content": "Call back",
    "type": "Call",
    "startAt": None,
    "endAt": "2026-03-01T23:00:00GMT",
    "allDay": False,
    "createTime": "2026-03-01T22:00:00GMT",
    "reminderType": 1,
}
LEAD: dict[str, Any] = {
    "leadId": 700000000000000,
    "firstName": "Ava",
    "emails": ["ava@example.com"],
    "tags": [],
    "leadTypes": [2],
    "createTime": "2026-11-21T12:31:15GMT",
    "cannotText": False,
    "score": 50,
}
SUPERFONE_TASK: dict[str, Any] = {
    "id": 5,
    "customer_id": 7,
    "type": "REMINDER",
    "due_date": "2027-03-01T04:30:00.000Z",
    "task_status": "PENDING",
    "notify": True,
    "created_at": "2027-03-01T04:30:00.000Z",
}


def _lofty(strict: bool) -> cattrs.Converter:
    return LoftyClient(api_key="k", base_url="http://127.0.0.1:9", strict_responses=strict)._core.converter


def _superfone(strict: bool) -> cattrs.Converter:
    client = SuperfoneClient(api_key="k", base_url="http://127.0.0.1:9", rate_limit=None, strict_responses=strict)
    return client._core.converter


def _both(converter: cattrs.Converter, cls: type[Any], data: Any) -> tuple[Any, Any]:
    """(fast result or error, cattrs' result or error)."""
    hook = converter.get_structure_hook(cls)
    assert hasattr(hook, "fallback"), "the model's hook is not the fast one"
    out = []
    for fn in (hook, hook.fallback):
        try:
            out.append(fn(data, cls))
        except Exception as exc:
            out.append((type(exc), [str(e) for e in getattr(exc, "exceptions", [exc])]))
    return out[0], out[1]


CASES = [
    (_lofty, LoftyTask, LOFTY_TASK),
    (_lofty, Lead, LEAD),
    (_superfone, SuperfoneTask, SUPERFONE_TASK),
]


@pytest.mark.parametrize("strict", [False, True])
@pytest.mark.parametrize(("make", "cls", "body"), CASES)
def test_fast_hook_equals_cattrs_on_documented_bodies(
    make: Any, cls: type[Any], body: dict[str, Any], strict: bool
) -> None:
    fast, slow = _both(make(strict), cls, body)
    assert fast == slow
    assert isinstance(fast, cls)


@pytest.mark.parametrize(("make", "cls", "body"), CASES)
def test_unknown_keys_kept_in_extra_and_refused_when_strict(make: Any, cls: type[Any], body: dict[str, Any]) -> None:
    data = {**body, "addedByVendor": {"x": 1}}
    fast, slow = _both(make(False), cls, data)
    assert fast == slow
    assert fast.extra == {"addedByVendor": {"x": 1}}
    with pytest.raises(cattrs.ClassValidationError) as info:
        make(True).structure(data, cls)
    assert "addedByVendor" in str(cattrs.transform_error(info.value))


def test_values_needing_conversion_go_through_the_hooks() -> None:
    data = {**LOFTY_TASK, "id": "563172647619608", "leadId": 7.0, "content": 12, "allDay": 1}
    fast, slow = _both(_lofty(False), LoftyTask, data)
    assert fast == slow
    assert (fast.id, fast.lead_id, fast.content, fast.all_day) == (563172647619608, 7, "12", True)


def test_lists_are_copied_not_shared() -> None:
    data = {**LEAD, "emails": ["a@example.com"]}
    lead = _lofty(False).structure(data, Lead)
    assert lead.emails == ["a@example.com"]
    assert lead.emails is not data["emails"]
    fast, slow = _both(_lofty(False), Lead, {**LEAD, "emails": ("t@example.com",), "leadTypes": ["2"]})
    assert fast == slow


@pytest.mark.parametrize(
    ("make", "cls", "bad"),
    [
        (_lofty, LoftyTask, {**LOFTY_TASK, "id": 12.9}),
        (_lofty, Lead, {**LEAD, "emails": "not-a-list-of-strings", "score": "abc"}),
        (_superfone, SuperfoneTask, {**SUPERFONE_TASK, "id": "5"}),
        (_superfone, SuperfoneTask, {**SUPERFONE_TASK, "due_date": None}),
    ],
)
def test_bad_bodies_give_cattrs_detailed_errors(make: Any, cls: type[Any], bad: Any) -> None:
    fast, slow = _both(make(False), cls, bad)
    assert fast == slow
    assert isinstance(fast, tuple), "a bad body must fail"


def test_own_model_with_alias_and_init_false_fields() -> None:
    @attrs.frozen(kw_only=True)
    class Thing(WireModel):
        _secret: str | None = None
        count: int = 0
        derived: str = attrs.field(init=False, default="d")
        when: datetime | None = None

    converter = make_converter()
    fast, slow = _both(converter, Thing, {"Secret": "s", "count": 3, "when": "2026-01-01T00:00:00Z", "x": 1})
    assert fast == slow
    assert (fast._secret, fast.count, fast.when, fast.extra) == ("s", 3, datetime(2026, 1, 1, tzinfo=UTC), {"x": 1})


@pytest.mark.parametrize(
    "text",
    [
        "2026-03-01T23:00:00GMT",
        "2026-03-01T23:00:00 GMT",
        "2026-03-01T23:00:00UTC",
        "2026-03-01T23:00:00Z",
        "2026-03-01T23:00:00.250z",
        "2026-03-01 23:00:00",
        " 2026-03-01T23:00:00+05:30 ",
        "2026-03-01T23:00:00+05:30GMT",
        "2026-03-01T15:00:00-08:00",
    ],
)
def test_timestamp_fast_paths_read_as_the_general_rules_say(text: str) -> None:
    parsed = parse_datetime(text)
    assert parsed is not None and parsed.tzinfo is not None
    offset = "+05:30" in text
    expected_utc = datetime(2026, 3, 1, 17, 30, tzinfo=UTC) if offset else datetime(2026, 3, 1, 23, 0, tzinfo=UTC)
    assert parsed.replace(microsecond=0) == expected_utc


# -- dict-based models: built by the shape of the body -----------------------------------------


@attrs.frozen(kw_only=True, slots=False)
class _Owned:
    """A dict-based model with a required field, a factory default and no ``extra``."""

    id: int
    names: list[str] = attrs.field(factory=list)
    seen: datetime | None = None
    score: int | None = None


def test_shapes_each_planned_once_give_cattrs_result_every_time() -> None:
    converter = _lofty(False)
    shapes = [
        LOFTY_TASK,
        {k: v for k, v in LOFTY_TASK.items() if k != "endAt"},  # a key missing
        dict(reversed(list(LOFTY_TASK.items()))),  # the same keys in another order
        {**LOFTY_TASK, "content": None, "startAt": "2026-03-01T21:00:00GMT"},  # other value classes
        {**LOFTY_TASK, "id": "5"},  # a value needing its hook, after the same keys with an int
    ]
    for _ in range(3):  # first call plans the shape; later calls reuse the plan
        for body in shapes:
            fast, slow = _both(converter, LoftyTask, body)
            assert fast == slow
            assert _values(fast) == _values(slow)
            assert repr(fast) == repr(slow)


def _values(model: Any) -> dict[str, Any]:
    """Every field's value, as read from the instance (shape-built instances read absent fields
    with immutable defaults from the class)."""
    return {a.name: getattr(model, a.name) for a in attrs.fields(type(model))}


def test_shape_built_models_behave_as_init_built_ones() -> None:
    """A body carrying few of a model's fields: the instance does not store the absent ones (their
    defaults are class attributes), yet reads, compares, copies, pickles and evolves as a
    model built by ``__init__``, for every converter (each client has its own)."""
    body = {"leadId": 7, "firstName": "Ava", "emails": ["a@example.com"], "createTime": "2026-03-01T23:00:00GMT"}
    converters = [_lofty(False), _lofty(False)]
    # A shape's first body is read field by field, the next ones by the shape's generated builder.
    built = [converter.structure(body, Lead) for converter in converters for _ in range(2)]
    direct = Lead(
        lead_id=7, first_name="Ava", emails=["a@example.com"], create_time=datetime(2026, 3, 1, 23, 0, tzinfo=UTC)
    )
    for lead in built:
        assert lead == direct and repr(lead) == repr(direct)
        assert lead.last_name is None and lead.tags is None and lead.extra == {}
        assert _values(lead) == _values(direct)
        assert pickle.loads(pickle.dumps(lead)) == direct
        assert copy.deepcopy(lead) == direct and copy.copy(lead) == direct
        changed = attrs.evolve(lead, last_name="Garcia")
        assert changed.last_name == "Garcia" and lead.last_name is None and changed.first_name == "Ava"
        assert cattrs.Converter().unstructure(lead) == cattrs.Converter().unstructure(direct)
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            lead.last_name = "x"  # type: ignore[misc]
    assert "last_name" not in vars(built[1]) and "last_name" not in vars(built[3])  # read from the class
    assert len({id(lead.emails) for lead in built}) == 4  # lists are copied, never shared between models


def test_shape_path_keeps_required_fields_factories_and_frozenness() -> None:
    converter = make_converter()
    fast, slow = _both(converter, _Owned, {"names": ["a"]})  # ``id`` missing: cattrs' error
    assert fast == slow and isinstance(fast, tuple)
    first = converter.structure({"id": 1, "unknown": 2}, _Owned)  # unknown keys dropped (no extra)
    second = converter.structure({"id": 2}, _Owned)
    assert (first, second) == (_Owned(id=1), _Owned(id=2))
    assert first.names is not second.names  # a factory default is made per instance
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        first.id = 3  # type: ignore[misc]
    with pytest.raises(cattrs.ClassValidationError):
        make_converter(strict=True).structure({"id": 1, "unknown": 2}, _Owned)


def test_many_shapes_and_repeated_timestamps_stay_correct() -> None:
    converter = make_converter()
    for n in range(200):  # more shapes than a model remembers
        body: dict[str, Any] = {"id": n, f"k{n}": n, "seen": "2026-03-01T23:00:00GMT" if n % 2 else None}
        if n % 3 == 0:
            body["score"] = str(n)  # a value needing its hook
        fast, slow = _both(converter, _Owned, body)
        assert fast == slow
        assert fast.seen == (datetime(2026, 3, 1, 23, 0, tzinfo=UTC) if n % 2 else None)
    fast, slow = _both(converter, _Owned, {"id": 1, "seen": "2026-03-01T23:00:00"})  # naive: hook decides
    assert fast == slow


@pytest.mark.parametrize("body", [[1, 2], "id", "str", 5, True])
@pytest.mark.parametrize(("make", "cls"), [(_lofty, LoftyTask), (_lofty, Lead), (_superfone, SuperfoneTask)])
def test_a_non_object_where_a_model_belongs_is_an_error_not_an_empty_model(
    make: Any, cls: type[Any], body: Any
) -> None:
    # Tester finding: ``{"task": [1, 2]}`` read as a Task of all None (cattrs' hook tests
    # ``"key" in o`` on a list or string).
    for strict in (False, True):
        with pytest.raises(TypeError, match="expected a JSON object"):
            make(strict).structure(body, cls)


@pytest.mark.parametrize(
    ("wire", "read"), [(True, True), (0, False), (1, True), ("false", False), (" TRUE ", True), ("0", False)]
)
def test_booleans_read_only_what_means_a_boolean(wire: Any, read: bool) -> None:
    fast, slow = _both(_lofty(False), LoftyTask, {**LOFTY_TASK, "allDay": wire})
    assert fast == slow and fast.all_day is read


@pytest.mark.parametrize("wire", ["no", "yes", 2, 1.0, [], "maybe"])
def test_a_boolean_field_never_guesses(wire: Any) -> None:
    # Tester finding: ``"false"`` read as True (``bool("false")``).
    fast, slow = _both(_lofty(False), LoftyTask, {**LOFTY_TASK, "allDay": wire})
    assert fast == slow and isinstance(fast, tuple), "a non-boolean must fail"


def _plain_models() -> list[type[Any]]:
    """Every attrs model of both SDKs whose fields all go out as they are (plain unstructure)."""
    found: dict[str, type[Any]] = {}
    for module_name in sorted(sys.modules):
        if not module_name.startswith(("lofty_async.", "superfone_async.")):
            continue
        for _, cls in inspect.getmembers(sys.modules[module_name], attrs.has):
            try:
                hints = typing.get_type_hints(cls)
            except NameError:  # a resource or helper, not a wire model
                continue
            if _extra_field(cls) is None and all(hints.get(a.name) in PLAIN_TYPES for a in attrs.fields(cls)):
                found[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return [found[name] for name in sorted(found)]


@pytest.mark.parametrize("naming", ["camel", "snake"])
def test_plain_models_unstructure_as_cattrs_would_in_field_order(naming: Any) -> None:
    models = _plain_models()
    assert any(cls.__name__ == "TaskCreate" for cls in models)
    samples: dict[Any, Any] = {str: "x", int: 7, float: 1.5, bool: True}
    converter = make_converter(naming=naming)
    for cls in models:
        hints = typing.get_type_hints(cls)
        for leave_out in (False, True):  # every optional field set, then every one None
            values: dict[str, Any] = {}
            for a in attrs.fields(cls):
                kind = hints[a.name]
                base = next(t for t in samples if kind in (t, t | None))
                values[a.name] = None if (leave_out and a.default is None) else samples[base]
            instance = cls(**{a.alias: values[a.name] for a in attrs.fields(cls) if a.init})
            expected = {
                _wire_name(a, naming): getattr(instance, a.name)
                for a in attrs.fields(cls)
                if not (a.default is None and getattr(instance, a.name) is None)
            }
            out = converter.unstructure(instance)
            assert out == expected and list(out) == list(expected), cls


def test_a_callers_own_dict_class_gets_no_class_attributes() -> None:
    """Only the SDK's models (and WireModels) read absent constant defaults from the class; a
    caller's own attrs class structured by the converter is left as it was."""
    converter = make_converter()
    for _ in range(3):  # the third body goes through the shape's generated builder
        model = converter.structure({"id": 1}, _Owned)
        assert model == _Owned(id=1) and vars(model)["score"] is None
    assert "score" not in _Owned.__dict__
    body = {
        "id": 5,
        "customer_id": 7,
        "type": "REMINDER",
        "due_date": "2027-03-01T04:30:00.000Z",
        "task_status": "PENDING",
    }
    superfone = _superfone(False)
    tasks = [superfone.structure(body, SuperfoneTask) for _ in range(3)]
    assert tasks[0] == tasks[2] and "title" not in vars(tasks[2])  # an SDK model: read from the class


def test_ever_new_shapes_generate_no_code_and_read_right(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tester finding: bodies whose key sets vary (a server leaving out null fields) generated a
    builder per shape, 10x slower than before. A shape met once is read field by field; a builder
    is generated the second time, for at most ``_SHAPES_PER_MODEL`` shapes."""
    import crm_core._converter as converter_module

    generated: list[tuple[str, ...]] = []
    real = converter_module._shape_builder

    def counting(cls: Any, keys: tuple[str, ...], *args: Any, **kwargs: Any) -> Any:
        generated.append(keys)
        return real(cls, keys, *args, **kwargs)

    monkeypatch.setattr(converter_module, "_shape_builder", counting)
    converter = _lofty(False)
    optional = [k for k in LOFTY_TASK if k != "id"][:12]
    rng = random.Random(7)
    bodies = [{k: v for k, v in LOFTY_TASK.items() if k not in optional or rng.random() < 0.5} for _ in range(3000)]
    bodies += [{**LOFTY_TASK, f"new{n}": n} for n in range(100)]  # 100 shapes met once each (kept in extra)
    for body in bodies:
        fast, slow = _both(converter, LoftyTask, body)
        assert fast == slow
    shapes = [tuple(body) for body in bodies]
    assert len(generated) == len(set(generated)) <= converter_module._SHAPES_PER_MODEL
    assert all(shapes.count(keys) >= 2 for keys in generated)  # only shapes that came again
    once = next(keys for keys in shapes if shapes.count(keys) == 1)
    assert once not in generated


def test_a_page_of_mixed_shapes_reads_as_cattrs_list_hook_does() -> None:
    # list[Model] is built by the last shape's builder in one pass; other shapes, non-objects
    # and bad items go the slow way, and errors still name the item's index.
    converter = _lofty(False)
    page_type = list[Lead]
    assert converter.get_structure_hook(page_type).__name__ == "structure_model_list"
    one_by_one: Any = converter.get_structure_hook(Lead)
    other = {**LEAD, "lastName": "Ng"}
    page = [LEAD, LEAD, other, LEAD, dict(reversed(list(LEAD.items()))), other, LEAD]
    for _ in range(3):
        got = converter.structure(page, page_type)
        expected = [one_by_one.fallback(body, Lead) for body in page]
        assert got == expected and [_values(g) for g in got] == [_values(e) for e in expected]
        assert [lead.last_name for lead in got] == [None, None, "Ng", None, None, "Ng", None]
        assert all(g.emails is not body["emails"] for g, body in zip(got, page, strict=True))
    for bad_page, index in (([LEAD, LEAD, {**LEAD, "score": "abc"}], 2), ([LEAD, "a lead", LEAD], 1)):
        with pytest.raises(cattrs.IterableValidationError) as info:
            converter.structure(bad_page, page_type)
        assert f"$[{index}]" in str(cattrs.transform_error(info.value))
    assert converter.structure([], page_type) == []
    assert converter.structure((LEAD,), page_type) == [converter.structure(LEAD, Lead)]  # a tuple: cattrs' hook
