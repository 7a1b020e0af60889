"""Lofty V2 tasks: ``/v2.0/tasks`` (lofty_api.md §5).

Building requests and checking input are pure functions (``build_*``, ``*_request``); the
:class:`Tasks` resource sends them through the shared session.
"""

from __future__ import annotations

import builtins
from collections.abc import (
    AsyncIterable,
    Awaitable,
    Callable,
    Coroutine,
    Hashable,
    Iterable,
    Mapping,
)
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

import attrs
import cattrs

from crm_core import (
    BulkSummary,
    HTTPSession,
    Request,
    RequestKind,
    RowResult,
    ValidationError,
)
from crm_core._attrs_init import direct_init
from crm_core._bulk import CreateOptions, bulk_create
from crm_core._converter import same_instant_at_precision
from crm_core._decode import envelope_key, structure
from crm_core._journal import Journal
from crm_core._pagination import CursorIterator, Page
from crm_core._reconcile import Candidate, CreateLedger, send_create_once
from crm_core._resource import CreatingResource
from crm_core._validation import (
    check_choice,
    check_int_range,
    check_positive_id,
    check_text,
    check_time_zone,
    to_aware_datetime,
    wire_time,
)

from ._ids import record_id
from ._models import Task

__all__ = [
    "ASSIGNED_ROLES",
    "CREATE_FIELDS",
    "TASK_TYPES",
    "MyTasksIterator",
    "TaskCreate",
    "TaskUpdate",
    "Tasks",
    "build_task_create",
    "build_task_update",
]

TASK_TYPES = ("Call", "Email", "Text", "Other", "Appointment")
"""Values of ``type`` on create (spec ``TaskRequestV2``)."""
ASSIGNED_ROLES = ("Agent", "Assistant")
"""Values of ``assignedRole``."""
CREATE_FIELDS = (
    "type",
    "content",
    "lead_id",
    "assigned_role",
    "start_at",
    "end_at",
    "time_zone_code",
    "address",
)
"""The keyword arguments of :meth:`Tasks.create`, in the seed's order."""


@direct_init
@attrs.frozen(kw_only=True, slots=False)
class TaskCreate:
    """A checked ``POST /v2.0/tasks`` body (``TaskRequestV2``); times are wire strings."""

    type: str
    content: str
    lead_id: int
    assigned_role: str
    start_at: str | None = None
    end_at: str
    time_zone_code: str | None = None
    address: str | None = None


@attrs.frozen(kw_only=True)
class TaskUpdate:
    """A checked ``PUT /v2.0/tasks/{taskId}`` body (``UpdateTaskRequestV2``); only set fields are sent."""

    content: str | None = None
    start_at: str | None = None
    end_at: str | None = None
    time_zone_code: str | None = None
    address: str | None = None


def _check_order(start_at: str | None, end_at: str | None) -> None:
    if start_at is None or end_at is None:
        return
    start = to_aware_datetime("start_at", start_at)
    end = to_aware_datetime("end_at", end_at)
    if end < start:
        raise ValidationError("end_at", end_at, f"a time at or after start_at ({start_at})")


def build_task_create(
    *,
    type: object,
    content: object,
    lead_id: object,
    assigned_role: object = None,
    start_at: object = None,
    end_at: object = None,
    time_zone_code: object = None,
    address: object = None,
) -> TaskCreate:
    """Check create arguments and build the wire payload. Nothing is sent.

    Required (the spec's description): ``type``, ``content``, ``lead_id``,
    ``assigned_role``, ``end_at``.

    Raises:
        ValidationError: the first bad field, with its value and what is allowed.
    """
    checked_type = check_choice("type", type, TASK_TYPES)
    checked_content = check_text("content", content)
    checked_lead = check_positive_id("lead_id", lead_id)
    if assigned_role is None:
        raise ValidationError("assigned_role", None, "one of Agent, Assistant (required by Lofty)")
    role = check_choice("assigned_role", assigned_role, ASSIGNED_ROLES)
    start = None if start_at is None else wire_time("start_at", start_at)
    if end_at is None:
        raise ValidationError("end_at", None, "an end time with an offset (required by Lofty: the deadline)")
    end = wire_time("end_at", end_at)
    _check_order(start, end)
    zone = None if time_zone_code is None else check_time_zone("time_zone_code", time_zone_code)
    place = None if address is None else check_text("address", address)
    return TaskCreate(
        type=checked_type,
        content=checked_content,
        lead_id=checked_lead,
        assigned_role=role,
        start_at=start,
        end_at=end,
        time_zone_code=zone,
        address=place,
    )


