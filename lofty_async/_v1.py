"""Legacy Lofty V1 tasks and appointments (lofty_api.md §7). Prefer V2 for new code.

V1 differs from V2 on the wire: ``deadline`` is sent as epoch milliseconds, and responses carry
``"yyyy-MM-dd HH:mm:ss"`` UTC strings (``finishTime`` is ``""`` while open). The models here turn
both into aware datetimes (or ``None``).
"""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any

import attrs
import cattrs

from crm_core import HTTPSession, Request, RequestKind, ValidationError
from crm_core._decode import envelope_key, structure
from crm_core._validation import check_choice, check_positive_id, check_text, to_aware_datetime

__all__ = ["V1", "Appointment", "AppointmentsV1", "TaskV1", "TasksV1"]

V1_TASK_TYPES = ("Other", "Call", "Email", "Text")
_ROLES = ("Agent", "Assistant")


@attrs.frozen(kw_only=True)
class TaskV1:
    """A V1 task (schema ``TaskResponse``). Source: GET /v1.0/tasks, GET /v1.0/tasks/{taskId}.

    V2 equivalent: :class:`~lofty_async.Task`.
    """

    id: int | None = None
    lead_id: int | None = None
    creator_id: int | None = None
    content: str | None = None
    type: str | None = None
    deadline: datetime | None = None
    """Deadline (aware; sent by the API as ``"yyyy-MM-dd HH:mm:ss"`` UTC)."""
    finish_time: datetime | None = None
    """Completion time, ``None`` while open (the API sends ``""``)."""
    create_time: datetime | None = None
    last_update: datetime | None = None
    delete_flag: bool | None = None
    finish_flag: bool | None = None
    overdue_flag: bool | None = None
    lead_name: str | None = None
    lead_email: str | None = None
    lead_phone: str | None = None
    lead_first_name: str | None = None
    lead_last_name: str | None = None
    reminder_type: int | None = None
    assigned_role: str | None = None
    assigned_user: str | None = None
    team_id: int | None = None
    subject: str | None = None
    body: str | None = None
    assigned_user_id: int | None = None
    pipeline_id: int | None = None
    query_info: str | None = None
    lead_user_id: int | None = None
    query_id: int | None = None


@attrs.frozen(kw_only=True)
class Appointment:
    """A V1 appointment (schema ``Appointment``). Source: GET /v1.0/appts.

    V2 equivalent: :class:`~lofty_async.CalendarEvent` of type ``APPOINTMENT``.
    """

    id: int | None = None
    descr: str | None = None
    """Description."""
    address: str | None = None
    create_time: datetime | None = None
    last_update: datetime | None = None
    deadline: datetime | None = attrs.field(default=None, metadata={"epoch_ms": True})
    """Start time (aware; epoch milliseconds on the wire)."""
    end_time: datetime | None = attrs.field(default=None, metadata={"epoch_ms": True})
    """End time (aware; epoch milliseconds on the wire)."""
    all_day: bool | None = None
    finish_flag: bool | None = None
    delete_flag: bool | None = None
    overdue: bool | None = None
    finish_time: datetime | None = attrs.field(default=None, metadata={"epoch_ms": True})
    lead_id: int | None = None
    assign_to_uid: int | None = None
    assign_role_type: int | None = None
    creator_id: int | None = None


def _deadline_ms(value: object) -> int:
    return round(to_aware_datetime("deadline", value).timestamp() * 1000)


