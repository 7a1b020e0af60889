"""Typed raw-response views of the Lofty resources: ``lofty.with_raw_response.tasks.get(...)``.

Each class mirrors one resource: every coroutine method is there with the same arguments and
returns :class:`~crm_core.RawResponse` of what the resource method returns. Async iterators
(``leads.iter``, ``tasks.my_tasks``, ``calendar.iter``) are not wrapped: use the iterator's
own cursor, or ``leads.list`` (one page) with the raw view.
"""

from __future__ import annotations

from crm_core._options import raw_response_wrapper

from ._calendar import Calendar
from ._leads import Leads
from ._tasks import Tasks
from ._v1 import V1, AppointmentsV1, TasksV1
from ._webhooks import Webhooks

__all__ = [
    "AppointmentsV1WithRawResponse",
    "CalendarWithRawResponse",
    "LeadsWithRawResponse",
    "TasksV1WithRawResponse",
    "TasksWithRawResponse",
    "V1WithRawResponse",
    "WebhooksWithRawResponse",
]


class TasksWithRawResponse:
    """:class:`~lofty_async.Tasks` whose coroutine methods return ``RawResponse[...]``."""

    def __init__(self, tasks: Tasks) -> None:
        self.create = raw_response_wrapper(tasks.create)
        self.create_checked = raw_response_wrapper(tasks.create_checked)
        self.get = raw_response_wrapper(tasks.get)
        self.list = raw_response_wrapper(tasks.list)
        self.update = raw_response_wrapper(tasks.update)
        self.delete = raw_response_wrapper(tasks.delete)
        self.finish = raw_response_wrapper(tasks.finish)
        self.unfinish = raw_response_wrapper(tasks.unfinish)
        self.create_many = raw_response_wrapper(tasks.create_many)


class CalendarWithRawResponse:
    """:class:`~lofty_async.Calendar` whose coroutine methods return ``RawResponse[...]``."""

    def __init__(self, calendar: Calendar) -> None:
        self.create = raw_response_wrapper(calendar.create)
        self.list = raw_response_wrapper(calendar.list)
        self.update = raw_response_wrapper(calendar.update)
        self.delete = raw_response_wrapper(calendar.delete)
        self.finish = raw_response_wrapper(calendar.finish)
        self.unfinish = raw_response_wrapper(calendar.unfinish)
        self.available_meetings = raw_response_wrapper(calendar.available_meetings)


class LeadsWithRawResponse:
    """:class:`~lofty_async.Leads` whose coroutine methods return ``RawResponse[...]``."""

    def __init__(self, leads: Leads) -> None:
        self.create = raw_response_wrapper(leads.create)
        self.get = raw_response_wrapper(leads.get)
        self.list = raw_response_wrapper(leads.list)
        self.update = raw_response_wrapper(leads.update)
        self.assign = raw_response_wrapper(leads.assign)
        self.delete = raw_response_wrapper(leads.delete)
        self.preview_routing = raw_response_wrapper(leads.preview_routing)


class WebhooksWithRawResponse:
    """:class:`~lofty_async.Webhooks` whose coroutine methods return ``RawResponse[...]``."""

    def __init__(self, webhooks: Webhooks) -> None:
        self.subscribe = raw_response_wrapper(webhooks.subscribe)
        self.list = raw_response_wrapper(webhooks.list)
        self.delete = raw_response_wrapper(webhooks.delete)


class TasksV1WithRawResponse:
    """:class:`~lofty_async.TasksV1` whose coroutine methods return ``RawResponse[...]``."""

    def __init__(self, tasks: TasksV1) -> None:
        self.list = raw_response_wrapper(tasks.list)
        self.create = raw_response_wrapper(tasks.create)
        self.get = raw_response_wrapper(tasks.get)
        self.update = raw_response_wrapper(tasks.update)
        self.delete = raw_response_wrapper(tasks.delete)


class AppointmentsV1WithRawResponse:
    """:class:`~lofty_async.AppointmentsV1` whose coroutine methods return ``RawResponse[...]``."""

    def __init__(self, appointments: AppointmentsV1) -> None:
        self.list = raw_response_wrapper(appointments.list)


class V1WithRawResponse:
    """:class:`~lofty_async.V1` with raw-response views of ``tasks`` and ``appointments``."""

    def __init__(self, v1: V1) -> None:
        self.tasks = TasksV1WithRawResponse(v1.tasks)
        self.appointments = AppointmentsV1WithRawResponse(v1.appointments)
