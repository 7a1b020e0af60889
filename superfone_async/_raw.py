"""Typed raw-response views of the Superfone resources: ``sf.with_raw_response.tasks.create(...)``.

Each class mirrors one resource: every coroutine method is there with the same arguments and
returns :class:`~crm_core.RawResponse` of what the resource method returns. Async iterators
(``tasks.iter``, catalog ``iter``) are not wrapped: use the iterator's own cursor, or ``list``
(one page) with the raw view.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from crm_core._options import raw_response_wrapper

from ._leads import Catalog, Leads
from ._tasks import Tasks

__all__ = ["CatalogWithRawResponse", "LeadsWithRawResponse", "TasksWithRawResponse"]

T = TypeVar("T")


class TasksWithRawResponse:
    """:class:`~superfone_async.Tasks` whose coroutine methods return ``RawResponse[...]``."""

    def __init__(self, tasks: Tasks) -> None:
        self.create = raw_response_wrapper(tasks.create)
        self.create_checked = raw_response_wrapper(tasks.create_checked)
        self.complete = raw_response_wrapper(tasks.complete)
        self.list = raw_response_wrapper(tasks.list)
        self.create_many = raw_response_wrapper(tasks.create_many)


class LeadsWithRawResponse:
    """:class:`~superfone_async.Leads` whose coroutine methods return ``RawResponse[...]``."""

    def __init__(self, leads: Leads) -> None:
        self.upsert = raw_response_wrapper(leads.upsert)
        self.get = raw_response_wrapper(leads.get)


class CatalogWithRawResponse(Generic[T]):
    """A :class:`~superfone_async.Catalog` whose ``list`` returns ``RawResponse[Page[T]]``."""

    def __init__(self, catalog: Catalog[T]) -> None:
        self.list = raw_response_wrapper(catalog.list)