def build_task_update(
    *,
    content: object = None,
    start_at: object = None,
    end_at: object = None,
    time_zone_code: object = None,
    address: object = None,
) -> TaskUpdate:
    """Check update arguments; only the given ones are sent.

    Raises:
        ValidationError: a bad field, or none of content, start_at, end_at, address given
            (Lofty answers an empty update with 400 MISSING_PARAMETER).
    """
    if content is None and start_at is None and end_at is None and address is None:
        raise ValidationError(
            "update",
            {"time_zone_code": time_zone_code} if time_zone_code is not None else {},
            "at least one of content, start_at, end_at, address",
        )
    update = TaskUpdate(
        content=None if content is None else check_text("content", content),
        start_at=None if start_at is None else wire_time("start_at", start_at),
        end_at=None if end_at is None else wire_time("end_at", end_at),
        time_zone_code=None if time_zone_code is None else check_time_zone("time_zone_code", time_zone_code),
        address=None if address is None else check_text("address", address),
    )
    _check_order(update.start_at, update.end_at)
    return update


_ROW_FIELDS = frozenset((*CREATE_FIELDS, "dedupe_key"))  # what a create_many row may hold


def create_request(payload: TaskCreate, converter: cattrs.Converter) -> Request:
    """``POST /v2.0/tasks``."""
    return Request(
        method="POST",
        path="/v2.0/tasks",
        operation="tasks.create",
        kind=RequestKind.CREATE,
        json=converter.unstructure(payload),
    )


def _task_path(task_id: int, suffix: str = "") -> str:
    return f"/v2.0/tasks/{task_id}{suffix}"


STORED_PRECISION = timedelta(seconds=1)
"""Lofty stores and reads back task times in whole seconds (``'2026-03-01T23:00:00GMT'``)."""


def _same_instant_or_wall_time(sent: str | None, seen: datetime | None, zone: str | None) -> bool:
    """Whether a time read back matches the one sent, at Lofty's stored precision.

    Lofty reads times back in whole seconds with a literal ``GMT`` suffix. Whether it
    truncates or rounds a fractional second is not documented (lofty_api.md: [GAP]), so both
    count (:func:`~crm_core._converter.same_instant_at_precision`). The ``GMT`` suffix may mark
    the UTC instant or the wall time in the task's zone (the docs' example is ambiguous), so
    either reading counts as a match.
    """
    if sent is None:
        return True
    if seen is None:
        return False
    wanted = to_aware_datetime("time", sent)
    if same_instant_at_precision(wanted, seen, precision=STORED_PRECISION):
        return True
    local = wanted.astimezone(ZoneInfo(zone)) if zone else wanted
    return same_instant_at_precision(local.replace(tzinfo=UTC), seen.replace(tzinfo=UTC), precision=STORED_PRECISION)


def matches_create(task: Task, payload: TaskCreate) -> bool:
    """Whether ``task`` looks like the record ``payload`` creates (for reconciliation)."""
    return (
        (task.type or "").lower() == payload.type.lower()
        and task.content == payload.content
        and (task.lead_id in (None, payload.lead_id))
        and _same_instant_or_wall_time(payload.start_at, task.start_at, payload.time_zone_code)
        and _same_instant_or_wall_time(payload.end_at, task.end_at, payload.time_zone_code)
    )