class TasksV1:
    """V1 tasks: ``/v1.0/tasks``. Reach it as ``client.v1.tasks``. Prefer ``client.tasks`` (V2)."""

    def __init__(self, http: HTTPSession, converter: cattrs.Converter) -> None:
        self._http = http
        self._converter = converter

    async def list(self, *, lead_id: int) -> builtins.list[TaskV1]:
        """All V1 tasks of a lead. Source: GET /v1.0/tasks?leadId= (``{"taskList": [...]}``).

        V2 equivalent: :meth:`lofty_async.Tasks.list`.

        Raises:
            ValidationError: bad ``lead_id`` (nothing sent).
            NotFoundError: no such lead.
        """
        lead_id = check_positive_id("lead_id", lead_id)
        response = await self._http.send(
            Request(
                method="GET",
                path="/v1.0/tasks",
                operation="v1.tasks.list",
                kind=RequestKind.READ,
                params={"leadId": lead_id},
            )
        )
        return structure(self._converter, envelope_key(response, "taskList"), builtins.list[TaskV1], response)

    async def create(
        self, *, content: str, lead_id: int, deadline: datetime | str, type: str, assigned_role: str
    ) -> int:
        """Create a V1 task; return its ``taskId``.

        Source: POST /v1.0/tasks  (``deadline`` is sent as epoch milliseconds)

        V2 equivalent: :meth:`lofty_async.Tasks.create`. Not reconciled after an ambiguous
        failure (use V2 for exactly-once creates): such a failure raises with
        ``outcome=MAYBE_PROCESSED``.

        Args:
            content: Description.
            lead_id: The lead's ID.
            deadline: An aware ``datetime`` or ISO-8601 string with an offset.
            type: ``Other``, ``Call``, ``Email`` or ``Text``.
            assigned_role: ``Agent`` or ``Assistant``.

        Raises:
            ValidationError: a bad field (nothing sent).
        """
        body = {
            "content": check_text("content", content),
            "leadId": check_positive_id("lead_id", lead_id),
            "deadline": _deadline_ms(deadline),
            "type": check_choice("type", type, V1_TASK_TYPES),
            "assignedRole": check_choice("assigned_role", assigned_role, _ROLES),
        }
        response = await self._http.send(
            Request(method="POST", path="/v1.0/tasks", operation="v1.tasks.create", kind=RequestKind.CREATE, json=body)
        )
        return int(envelope_key(response, "taskId"))

    async def get(self, task_id: int) -> TaskV1:
        """One V1 task. Source: GET /v1.0/tasks/{taskId} (``{"task": {...}}``).

        V2 equivalent: :meth:`lofty_async.Tasks.get`.

        Raises:
            ValidationError: bad ``task_id`` (nothing sent).
            NotFoundError: no such task, or deleted (``TASK_NOT_EXIST``).
        """
        task_id = check_positive_id("task_id", task_id)
        response = await self._http.send(
            Request(method="GET", path=f"/v1.0/tasks/{task_id}", operation="v1.tasks.get", kind=RequestKind.READ)
        )
        return structure(self._converter, envelope_key(response, "task"), TaskV1, response)

    async def update(
        self,
        task_id: int,
        *,
        content: str | None = None,
        lead_id: int | None = None,
        deadline: datetime | str | None = None,
        type: str | None = None,
        assigned_role: str | None = None,
        finish_flag: bool | None = None,
    ) -> None:
        """Change a V1 task; fields not given are left unchanged.

        Source: PUT /v1.0/tasks/{taskId}  (empty response body)

        V2 equivalent: :meth:`lofty_async.Tasks.update` (and ``finish``/``unfinish``).

        Args:
            task_id: The task.
            content: New description.
            lead_id: Must equal the task's lead (Lofty refuses a move:
                ``INVALID_UPDATE_OPERATION_LEADID``).
            deadline: New deadline, aware (sent as epoch milliseconds).
            type: ``Other``, ``Call``, ``Email`` or ``Text``.
            assigned_role: ``Agent`` or ``Assistant``.
            finish_flag: ``True`` completes the task (other fields are then ignored).

        Raises:
            ValidationError: nothing to change, or a bad field (nothing sent).
            BadRequestError: ``TASK_IS_SMARTPLAN``, ``INVALID_UPDATE_OPERATION_LEADID``.
            NotFoundError: no such task.
        """
        task_id = check_positive_id("task_id", task_id)
        body: dict[str, Any] = {}
        if content is not None:
            body["content"] = check_text("content", content)
        if lead_id is not None:
            body["leadId"] = check_positive_id("lead_id", lead_id)
        if deadline is not None:
            body["deadline"] = _deadline_ms(deadline)
        if type is not None:
            body["type"] = check_choice("type", type, V1_TASK_TYPES)
        if assigned_role is not None:
            body["assignedRole"] = check_choice("assigned_role", assigned_role, _ROLES)
        if finish_flag is not None:
            body["finishFlag"] = bool(finish_flag)
        if not body:
            raise ValidationError("update", {}, "at least one field to change")
        await self._http.send(
            Request(
                method="PUT",
                path=f"/v1.0/tasks/{task_id}",
                operation="v1.tasks.update",
                kind=RequestKind.IDEMPOTENT,
                json=body,
            )
        )

    async def delete(self, task_id: int) -> None:
        """Delete a V1 task. Source: DELETE /v1.0/tasks/{taskId} (empty response body).

        V2 equivalent: :meth:`lofty_async.Tasks.delete`.

        Raises:
            ValidationError: bad ``task_id`` (nothing sent).
            NotFoundError: no such task.
        """
        task_id = check_positive_id("task_id", task_id)
        await self._http.send(
            Request(
                method="DELETE", path=f"/v1.0/tasks/{task_id}", operation="v1.tasks.delete", kind=RequestKind.IDEMPOTENT
            )
        )


class AppointmentsV1:
    """V1 appointments: ``/v1.0/appts``. Reach it as ``client.v1.appointments``."""

    def __init__(self, http: HTTPSession, converter: cattrs.Converter) -> None:
        self._http = http
        self._converter = converter

    async def list(self, *, lead_id: int) -> builtins.list[Appointment]:
        """All appointments of a lead. Source: GET /v1.0/appts?leadId= (a bare JSON array).

        V2 equivalent: :meth:`lofty_async.Calendar.list` (type ``APPOINTMENT``).

        Raises:
            ValidationError: bad ``lead_id`` (nothing sent).
            NotFoundError: no such lead.
        """
        lead_id = check_positive_id("lead_id", lead_id)
        response = await self._http.send(
            Request(
                method="GET",
                path="/v1.0/appts",
                operation="v1.appointments.list",
                kind=RequestKind.READ,
                params={"leadId": lead_id},
            )
        )
        return structure(self._converter, response.data, builtins.list[Appointment], response)


class V1:
    """The legacy V1 resources: ``tasks`` and ``appointments``."""

    def __init__(self, http: HTTPSession, converter: cattrs.Converter) -> None:
        self.tasks = TasksV1(http, converter)
        """``/v1.0/tasks``."""
        self.appointments = AppointmentsV1(http, converter)
        """``/v1.0/appts``."""
