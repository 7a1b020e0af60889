"""Legacy Lofty V1 tasks and appointments (lofty_api.md §7). Prefer V2 for new code.

V1 differs from V2 on the wire: ``deadline`` is sent as epoch milliseconds, and responses carry
``"yyyy-MM-dd HH:mm:ss"`` UTC strings (``finishTime`` is ``""`` while open). The models here turn
both into aware datetimes (or ``None``).
"""

from __future__ import annotations

import builtins
from collections.abc import Hashable
from datetime import UTC, datetime, timedelta
from typing import cast

import attrs

from crm_core import HTTPSession, Request, RequestKind, ValidationError
from crm_core._converter import WireModel, same_instant_at_precision
from crm_core._decode import envelope_key, structure
from crm_core._reconcile import Candidate, send_create_once
from crm_core._resource import CreatingResource, Resource
from crm_core._validation import check_choice, check_positive_id, check_text, to_aware_datetime

from ._ids import record_id

__all__ = [
    "V1",
    "Appointment",
    "AppointmentsV1",
    "TaskV1",
    "TaskV1Create",
    "TaskV1Update",
    "TasksV1",
    "matches_v1_create",
]

V1_TASK_TYPES = ("Other", "Call", "Email", "Text")
_ROLES = ("Agent", "Assistant")


@attrs.frozen(kw_only=True, slots=False)
class TaskV1(WireModel):
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


@attrs.frozen(kw_only=True, slots=False)
class Appointment(WireModel):
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


@attrs.frozen(kw_only=True)
class TaskV1Create:
    """A checked ``POST /v1.0/tasks`` body (schema ``TaskRequest``); ``deadline`` goes out as
    epoch milliseconds."""

    content: str
    lead_id: int
    deadline: datetime = attrs.field(metadata={"epoch_ms": True})
    type: str
    assigned_role: str


@attrs.frozen(kw_only=True)
class TaskV1Update:
    """A checked ``PUT /v1.0/tasks/{taskId}`` body; only set fields are sent."""

    content: str | None = None
    lead_id: int | None = None
    deadline: datetime | None = attrs.field(default=None, metadata={"epoch_ms": True})
    type: str | None = None
    assigned_role: str | None = None
    finish_flag: bool | None = None


STORED_PRECISION = timedelta(seconds=1)
"""V1 reads deadlines back as ``"yyyy-MM-dd HH:mm:ss"`` UTC: whole seconds."""


def matches_v1_create(task: TaskV1, payload: TaskV1Create) -> bool:
    """Whether ``task`` is the record ``payload`` creates (for reconciliation).

    The deadline compares at whole seconds (truncated or rounded: the docs do not say which).
    """
    return (
        (task.type or "").lower() == payload.type.lower()
        and task.content == payload.content
        and task.lead_id in (None, payload.lead_id)
        and task.deadline is not None
        and same_instant_at_precision(payload.deadline, task.deadline, precision=STORED_PRECISION)
    )


