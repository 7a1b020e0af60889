"""A cheaper ``__init__`` for frozen, dict-based attrs classes built on every request.

attrs gives a frozen class an ``__init__`` that fetches ``object.__setattr__`` (slotted) or the
instance dict plus a cached setter (dict-based) on every call; for the few pure-data classes
made once or more per request (:class:`~crm_core._request.Request`, ``Response``, a bulk row's
result) :func:`direct_init` replaces it with one that stores each argument straight into the
instance dict: the same instance, about a third fewer instructions.
"""

from __future__ import annotations

from typing import Any, TypeVar

import attrs

C = TypeVar("C", bound=type)


def init_only_stores(cls: type[Any]) -> bool:
    """Whether ``cls.__init__`` would only store its arguments (no validators, converters,
    ``__attrs_pre_init__``/``__attrs_post_init__``, ``init=False`` fields or self-taking
    factories), so the class may be built without calling it."""
    if getattr(cls, "__attrs_pre_init__", None) is not None or getattr(cls, "__attrs_post_init__", None) is not None:
        return False
    for a in attrs.fields(cls):
        factory_takes_self = isinstance(a.default, attrs.Factory) and a.default.takes_self  # type: ignore[arg-type]
        if a.validator is not None or a.converter is not None or not a.init or factory_takes_self:
            return False
    return True


def direct_init(cls: C) -> C:
    """Class decorator (apply it outside ``@attrs.frozen(kw_only=True, slots=False)``): give
    ``cls`` an ``__init__`` that stores its keyword arguments into the instance dict.

    Raises:
        TypeError: ``cls`` is slotted, takes positional arguments, or has anything its
            ``__init__`` must do besides storing (validators, converters, factories, hooks).
    """
    fields = attrs.fields(cls)
    if any(k.__dict__.get("__slots__") for k in cls.__mro__) or not init_only_stores(cls):
        raise TypeError(f"{cls.__name__}: direct_init needs a dict-based class whose __init__ only stores")
    if not all(a.kw_only for a in fields) or any(isinstance(a.default, attrs.Factory) for a in fields):  # type: ignore[arg-type]
        raise TypeError(f"{cls.__name__}: direct_init needs keyword-only fields with plain defaults")
    namespace: dict[str, Any] = {}
    params = []
    for a in fields:
        if a.default is attrs.NOTHING:
            params.append(a.name)
        else:
            namespace[f"_default_{a.name}"] = a.default
            params.append(f"{a.name}=_default_{a.name}")
    lines = [f"def __init__(self, *, {', '.join(params)}):", "    d = self.__dict__"]
    lines += [f"    d[{a.name!r}] = {a.name}" for a in fields]
    exec("\n".join(lines), namespace)  # generated from the class's own field names
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__doc__ = cls.__dict__["__init__"].__doc__
    cls.__init__ = init  # type: ignore[misc]
    return cls
