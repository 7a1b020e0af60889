"""Superfone tasks: ``/enterprise/api/lead/{lead_id}/task`` (superfone_api.md §4, seed 004)."""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Hashable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import attrs
import cattrs

from crm_core import BulkSummary, HTTPSession, Request, RequestKind, RowResult, ValidationError
from crm_core._bulk import CreateOptions, bulk_create
from crm_core._decode import same_instant, structure
from crm_core._journal import Journal
from crm_core._pagination import iter_pages
from crm_core._reconcile import Candidate, CreateLedger, ReconcileSettings, send_create_once
from crm_core._validation import check_choice, check_int_range, check_positive_id, check_text, to_aware_datetime

from ._models import Page, Task

__all__ = ["CREATE_FIELDS", "TASK_TYPES", "TaskCreate", "Tasks", "build_task_create", "utc_z"]

TASK_TYPES = ("FOLLOW_UP_CALL", "FIRST_CALL", "CALLBACK_REQUEST", "SITE_VISIT", "REMINDER", "BOOKING")
"""Values of ``type`` on create."""
CREATE_FIELDS = ("lead_id", "type", "due_date", "notify_at", "customer_note")
"""The arguments of :meth:`Tasks.create` (``lead_id`` is the path parameter)."""
MAX_PAGE_SIZE = 20


