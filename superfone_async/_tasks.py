"""Superfone tasks: ``/enterprise/api/lead/{lead_id}/task`` (superfone_api.md §4, seed 004)."""

from __future__ import annotations

import builtins
import re
from collections.abc import AsyncIterable, Awaitable, Callable, Coroutine, Hashable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, cast

import attrs

from crm_core import BulkSummary, HTTPSession, Request, RequestKind, RowResult, ValidationError
from crm_core._bulk import CreateOptions, bulk_create
from crm_core._decode import structure
from crm_core._journal import Journal
from crm_core._reconcile import Candidate, CreateLedger, send_create_once
from crm_core._resource import CreatingResource
from crm_core._validation import check_int_range, check_positive_id, check_text, to_aware_datetime

from ._models import Page, Task
from ._paging import PageIterator
from ._wire import BODY_CONVERTER, request_body, same_millisecond, utc_z

__all__ = [
    "CREATE_FIELDS",
    "TASK_TYPES",
    "TaskCreate",
    "Tasks",
    "build_task_create",
    "check_task_type",
    "matches_create",
    "utc_z",
]

TASK_TYPES = ("FOLLOW_UP_CALL", "FIRST_CALL", "CALLBACK_REQUEST", "SITE_VISIT", "REMINDER", "BOOKING")
"""The values of ``type`` the docs call currently allowed on create. A type added on the server
later can be sent with ``allow_unknown=True`` (the server then decides)."""
CREATE_FIELDS = ("lead_id", "type", "due_date", "notify_at", "customer_note")
_ROW_FIELDS = frozenset((*CREATE_FIELDS, "dedupe_key"))  # what a create_many row may hold
"""The arguments of :meth:`Tasks.create` (``lead_id`` is the path parameter)."""
MAX_PAGE_SIZE = 20


_TYPE_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")


def check_task_type(value: object, *, allow_unknown: bool = False) -> str:
    """A task ``type``: one of :data:`TASK_TYPES`, or (``allow_unknown``) any ``UPPER_SNAKE`` name.

    Raises:
        ValidationError: ``type`` is missing, not a string, or unknown without ``allow_unknown``.
    """
    if allow_unknown and isinstance(value, str) and _TYPE_NAME.match(value):
        return value
    if isinstance(value, str) and value in TASK_TYPES:
        return value
    if allow_unknown:
        raise ValidationError("type", value, "an upper-case type name such as 'FOLLOW_UP_CALL'")
    raise ValidationError(
        "type",
        value,
        "one of " + ", ".join(TASK_TYPES) + " (for a type newer than this SDK, pass allow_unknown=True)",
    )


def _wire(field: str, value: object) -> tuple[str, datetime]:
    moment = to_aware_datetime(field, value)
    return (value.strip() if isinstance(value, str) else utc_z(moment)), moment


@request_body
@attrs.frozen(kw_only=True)
class TaskCreate:
    """A checked Create Task request (build it with :func:`build_task_create`).

    Source: POST /enterprise/api/lead/{lead_id}/task

    Attributes:
        lead_id: The lead's internal ID; goes in the path, never in the body.
        type: The task type (checked against :data:`TASK_TYPES` unless allowed otherwise).
        due_date: Wire string: as the caller wrote it, or UTC ``...Z`` from a datetime.
        notify_at: Wire string, or ``None`` (not sent: the server picks its default).
        customer_note: Timeline note, or ``None`` (not sent).
    """

    lead_id: int = attrs.field(metadata={"in_path": True})
    type: str
    due_date: str
    notify_at: str | None = None
    customer_note: str | None = None

    def body(self) -> dict[str, Any]:
        """The JSON body through the converter: the seed's key order, without unset fields.

        ``{"type": "FOLLOW_UP_CALL", "due_date": "2026-05-20T15:00:00Z", "customer_note": "..."}``
        """
        body: dict[str, Any] = BODY_CONVERTER.unstructure(self)
        return body


