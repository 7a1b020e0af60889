"""Every public API method says what it calls (HTTP method and path) and what it raises."""

from __future__ import annotations

import inspect
import re

import pytest

import lofty_async
import superfone_async

RESOURCES = [
    lofty_async.Tasks,
    lofty_async.Calendar,
    lofty_async.Leads,
    lofty_async.Webhooks,
    lofty_async.TasksV1,
    lofty_async.AppointmentsV1,
    superfone_async.Tasks,
    superfone_async.Leads,
    superfone_async.Catalog,
]
SOURCE = re.compile(r"Source: (GET|POST|PUT|DELETE) (/|\{)")


@pytest.mark.parametrize("resource", RESOURCES, ids=lambda r: f"{r.__module__}.{r.__name__}")
def test_public_methods_name_their_source(resource: type) -> None:
    for name, method in inspect.getmembers(resource, inspect.isfunction):
        if name.startswith("_"):
            continue
        doc = inspect.getdoc(method) or ""
        assert SOURCE.search(doc), f"{resource.__name__}.{name} does not name its HTTP method and path"


@pytest.mark.parametrize("package", [lofty_async, superfone_async], ids=lambda p: p.__name__)
def test_public_names_are_documented(package: object) -> None:
    for name in package.__all__:  # type: ignore[attr-defined]
        value = getattr(package, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert inspect.getdoc(value), f"{package!r}.{name} has no docstring"
