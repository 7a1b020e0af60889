"""``direct_init``: the cheaper ``__init__`` builds the same frozen instances attrs' own would."""

from __future__ import annotations

import attrs
import pytest

from crm_core._attrs_init import direct_init
from crm_core._request import Request, Response
from crm_core._retry import RequestKind


@attrs.frozen(kw_only=True, slots=False)
class Plain:
    name: str
    count: int = 0
    tags: tuple[str, ...] = ()


@direct_init
@attrs.frozen(kw_only=True, slots=False)
class Fast:
    name: str
    count: int = 0
    tags: tuple[str, ...] = ()


def test_instances_match_attrs_own_init() -> None:
    slow, fast = Plain(name="a", tags=("x",)), Fast(name="a", tags=("x",))
    assert attrs.asdict(slow) == attrs.asdict(fast) == {"name": "a", "count": 0, "tags": ("x",)}
    assert fast == Fast(name="a", tags=("x",)) and hash(fast) == hash(Fast(name="a", tags=("x",)))
    assert repr(fast) == "Fast(name='a', count=0, tags=('x',))"
    assert attrs.evolve(fast, count=2).count == 2
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        fast.name = "b"  # type: ignore[misc]
    with pytest.raises(TypeError, match="name"):
        Fast()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Fast("a")  # type: ignore[call-arg]  # keyword-only, as before


def test_the_request_and_response_keep_their_defaults() -> None:
    request = Request(method="GET", path="/v2.0/tasks/5", operation="tasks.get", kind=RequestKind.READ)
    assert (request.params, request.json, request.form) == (None, None, None)
    response = Response(status=200, headers={}, data=None, attempts=1, request=request)
    assert response.url == "" and response == Response(status=200, headers={}, data=None, attempts=1, request=request)


def test_classes_whose_init_does_more_than_store_are_refused() -> None:
    @attrs.frozen(kw_only=True, slots=False)
    class Checked:
        count: int = attrs.field(validator=attrs.validators.instance_of(int))

    @attrs.frozen(kw_only=True)
    class Slotted:
        count: int

    @attrs.frozen(kw_only=True, slots=False)
    class Listed:
        items: list[int] = attrs.Factory(list)

    for cls in (Checked, Slotted, Listed):
        with pytest.raises(TypeError, match="direct_init"):
            direct_init(cls)