@attrs.frozen(kw_only=True)
class Tasks(CreatingResource):
    """Lofty V2 tasks and appointments (``/v2.0/tasks``). Reach it as ``client.tasks``."""

    async def create(
        self,
        *,
        type: str,
        content: str,
        lead_id: int,
        assigned_role: str | None = None,
        start_at: datetime | str | None = None,
        end_at: datetime | str | None = None,
        time_zone_code: str | None = None,
        address: str | None = None,
        dedupe_key: str | None = None,
        ledger: CreateLedger | None = None,
    ) -> int:
        """Create a task or an appointment on a lead; return its ``taskId``.

        Source: POST /v2.0/tasks

        Exactly once: failures that show the write did not happen (connection refused, 429,
        503) are retried; after an ambiguous failure (timeout or reset after sending, 500,
        502, 504) the lead's tasks are listed (GET /v2.0/tasks?leadId=) and matched on type,
        content, start and end: found, its ID is returned; not found, the create is re-sent.

        Args:
            type: ``Call``, ``Email``, ``Text``, ``Other``, or ``Appointment`` (which creates
                an appointment).
            content: Description, non-empty.
            lead_id: The lead's ID (positive int64).
            assigned_role: ``Agent`` or ``Assistant``; required by Lofty.
            start_at: Start, an aware ``datetime`` or ISO-8601 string with an offset
                (``"2026-03-01T15:00:00-08:00"``); a string is sent as given.
            end_at: End (the deadline of a regular task), same forms; required, not before
                ``start_at``.
            time_zone_code: IANA zone (``"America/Los_Angeles"``).
            address: Location, for appointments.
            dedupe_key: Your key for this write; a repeat returns the first ``taskId`` without
                sending (remembered by the client, or by ``ledger``).
            ledger: Records already created by your job (default: the client's own).

        Raises:
            ValidationError: bad input (nothing sent).
            BadRequestError: Lofty refused the input (``20012 INVALID_PARAMETER``).
            PermissionDeniedError: no manage permission on the lead (``20017``).
            ReconciliationError: the create may have landed and the lookup could not tell.
            APIError: other failures; ``outcome`` says whether the write may have landed.
        """
        payload = build_task_create(
            type=type,
            content=content,
            lead_id=lead_id,
            assigned_role=assigned_role,
            start_at=start_at,
            end_at=end_at,
            time_zone_code=time_zone_code,
            address=address,
        )
        return await self._send_create(payload, dedupe_key, ledger, False, None, None)

    async def create_checked(
        self,
        payload: TaskCreate,
        *,
        dedupe_key: str | None = None,
        ledger: CreateLedger | None = None,
        check_first: bool = False,
        sent_at: datetime | None = None,
        last_sent_at: datetime | None = None,
    ) -> int:
        """Send an already checked :class:`TaskCreate` (see :meth:`create`).

        Source: POST /v2.0/tasks

        Args:
            payload: From :func:`build_task_create`.
            dedupe_key: See :meth:`create`.
            ledger: See :meth:`create`.
            check_first: The write may already have been sent (after a crash): look it up
                before sending.
            sent_at: When it was first sent (aware); default now. Records created before it
                (less the reconcile skew) are not taken for it.
            last_sent_at: The latest time (aware) an earlier attempt can have been sent (e.g.
                when the crashed run that sent it ended); with ``check_first``, it is looked up
                until the settle period after it has passed before it is sent again. Default
                ``sent_at``.
        """
        return await self._send_create(payload, dedupe_key, ledger, check_first, sent_at, last_sent_at)

    def _send_create(
        self,
        payload: TaskCreate,
        dedupe_key: str | None,
        ledger: CreateLedger | None,
        check_first: bool,
        sent_at: datetime | None,
        last_sent_at: datetime | None,
    ) -> Coroutine[Any, Any, int]:
        """The coroutine of :meth:`create_checked` (no coroutine layer of its own)."""
        request = create_request(payload, self.converter)

        async def lookup() -> builtins.list[Candidate[Hashable, int]]:
            tasks = await self.list(lead_id=payload.lead_id)
            return [
                Candidate(id=t.id, created_at=t.create_time, value=t.id)
                for t in tasks
                if t.id is not None and matches_create(t, payload)
            ]

        async def known(task_id: Hashable) -> int:
            return int(str(task_id))

        return send_create_once(
            cast(HTTPSession, self.session),  # duck-typed: send, emit, url_for
            request,
            decode=lambda response: record_id(response, "taskId"),
            lookup=lookup,
            id_of=lambda task_id: task_id,
            ledger=ledger or self.ledger,
            settings=self.reconcile,
            sent_at=sent_at or datetime.now(UTC),
            dedupe_key=dedupe_key,
            known=known,
            check_first=check_first,
            last_sent_at=last_sent_at,
        )

    async def get(self, task_id: int) -> Task:
        """Fetch one task or appointment.

        Source: GET /v2.0/tasks/{taskId}  (envelope ``{"task": {...}}``)

        Raises:
            ValidationError: ``task_id`` is not a positive integer (nothing sent).
            NotFoundError: no such task (``TASK_NOT_EXIST``).
            PermissionDeniedError: no access to its lead (``20017``).
        """
        task_id = check_positive_id("task_id", task_id)
        response = await self.session.send(
            Request(method="GET", path=_task_path(task_id), operation="tasks.get", kind=RequestKind.READ)
        )
        return structure(self.converter, envelope_key(response, "task"), Task, response)

    async def list(self, *, lead_id: int) -> builtins.list[Task]:
        """All tasks and appointments of one lead (the endpoint is not paginated).

        Source: GET /v2.0/tasks?leadId=  (envelope ``{"tasks": [...]}``)

        Raises:
            ValidationError: ``lead_id`` is not a positive integer (nothing sent).
            NotFoundError: no such lead (``20006 LEAD_NOT_EXIST``).
            PermissionDeniedError: no manage permission on the lead (``20017``).
        """
        lead_id = check_positive_id("lead_id", lead_id)
        response = await self.session.send(
            Request(
                method="GET",
                path="/v2.0/tasks",
                operation="tasks.list",
                kind=RequestKind.READ,
                params={"leadId": lead_id},
            )
        )
        return structure(self.converter, envelope_key(response, "tasks"), builtins.list[Task], response)

    async def update(
        self,
        task_id: int,
        *,
        content: str | None = None,
        start_at: datetime | str | None = None,
        end_at: datetime | str | None = None,
        time_zone_code: str | None = None,
        address: str | None = None,
    ) -> str:
        """Change some fields of a task; only the arguments given are sent.

        Source: PUT /v2.0/tasks/{taskId}  (answers ``{"message": ...}``)

        Returns:
            The server's message (``"Operation successful"``).

        Raises:
            ValidationError: nothing to change, or a bad field (nothing sent).
            NotFoundError: no such task, or no access to its lead.
        """
        task_id = check_positive_id("task_id", task_id)
        body = build_task_update(
            content=content, start_at=start_at, end_at=end_at, time_zone_code=time_zone_code, address=address
        )
        response = await self.session.send(
            Request(
                method="PUT",
                path=_task_path(task_id),
                operation="tasks.update",
                kind=RequestKind.IDEMPOTENT,
                json=self.converter.unstructure(body),
            )
        )
        return message_of(response.data)

    async def delete(self, task_id: int) -> str:
        """Delete a task or appointment.

        Source: DELETE /v2.0/tasks/{taskId}

        Returns:
            The server's message.

        Raises:
            ValidationError: bad ``task_id`` (nothing sent).
            NotFoundError: no such task.
        """
        return await self._action(task_id, "DELETE", "", "tasks.delete")

    async def finish(self, task_id: int) -> str:
        """Mark a task completed.

        Source: POST /v2.0/tasks/{taskId}/finish

        Raises:
            ValidationError: bad ``task_id`` (nothing sent).
            BadRequestError: a smart-plan task (``TASK_IS_SMARTPLAN``).
            NotFoundError: no such task, or no access to its lead.
        """
        return await self._action(task_id, "POST", "/finish", "tasks.finish")

    async def unfinish(self, task_id: int) -> str:
        """Reopen a completed task.

        Source: POST /v2.0/tasks/{taskId}/unfinish

        Raises:
            ValidationError: bad ``task_id`` (nothing sent).
            NotFoundError: no such task.
        """
        return await self._action(task_id, "POST", "/unfinish", "tasks.unfinish")

    async def _action(self, task_id: int, method: str, suffix: str, operation: str) -> str:
        task_id = check_positive_id("task_id", task_id)
        response = await self.session.send(
            Request(method=method, path=_task_path(task_id, suffix), operation=operation, kind=RequestKind.IDEMPOTENT)
        )
        return message_of(response.data)

    def my_tasks(
        self,
        *,
        user_id: int | None = None,
        limit: int = 10,
        time_zone_code: str | None = None,
        current_id: int = 0,
    ) -> MyTasksIterator:
        """Every task and appointment assigned to the caller, newest start first; resumable.

        Source: GET /v2.0/tasks/my-tasks, following the ``currentId`` cursor (the last
        returned item's ``id``) until a page comes back short.

        Example::

            tasks = lofty.tasks.my_tasks(limit=100, current_id=saved or 0)
            async for task in tasks:
                await handle(task)
                save(tasks.current_id)   # after each item: resuming repeats at most one page

        Args:
            user_id: Another user's ID (default: the authenticated user).
            limit: Page size, 1 to 100.
            time_zone_code: IANA zone the server formats times in.
            current_id: Resume from a saved :attr:`MyTasksIterator.current_id` (0: from the
                start).

        Returns:
            A :class:`MyTasksIterator` (``async for``); its ``current_id`` is where to resume.

        Raises:
            ValidationError: bad ``limit``, ``user_id``, zone or ``current_id`` (at the call,
                nothing sent).
        """
        limit = check_int_range("limit", limit, 1, 100)
        if user_id is not None:
            user_id = check_positive_id("user_id", user_id)
        if time_zone_code is not None:
            time_zone_code = check_time_zone("time_zone_code", time_zone_code)
        start = check_int_range("current_id", current_id, 0)

        async def fetch(cursor: int) -> Page[Task, int]:
            response = await self.session.send(
                Request(
                    method="GET",
                    path="/v2.0/tasks/my-tasks",
                    operation="tasks.my_tasks",
                    kind=RequestKind.READ,
                    params={
                        "userId": user_id,
                        "currentId": cursor,
                        "limit": limit,
                        "timeZoneCode": time_zone_code,
                    },
                )
            )
            page = structure(self.converter, envelope_key(response, "tasks"), builtins.list[Task], response)
            last = page[-1].id if page else None
            has_more = len(page) >= limit and last is not None and last != cursor
            return Page(items=page, cursor=cursor, next_cursor=cursor if last is None else last, has_more=has_more)

        return MyTasksIterator(fetch, start)

    async def create_many(
        self,
        rows: Iterable[Mapping[str, Any] | tuple[int, Mapping[str, Any]]]
        | AsyncIterable[Mapping[str, Any] | tuple[int, Mapping[str, Any]]],
        *,
        concurrency: int = 10,
        key: Callable[[Mapping[str, Any]], Hashable | None] | None = None,
        on_result: Callable[[RowResult[int]], Awaitable[None] | None] | None = None,
        time_budget: float | None = None,
        ledger: CreateLedger | None = None,
        journal: Journal | None = None,
    ) -> BulkSummary:
        """Create many tasks with bounded concurrency; every row gets a result.

        Source: POST /v2.0/tasks per row (reconciled as in :meth:`create`).

        Args:
            rows: Mappings of :meth:`create` keyword arguments (plus an optional
                ``dedupe_key``), or ``(row_number, mapping)`` pairs; bare rows are numbered
                from 1.
            concurrency: Rows in flight at once.
            key: Per-row ordering key; rows with the same key are created in input order.
            on_result: Receives each :class:`~crm_core.RowResult` (``value`` is the
                ``taskId``); rows done by an earlier run are ``SKIPPED``.
            time_budget: Seconds after which no new row starts (the rest are skipped).
            ledger: Records this job already created; identical rows stay distinct writes.
            journal: A :class:`~crm_core.Journal` making the job resumable after a crash.

        Returns:
            Counts of created, failed and skipped rows.
        """

        def build(row: Mapping[str, Any]) -> TaskCreate:
            if not _ROW_FIELDS.issuperset(row):
                unknown = sorted(row.keys() - _ROW_FIELDS)
                allowed = "one of the fields " + ", ".join((*CREATE_FIELDS, "dedupe_key"))
                raise ValidationError(unknown[0], row[unknown[0]], allowed)
            return build_task_create(**{name: row.get(name) for name in CREATE_FIELDS})

        def create(payload: TaskCreate, options: CreateOptions) -> Coroutine[Any, Any, int]:
            return self._send_create(
                payload, options.dedupe_key, options.ledger, options.check_first, options.sent_at, options.last_sent_at
            )

        return await bulk_create(
            rows,
            build=build,
            create=create,
            id_of=lambda task_id: task_id,
            ledger=ledger or self.ledger,
            concurrency=concurrency,
            key=key,
            on_result=on_result,
            time_budget=time_budget,
            journal=journal,
            clock=self.session.clock,
            settle=self.reconcile.settle_period(self.session.timeout) if self.reconcile.enabled else 0.0,
        )


class MyTasksIterator(CursorIterator[Task, int]):
    """Tasks from :meth:`Tasks.my_tasks`; ``async for`` over it.

    Attributes:
        cursor: The ``currentId`` to resume from (see :class:`~crm_core.CursorIterator`).
        at_page_end: The task just yielded was the last of its page.
        exhausted: Every page has been read.
        pages_fetched: Requests made so far.
    """

    @property
    def current_id(self) -> int:
        """Where to resume: pass it back as ``my_tasks(..., current_id=...)``. Same as :attr:`cursor`."""
        return self.cursor


def message_of(data: Any) -> str:
    """The ``message`` of a ``{"message": ...}`` answer ("" when absent)."""
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return str(data["message"])
    return ""