def build_task_create(
    *,
    lead_id: object,
    type: object,
    due_date: object,
    notify_at: object = None,
    customer_note: object = None,
    now: float,
    allow_unknown: bool = False,
) -> TaskCreate:
    """Check Create Task arguments; nothing is sent.

    Args:
        now: The current time, UTC epoch seconds, for the ``notify_at`` window.
        allow_unknown: Accept a ``type`` outside :data:`TASK_TYPES` (any upper-case
            ``WORD_WORD`` name), for values the server added after this release.

    Raises:
        ValidationError: the first bad field, with its value and what is allowed.
    """
    checked_lead = check_positive_id("lead_id", lead_id)
    checked_type = check_task_type(type, allow_unknown=allow_unknown)
    if due_date is None:
        raise ValidationError("due_date", None, "an ISO-8601 time with an offset (required)")
    due_wire, due = _wire("due_date", due_date)
    notify_wire: str | None = None
    if notify_at is not None:
        notify_wire, notify = _wire("notify_at", notify_at)
        now_text = datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds")
        if not notify.timestamp() > now or notify > due:
            raise ValidationError(
                "notify_at", notify_at, f"a time after now ({now_text}) and at or before due_date ({due_wire})"
            )
    note = None if customer_note is None else check_text("customer_note", customer_note)
    return TaskCreate(
        lead_id=checked_lead, type=checked_type, due_date=due_wire, notify_at=notify_wire, customer_note=note
    )


def matches_create(payload: TaskCreate, task: Task) -> bool:
    """Whether a listed task is the stored form of ``payload`` (reconciliation's matcher).

    Compared at the precision Superfone stores: ``type`` exactly, ``due_date`` (and ``notify_at``
    when it was sent) as the same instant to the millisecond in UTC, so a create sent with
    microseconds or any offset matches its read-back (``"...T15:00:00.123Z"``). The note is
    not returned by the API, so it cannot be matched.
    """
    if task.type != payload.type:
        return False
    if not same_millisecond(to_aware_datetime("due_date", payload.due_date), task.due_date):
        return False
    if payload.notify_at is not None:
        if task.notify_at is None:
            return False
        return same_millisecond(to_aware_datetime("notify_at", payload.notify_at), task.notify_at)
    return True


def _task_path(lead_id: int, suffix: str = "") -> str:
    return f"/enterprise/api/lead/{lead_id}/task{suffix}"