@attrs.frozen(kw_only=True)
class TasksV1(CreatingResource):
    """V1 tasks: ``/v1.0/tasks``. Reach it as ``client.v1.tasks``. Prefer ``client.tasks`` (V2)."""

    async def list(self, *, lead_id: int) -> builtins.list[TaskV1]:
        """All V1 tasks of a lead. Source: GET /v1.0/tasks?leadId= (``{"taskList": [...]}``).

        V2 equivalent: :meth:`lofty_async.Tasks.list`.

        Raises:
            ValidationError: bad ``lead_id`` (nothing sent).
            NotFoundError: no such lead.
        """
        lead_id = check_positive_id("lead_id", lead_id)
        response = await self.session.send(
            Request(
                method="GET",
                path="/v1.0/tasks",
                operation="v1.tasks.list",
                kind=RequestKind.READ,
                params={"leadId": lead_id},
            )
        )
        return structure(self.converter, envelope_key(response, "taskList"), builtins.list[TaskV1], response)

    async def create(
        self,
        *,
        content: str,
        lead_id: int,
        deadline: datetime | str,
        type: str,
        assigned_role: str,
        dedupe_key: str | None = None,
    ) -> int:
        """Create a V1 task; return its ``taskId``.

        Source: POST /v1.0/tasks  (``deadline`` is sent as epoch milliseconds)

        V2 equivalent: :meth:`lofty_async.Tasks.create`. Exactly once: after an ambiguous
        failure (or a 2xx with an unusable ``taskId``) the lead's V1 tasks are listed and matched
        on content, type and deadline (at whole seconds, as V1 reads it back) before anything is
        re-sent.

        Args:
            content: Description.
            lead_id: The lead's ID.
            deadline: An aware ``datetime`` or ISO-8601 string with an offset.
            type: ``Other``, ``Call``, ``Email`` or ``Text``.
            assigned_role: ``Agent`` or ``Assistant``.
            dedupe_key: Your key; a repeat returns the first ``taskId`` without sending.

        Raises:
            ValidationError: a bad field (nothing sent).
            APIResponseValidationError: a 2xx whose ``taskId`` is unusable and no matching
                task was found (``outcome=PROCESSED``).
            ReconciliationError: the create may have landed and the lookup could not tell.
        """
        payload = TaskV1Create(
            content=check_text("content", content),
            lead_id=check_positive_id("lead_id", lead_id),
            deadline=to_aware_datetime("deadline", deadline),
            type=check_choice("type", type, V1_TASK_TYPES),
            assigned_role=check_choice("assigned_role", assigned_role, _ROLES),
        )
        request = Request(
            method="POST",
            path="/v1.0/tasks",
            operation="v1.tasks.create",
            kind=RequestKind.CREATE,
            json=self.converter.unstructure(payload),
        )

        async def lookup() -> builtins.list[Candidate[Hashable, int]]:
            return [
                Candidate(id=task.id, created_at=task.create_time, value=task.id)
                for task in await self.list(lead_id=payload.lead_id)
                if task.id is not None and matches_v1_create(task, payload)
            ]

        async def known(task_id: Hashable) -> int:
            return int(str(task_id))

        return await send_create_once(
            cast(HTTPSession, self.session),  # duck-typed: send, emit, url_for
            request,
            decode=lambda response: record_id(response, "taskId"),
            lookup=lookup,
            id_of=lambda task_id: task_id,
            ledger=self.ledger,
            settings=self.reconcile,
            sent_at=datetime.now(UTC),
            dedupe_key=dedupe_key,
            known=known,
        )

    async def get(self, task_id: int) -> TaskV1:
        """One V1 task. Source: GET /v1.0/tasks/{taskId} (``{"task": {...}}``).

        V2 equivalent: :meth:`lofty_async.Tasks.get`.

        Raises:
            ValidationError: bad ``task_id`` (nothing sent).
            NotFoundError: no such task, or deleted (``TASK_NOT_EXIST``).
        """
        task_id = check_positive_id("task_id", task_id)
        response = await self.session.send(
            Request(method="GET", path=f"/v1.0/tasks/{task_id}", operation="v1.tasks.get", kind=RequestKind.READ)
        )
        return structure(self.converter, envelope_key(response, "task"), TaskV1, response)

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
        update = TaskV1Update(
            content=None if content is None else check_text("content", content),
            lead_id=None if lead_id is None else check_positive_id("lead_id", lead_id),
            deadline=None if deadline is None else to_aware_datetime("deadline", deadline),
            type=None if type is None else check_choice("type", type, V1_TASK_TYPES),
            assigned_role=None if assigned_role is None else check_choice("assigned_role", assigned_role, _ROLES),
            finish_flag=None if finish_flag is None else bool(finish_flag),
        )
        body = self.converter.unstructure(update)
        if not body:
            raise ValidationError("update", {}, "at least one field to change")
        await self.session.send(
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
        await self.session.send(
            Request(
                method="DELETE", path=f"/v1.0/tasks/{task_id}", operation="v1.tasks.delete", kind=RequestKind.IDEMPOTENT
            )
        )


@attrs.frozen(kw_only=True)
class AppointmentsV1(Resource):
    """V1 appointments: ``/v1.0/appts``. Reach it as ``client.v1.appointments``."""

    async def list(self, *, lead_id: int) -> builtins.list[Appointment]:
        """All appointments of a lead. Source: GET /v1.0/appts?leadId= (a bare JSON array).

        V2 equivalent: :meth:`lofty_async.Calendar.list` (type ``APPOINTMENT``).

        Raises:
            ValidationError: bad ``lead_id`` (nothing sent).
            NotFoundError: no such lead.
        """
        lead_id = check_positive_id("lead_id", lead_id)
        response = await self.session.send(
            Request(
                method="GET",
                path="/v1.0/appts",
                operation="v1.appointments.list",
                kind=RequestKind.READ,
                params={"leadId": lead_id},
            )
        )
        return structure(self.converter, response.data, builtins.list[Appointment], response)


@attrs.frozen(kw_only=True)
class V1:
    """The legacy V1 resources.

    Attributes:
        tasks: ``/v1.0/tasks``.
        appointments: ``/v1.0/appts``.
    """

    tasks: TasksV1
    appointments: AppointmentsV1