def utc_z(value: datetime) -> str:
    """An aware datetime as Superfone writes times: UTC with ``Z`` (``2026-05-20T15:00:00Z``)."""
    moment = value.astimezone(UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond // 1000:03d}"
    return text + "Z"


def _wire(field: str, value: object) -> tuple[str, datetime]:
    moment = to_aware_datetime(field, value)
    return (value.strip() if isinstance(value, str) else utc_z(moment)), moment


@attrs.frozen(kw_only=True)
class TaskCreate:
    """A checked Create Task body; times are wire strings. ``lead_id`` goes in the path."""

    lead_id: int
    type: str
    due_date: str
    notify_at: str | None = None
    customer_note: str | None = None

    def body(self) -> dict[str, str]:
        """The JSON body, in the seed's key order, without unset fields."""
        fields = {
            "type": self.type,
            "due_date": self.due_date,
            "notify_at": self.notify_at,
            "customer_note": self.customer_note,
        }
        return {k: v for k, v in fields.items() if v is not None}


def build_task_create(
    *,
    lead_id: object,
    type: object,
    due_date: object,
    notify_at: object = None,
    customer_note: object = None,
    now: float,
) -> TaskCreate:
    """Check Create Task arguments; nothing is sent.

    Args:
        now: The current time, UTC epoch seconds, for the ``notify_at`` window.

    Raises:
        ValidationError: the first bad field, with its value and what is allowed.
    """
    checked_lead = check_positive_id("lead_id", lead_id)
    checked_type = check_choice("type", type, TASK_TYPES)
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


def _task_path(lead_id: int, suffix: str = "") -> str:
    return f"/enterprise/api/lead/{lead_id}/task{suffix}"


class Tasks:
    """Superfone tasks on a lead. Reach it as ``client.tasks``."""

    def __init__(
        self, http: HTTPSession, converter: cattrs.Converter, *, ledger: CreateLedger, reconcile: ReconcileSettings
    ) -> None:
        self._http = http
        self._converter = converter
        self._ledger = ledger
        self._reconcile = reconcile

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
                ``REMINDER`` or ``BOOKING``.
            due_date: When it is due: an aware ``datetime`` (sent as UTC ``...Z``) or an ISO-8601
                string with an offset (sent as given).
            notify_at: When to notify, same forms; must satisfy now < notify_at <= due_date.
                Default (server): REMINDER at due_date, FIRST_CALL at once, others 10 minutes
                before due_date.
            customer_note: A note shown on the lead's timeline.
            dedupe_key: Your key for this write; a repeat returns the first task unsent.
            ledger: Records your job already created (default: the client's).

        Raises:
            ValidationError: bad input, e.g. ``notify_at`` outside the window (nothing sent).
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
            now=self._http.clock.time(),
        )
        return await self.create_checked(payload, dedupe_key=dedupe_key, ledger=ledger)

    async def create_checked(
        self,
        payload: TaskCreate,
        *,
        dedupe_key: str | None = None,
        ledger: CreateLedger | None = None,
        check_first: bool = False,
        sent_at: datetime | None = None,
    ) -> Task:
        """Send a checked :class:`TaskCreate` (see :meth:`create`).

        Source: POST /enterprise/api/lead/{lead_id}/task
        """
        request = Request(
            method="POST",
            path=_task_path(payload.lead_id),
            operation="tasks.create",
            kind=RequestKind.CREATE,
            json=payload.body(),
        )
        sent_at = sent_at or datetime.fromtimestamp(self._http.clock.time(), UTC)
        due = to_aware_datetime("due_date", payload.due_date)

        async def lookup() -> builtins.list[Candidate[Hashable, Task]]:
            threshold = sent_at.timestamp() - self._reconcile.skew
            found: builtins.list[Candidate[Hashable, Task]] = []
            async for task in self.iter(payload.lead_id):
                if task.created_at is not None and task.created_at.timestamp() < threshold:
                    break  # newest first: everything further is older than the write
                if task.type == payload.type and same_instant(due, task.due_date, precision=0.001):
                    found.append(Candidate(id=task.id, created_at=task.created_at, value=task))
            return found

        async def known(task_id: Hashable) -> Task:
            async for task in self.iter(payload.lead_id):
                if task.id == task_id:
                    return task
            raise ValidationError("dedupe_key", dedupe_key, "a key whose task still exists")

        return await send_create_once(
            self._http,
            request,
            decode=lambda response: structure(self._converter, response.data, Task, response),
            lookup=lookup,
            id_of=lambda task: task.id,
            ledger=ledger or self._ledger,
            settings=self._reconcile,
            sent_at=sent_at,
            dedupe_key=dedupe_key,
            known=known,
            check_first=check_first,
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
        response = await self._http.send(
            Request(
                method="POST",
                path=_task_path(lead_id, "/complete"),
                operation="tasks.complete",
                kind=RequestKind.CREATE,
            )
        )
        return structure(self._converter, response.data, Task, response)

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
        response = await self._http.send(
            Request(
                method="GET",
                path=_task_path(lead_id),
                operation="tasks.list",
                kind=RequestKind.READ,
                params={"page": page, "page_size": page_size},
            )
        )
        return structure(self._converter, response.data, Page[Task], response)

    async def iter(self, lead_id: int, *, page_size: int = MAX_PAGE_SIZE) -> AsyncIterator[Task]:
        """Every task of a lead, newest first, fetching pages as needed.

        Source: GET /enterprise/api/lead/{lead_id}/task (all pages)
        """

        async def fetch(number: int) -> tuple[builtins.list[Task], bool]:
            page = await self.list(lead_id, page=number, page_size=page_size)
            return page.rows, page.current_page < page.total_pages

        async for task in iter_pages(fetch):
            yield task

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
        """

        def build(row: Mapping[str, Any]) -> TaskCreate:
            unknown = sorted(set(row) - set(CREATE_FIELDS) - {"dedupe_key"})
            if unknown:
                raise ValidationError(unknown[0], row[unknown[0]], "one of the fields " + ", ".join(CREATE_FIELDS))
            fields = {name: row.get(name) for name in CREATE_FIELDS}
            return build_task_create(**fields, now=self._http.clock.time())

        async def create(payload: TaskCreate, options: CreateOptions) -> Task:
            return await self.create_checked(
                payload,
                dedupe_key=options.dedupe_key,
                ledger=options.ledger,
                check_first=options.check_first,
                sent_at=options.sent_at,
            )

        def by_lead(row: Mapping[str, Any]) -> Hashable | None:
            lead = row.get("lead_id")
            return lead if isinstance(lead, Hashable) else None

        return await bulk_create(
            rows,
            build=build,
            create=create,
            id_of=lambda task: task.id,
            ledger=ledger or self._ledger,
            concurrency=concurrency,
            key=key or by_lead,
            on_result=on_result,
            time_budget=time_budget,
            journal=journal,
            clock=self._http.clock,
        )