@attrs.frozen(kw_only=True)
class Tasks(CreatingResource):
    """Superfone tasks on a lead. Reach it as ``client.tasks``."""

    async def create(
        self,
        lead_id: int,
        *,
        type: str,
        due_date: datetime | str,
        notify_at: datetime | str | None = None,
        customer_note: str | None = None,
        dedupe_key: str | None = None,
        ledger: CreateLedger | None = None,
        allow_unknown: bool = False,
    ) -> Task:
        """Create a task on a lead; return it (with ``type_name``).

        Source: POST /enterprise/api/lead/{lead_id}/task

        Creating a non-reminder task completes the lead's other open non-reminder tasks
        (server rule); reminders are independent. Exactly once: an ambiguous failure is
        reconciled against the lead's task list (matched on ``type`` and ``due_date``, created
        after the first send; the note is not returned by the API, so it cannot be matched).

        Args:
            lead_id: The lead's internal ``id`` (from :meth:`Leads.get`), not its phone.
            type: ``FOLLOW_UP_CALL``, ``FIRST_CALL``, ``CALLBACK_REQUEST``, ``SITE_VISIT``,
                ``REMINDER`` or ``BOOKING`` (the docs' "currently allowed" list,
                :data:`TASK_TYPES`); another ``UPPER_SNAKE`` name with ``allow_unknown=True``.
            due_date: When it is due: an aware ``datetime`` (sent as UTC ``...Z``) or an ISO-8601
                string with an offset (sent as given).
            notify_at: When to notify, same forms; must satisfy now < notify_at <= due_date.
                Default (server): REMINDER at due_date, FIRST_CALL at once, others 10 minutes
                before due_date.
            customer_note: A note shown on the lead's timeline.
            dedupe_key: Your key for this write; a repeat returns the first task unsent.
            ledger: Records your job already created (default: the client's).
            allow_unknown: Send a ``type`` this SDK does not know (one the server added
                later); the server's answer decides (400 ``type "..." is not available for
                creation`` if it does not know it either).

        Raises:
            ValidationError: bad input, e.g. ``notify_at`` outside the window, or an unknown
                ``type`` without ``allow_unknown`` (nothing sent).
            BadRequestError: refused by the server (its message is kept word for word).
            NotFoundError: ``"Lead not found"``, or ``"Lead storage is full"`` (a 404 as documented).
            ReconciliationError: the create may have landed and the lookup could not tell.
        """
        payload = build_task_create(
            lead_id=lead_id,
            type=type,
            due_date=due_date,
            notify_at=notify_at,
            customer_note=customer_note,
            now=self.session.clock.time(),
            allow_unknown=allow_unknown,
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
    ) -> Task:
        """Send a checked :class:`TaskCreate` (see :meth:`create`).

        Source: POST /enterprise/api/lead/{lead_id}/task

        Args:
            payload: From :func:`build_task_create`.
            dedupe_key: See :meth:`create`.
            ledger: See :meth:`create`.
            check_first: The write may already have been sent (after a crash): look it up
                before sending.
            sent_at: When it was first sent (aware); default now. Tasks created before it (less
                the reconcile skew) are not taken for it.
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
    ) -> Coroutine[Any, Any, Task]:
        """The coroutine of :meth:`create_checked` (no coroutine layer of its own)."""
        request = Request(
            method="POST",
            path=_task_path(payload.lead_id),
            operation="tasks.create",
            kind=RequestKind.CREATE,
            json=payload.body(),
        )
        sent_at = sent_at or datetime.fromtimestamp(self.session.clock.time(), UTC)

        async def lookup() -> builtins.list[Candidate[Hashable, Task]]:
            threshold = sent_at.timestamp() - self.reconcile.skew
            found: builtins.list[Candidate[Hashable, Task]] = []
            async for task in self.iter(payload.lead_id):
                if task.created_at is not None and task.created_at.timestamp() < threshold:
                    break  # newest first: everything further is older than the write
                if matches_create(payload, task):
                    found.append(Candidate(id=task.id, created_at=task.created_at, value=task))
            return found

        async def known(task_id: Hashable) -> Task:
            async for task in self.iter(payload.lead_id):
                if task.id == task_id:
                    return task
            raise ValidationError("dedupe_key", dedupe_key, "a key whose task still exists")

        return send_create_once(
            cast(HTTPSession, self.session),  # duck-typed: send, emit, url_for
            request,
            decode=lambda response: structure(self.converter, response.data, Task, response),
            lookup=lookup,
            id_of=lambda task: task.id,
            ledger=ledger or self.ledger,
            settings=self.reconcile,
            sent_at=sent_at,
            dedupe_key=dedupe_key,
            known=known,
            check_first=check_first,
            last_sent_at=last_sent_at,
        )

    async def complete(self, lead_id: int) -> Task:
        """Complete the lead's newest open (PENDING) task, reminders included; return it.

        Source: POST /enterprise/api/lead/{lead_id}/task/complete

        Not idempotent (a second call closes the next open task), so it is retried only when
        the failure shows it did not happen; an ambiguous failure raises with
        ``outcome=MAYBE_PROCESSED``.

        Raises:
            ValidationError: bad ``lead_id`` (nothing sent).
            BadRequestError: ``"No open task found for this lead"``.
            NotFoundError: ``"Lead not found"``.
        """
        lead_id = check_positive_id("lead_id", lead_id)
        response = await self.session.send(
            Request(
                method="POST",
                path=_task_path(lead_id, "/complete"),
                operation="tasks.complete",
                kind=RequestKind.CREATE,
            )
        )
        return structure(self.converter, response.data, Task, response)

    async def list(self, lead_id: int, *, page: int = 1, page_size: int = MAX_PAGE_SIZE) -> Page[Task]:
        """One page of a lead's tasks, PENDING and COMPLETE, newest created first.

        Source: GET /enterprise/api/lead/{lead_id}/task?page=&page_size=

        Args:
            lead_id: The lead's internal ``id``.
            page: 1-based page number.
            page_size: Tasks per page, 1 to 20 (the server's maximum).

        Raises:
            ValidationError: ``page_size`` outside 1..20 or ``page`` < 1 (nothing sent).
            NotFoundError: the lead does not exist or belongs to another account.
        """
        lead_id = check_positive_id("lead_id", lead_id)
        page = check_int_range("page", page, 1)
        page_size = check_int_range("page_size", page_size, 1, MAX_PAGE_SIZE)
        response = await self.session.send(
            Request(
                method="GET",
                path=_task_path(lead_id),
                operation="tasks.list",
                kind=RequestKind.READ,
                params={"page": page, "page_size": page_size},
            )
        )
        return structure(self.converter, response.data, Page[Task], response)

    def iter(self, lead_id: int, *, page_size: int = MAX_PAGE_SIZE, start_page: int = 1) -> PageIterator[Task]:
        """Every task of a lead, newest first, one page request at a time; resumable.

        Source: GET /enterprise/api/lead/{lead_id}/task?page=&page_size= (page after page)

        The returned :class:`PageIterator` yields tasks (``async for task in it``) or whole
        pages (``async for page in it.pages()``); ``it.resume_page`` after each page is the
        ``start_page`` that resumes without missing a task (``None`` when done).

        Args:
            lead_id: The lead's internal ``id``.
            page_size: Tasks per page, 1 to 20.
            start_page: The page to start from (1-based), e.g. a saved ``resume_page``.

        Raises:
            ValidationError: bad ``lead_id``, ``page_size`` or ``start_page`` (nothing sent).
            NotFoundError: (while iterating) the lead does not exist.
        """
        lead_id = check_positive_id("lead_id", lead_id)
        page_size = check_int_range("page_size", page_size, 1, MAX_PAGE_SIZE)

        async def fetch(number: int) -> Page[Task]:
            return await self.list(lead_id, page=number, page_size=page_size)

        return PageIterator(fetch=fetch, start_page=start_page)

    async def create_many(
        self,
        rows: Iterable[Mapping[str, Any] | tuple[int, Mapping[str, Any]]]
        | AsyncIterable[Mapping[str, Any] | tuple[int, Mapping[str, Any]]],
        *,
        concurrency: int = 10,
        key: Callable[[Mapping[str, Any]], Hashable | None] | None = None,
        on_result: Callable[[RowResult[Task]], Awaitable[None] | None] | None = None,
        time_budget: float | None = None,
        ledger: CreateLedger | None = None,
        journal: Journal | None = None,
        allow_unknown: bool = False,
    ) -> BulkSummary:
        """Create many tasks; rows of one lead are created in input order, leads in parallel.

        Source: POST /enterprise/api/lead/{lead_id}/task per row (reconciled as in :meth:`create`).

        Order matters here: creating a non-reminder task completes the lead's open one, so the
        lead's last non-reminder row must land last. Rows are keyed by ``lead_id`` unless
        ``key`` says otherwise.

        Args:
            rows: Mappings with ``lead_id``, ``type``, ``due_date`` and optionally
                ``notify_at``, ``customer_note``, ``dedupe_key``; or ``(row_number, mapping)``.
            concurrency: Rows in flight at once (across leads).
            key: Ordering key (default: the row's ``lead_id``).
            on_result: Receives each :class:`~crm_core.RowResult` (``value`` is the task).
            time_budget: Seconds after which no new row starts.
            ledger: Records this job already created.
            journal: A :class:`~crm_core.Journal` making the job resumable.
            allow_unknown: Accept row ``type`` values outside :data:`TASK_TYPES` (see
                :meth:`create`); otherwise such a row fails alone with a ``ValidationError``.
        """

        def build(row: Mapping[str, Any]) -> TaskCreate:
            if not _ROW_FIELDS.issuperset(row):
                unknown = sorted(row.keys() - _ROW_FIELDS)
                allowed = "one of the fields " + ", ".join((*CREATE_FIELDS, "dedupe_key"))
                raise ValidationError(unknown[0], row[unknown[0]], allowed)
            fields = {name: row.get(name) for name in CREATE_FIELDS}
            return build_task_create(**fields, now=self.session.clock.time(), allow_unknown=allow_unknown)

        def create(payload: TaskCreate, options: CreateOptions) -> Coroutine[Any, Any, Task]:
            return self._send_create(
                payload, options.dedupe_key, options.ledger, options.check_first, options.sent_at, options.last_sent_at
            )

        def by_lead(row: Mapping[str, Any]) -> Hashable | None:
            lead = row.get("lead_id")
            return lead if isinstance(lead, Hashable) else None

        return await bulk_create(
            rows,
            build=build,
            create=create,
            id_of=lambda task: task.id,
            ledger=ledger or self.ledger,
            concurrency=concurrency,
            key=key or by_lead,
            on_result=on_result,
            time_budget=time_budget,
            journal=journal,
            clock=self.session.clock,
            settle=self.reconcile.settle_period(self.session.timeout) if self.reconcile.enabled else 0.0,
        )
