"""Lofty Calendar V2: ``/v2.0/calendar`` (lofty_api.md §6, seed 001).

Calendar IDs are composite strings (``"12345-task"``, ``"12345-appointment"``) passed back
verbatim; their numeric part is the V2 ``taskId``.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Hashable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import attrs
import cattrs

from crm_core import HTTPSession, Request, RequestKind, Response, ValidationError
from crm_core._converter import WireModel, format_epoch_ms, same_instant_at_precision
from crm_core._decode import envelope_key, structure
from crm_core._pagination import CursorIterator, page_number_fetch
from crm_core._reconcile import Candidate, send_create_once
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

from ._ids import unusable
from ._tasks import message_of

__all__ = [
    "CALENDAR_TYPES",
    "TASK_WAYS",
    "AvailableMeetings",
    "Calendar",
    "CalendarCreate",
    "CalendarCreateResult",
    "CalendarEvent",
    "CalendarIterator",
    "CalendarPage",
    "CalendarUpdate",
    "MeetingSlot",
    "build_calendar_create",
    "build_calendar_query",
    "build_calendar_update",
    "build_meeting_query",
    "check_calendar_id",
    "matches_calendar_create",
]

CALENDAR_TYPES = ("TASK", "APPOINTMENT")
"""Values of ``type`` (case-insensitive on the wire)."""
TASK_WAYS = ("Call", "Email", "Text", "Other")
"""Values of ``taskWay`` (TASK only)."""
_ROLES = ("Agent", "Assistant")
_CALENDAR_ID = re.compile(r"^[1-9]\d*-(task|appointment)$")
MAX_PAGE_SIZE = 500
MAX_MEETING_RANGE = timedelta(days=90)


@attrs.frozen(kw_only=True, slots=False)
class CalendarCreateResult(WireModel):
    """What POST /v2.0/calendar answers under ``data`` (schema ``CalendarCreateResult``).

    Attributes:
        id: The composite calendar ID (``"12345-task"``).
        type: ``TASK`` or ``APPOINTMENT``.
        message: The server's message.
    """

    id: str
    type: str | None = None
    message: str | None = None


@attrs.frozen(kw_only=True, slots=False)
class CalendarEvent(WireModel):
    """A task or appointment in the calendar (schema ``CalendarItemV2``). Source: GET /v2.0/calendar."""

    id: str
    """Composite calendar ID (``"12345-task"``)."""
    type: str | None = None
    """``TASK`` or ``APPOINTMENT``."""
    task_id: int | None = None
    """The V2 ``taskId`` (numeric part of ``id``)."""
    source_type: int | None = None
    """Source type code (undocumented values)."""
    content: str | None = None
    """Description."""
    title: str | None = None
    """Title, generated from the lead's name and the event type."""
    finished: bool | None = None
    """Whether it is finished."""
    start_at: datetime | None = None
    """Start (aware)."""
    end_at: datetime | None = None
    """End (aware)."""
    start_at_ms: int | None = None
    """Start, epoch milliseconds (as sent by the server)."""
    end_at_ms: int | None = None
    """End, epoch milliseconds (as sent by the server)."""
    time_zone_code: str | None = None
    """IANA zone."""
    lead_id: int | None = None
    """The lead."""


@attrs.frozen(kw_only=True, slots=False)
class CalendarPage(WireModel):
    """One page of GET /v2.0/calendar (``data``).

    Attributes:
        total: Events matching the query.
        page: This page's number, 0-based.
        page_size: Events per page.
        items: The events.
    """

    total: int
    page: int
    page_size: int
    items: list[CalendarEvent] = attrs.field(factory=list)


@attrs.frozen(kw_only=True, slots=False)
class MeetingSlot(WireModel):
    """A free meeting slot (schema ``AvailableMeetingSlotV2``)."""

    start_time: datetime
    end_time: datetime
    start_time_ms: int | None = None
    end_time_ms: int | None = None


@attrs.frozen(kw_only=True, slots=False)
class AvailableMeetings(WireModel):
    """GET /v2.0/calendar/meetings/available ``data``: ``total`` slots, the first ``limit`` listed."""

    total: int
    slots: list[MeetingSlot] = attrs.field(factory=list)


class CalendarIterator(CursorIterator[CalendarEvent, int]):
    """Events from :meth:`Calendar.iter`; ``async for`` over it.

    Attributes:
        cursor: The 0-based page number to resume from (see :class:`~crm_core.CursorIterator`).
        at_page_end: The event just yielded was the last of its page.
        exhausted: Every page has been read.
        pages_fetched: Requests made so far.
    """

    @property
    def page(self) -> int:
        """Where to resume: pass it back as ``calendar.iter(..., page=...)``. Same as :attr:`cursor`."""
        return self.cursor


def check_calendar_id(calendar_id: object) -> str:
    """A composite calendar ID, e.g. ``"12345-task"`` (sent verbatim)."""
    if not isinstance(calendar_id, str) or not _CALENDAR_ID.match(calendar_id):
        raise ValidationError(
            "calendar_id", calendar_id, "a calendar ID such as '12345-task' or '12345-appointment' (from create/list)"
        )
    return calendar_id


def _ms(field: str, value: object) -> int:
    if isinstance(value, datetime):
        return format_epoch_ms(to_aware_datetime(field, value), field=field)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError(field, value, "epoch milliseconds (an integer >= 0) or an aware datetime")
    return value


def _resolved(text: str | None, ms: int | None) -> datetime | None:
    """The time the server will use: the string form wins over milliseconds (documented)."""
    if text is not None:
        return to_aware_datetime("time", text)
    if ms is not None:
        return datetime.fromtimestamp(ms / 1000, UTC)
    return None


STORED_PRECISION = timedelta(seconds=1)
"""Lofty keeps calendar times in whole seconds (read back as ``...:00GMT`` / whole ``*Ms``)."""


def _same_time(sent: datetime, text: datetime | None, ms: int | None) -> bool:
    if text is not None:
        return same_instant_at_precision(sent, text, precision=STORED_PRECISION)
    if ms is not None:
        return same_instant_at_precision(sent, datetime.fromtimestamp(ms / 1000, UTC), precision=STORED_PRECISION)
    return False


def matches_calendar_create(event: CalendarEvent, *, kind: str, content: str, start: datetime, end: datetime) -> bool:
    """Whether ``event`` is the record a create of ``kind``/``content``/``start``/``end`` makes.

    Times compare at Lofty's stored precision (whole seconds; truncated or rounded, as the
    docs do not say which: [GAP]), whatever offset they were sent with. The string time wins
    over the ``*Ms`` one, as on the way in.
    """
    return (
        (event.type or "").upper() == kind.upper()
        and event.content == content
        and _same_time(start, event.start_at, event.start_at_ms)
        and _same_time(end, event.end_at, event.end_at_ms)
    )


def _created(response: Response, converter: cattrs.Converter) -> CalendarCreateResult:
    result = structure(converter, envelope_key(response, "data"), CalendarCreateResult, response)
    if not _CALENDAR_ID.match(result.id):
        raise unusable(response, f"data.id={result.id!r} is not a calendar ID such as '12345-task'")
    return result


@attrs.frozen(kw_only=True)
class CalendarCreate:
    """A checked ``POST /v2.0/calendar`` body (schema ``CalendarCreateRequest``), in the seed's
    key order. Times are wire values: ISO-8601 strings with an offset, and epoch milliseconds."""

    type: str
    content: str
    lead_id: int
    time_zone_code: str
    start_at: str | None = None
    end_at: str | None = None
    start_at_ms: int | None = None
    end_at_ms: int | None = None
    task_way: str | None = None
    assigned_role: str | None = None
    address: str | None = None

    @property
    def start(self) -> datetime:
        """The start the server will use (the string form wins over milliseconds)."""
        resolved = _resolved(self.start_at, self.start_at_ms)
        assert resolved is not None  # checked by build_calendar_create
        return resolved

    @property
    def end(self) -> datetime:
        """The end the server will use."""
        resolved = _resolved(self.end_at, self.end_at_ms)
        assert resolved is not None
        return resolved


@attrs.frozen(kw_only=True)
class CalendarUpdate:
    """A checked ``PUT /v2.0/calendar/{calendarId}`` body; only set fields are sent."""

    content: str | None = None
    start_at: str | None = None
    end_at: str | None = None
    start_at_ms: int | None = None
    end_at_ms: int | None = None
    time_zone_code: str | None = None
    reminder_type: str | None = None
    reminder_time: str | None = None
    lead_id: int | None = None
    address: str | None = None


def build_calendar_create(
    *,
    type: object,
    content: object,
    lead_id: object,
    time_zone_code: object,
    start_at: object = None,
    end_at: object = None,
    start_at_ms: object = None,
    end_at_ms: object = None,
    task_way: object = None,
    assigned_role: object = None,
    address: object = None,
    allow_unknown: bool = False,
) -> CalendarCreate:
    """Check Create Calendar Event arguments and build the body. Nothing is sent.

    Whether the times lie in the future is the server's check (its clock decides).

    Args:
        allow_unknown: Accept a ``task_way`` outside :data:`TASK_WAYS` (any non-blank string),
            for a value Lofty adds later (its docs call the list "currently allowed").

    Raises:
        ValidationError: the first bad field.
    """
    if not isinstance(type, str) or type.upper() not in CALENDAR_TYPES:
        raise ValidationError("type", type, "TASK or APPOINTMENT")
    kind = type.upper()
    checked_content = check_text("content", content)
    checked_lead = check_positive_id("lead_id", lead_id)
    zone = check_time_zone("time_zone_code", time_zone_code)
    start_text = None if start_at is None else wire_time("start_at", start_at)
    end_text = None if end_at is None else wire_time("end_at", end_at)
    start_ms = None if start_at_ms is None else _ms("start_at_ms", start_at_ms)
    end_ms = None if end_at_ms is None else _ms("end_at_ms", end_at_ms)
    start = _resolved(start_text, start_ms)
    end = _resolved(end_text, end_ms)
    if start is None:
        raise ValidationError("start_at", None, "a start time: start_at (ISO-8601 with offset) or start_at_ms")
    if end is None:
        raise ValidationError("end_at", None, "an end time: end_at (ISO-8601 with offset) or end_at_ms")
    if end < start:
        raise ValidationError("end_at", end_text if end_text is not None else end_ms, "a time at or after the start")
    way = role = None
    if kind == "TASK":
        if task_way is None:
            raise ValidationError("task_way", None, "one of Call, Email, Text, Other (required for a TASK)")
        if not allow_unknown and isinstance(task_way, str) and task_way not in TASK_WAYS:
            raise ValidationError(
                "task_way",
                task_way,
                "one of Call, Email, Text, Other (Lofty's currently allowed values; pass "
                "allow_unknown=True to send another one deliberately)",
            )
        way = check_choice("task_way", task_way, TASK_WAYS, allow_unknown=allow_unknown)
        if assigned_role is not None:
            role = check_choice("assigned_role", assigned_role, _ROLES)
    else:
        if task_way is not None:
            raise ValidationError("task_way", task_way, "no task_way on an APPOINTMENT (TASK only)")
        if assigned_role is not None:
            raise ValidationError("assigned_role", assigned_role, "no assigned_role on an APPOINTMENT (TASK only)")
    # Documented "only for APPOINTMENT", yet the documented TASK example sends one too:
    # accepted and sent; Lofty applies it to appointments.
    place = None if address is None else check_text("address", address)
    return CalendarCreate(
        type=type,
        content=checked_content,
        lead_id=checked_lead,
        time_zone_code=zone,
        start_at=start_text,
        end_at=end_text,
        start_at_ms=start_ms,
        end_at_ms=end_ms,
        task_way=way,
        assigned_role=role,
        address=place,
    )


def build_calendar_query(
    *,
    lead_id: int | None,
    start_time: datetime | str | None,
    end_time: datetime | str | None,
    start_time_ms: int | None,
    end_time_ms: int | None,
    time_zone_code: str | None,
    include_finished: bool | None,
    page_size: int | None,
    sort: str | None,
    desc: bool | None,
    source_types: Sequence[int] | None,
) -> dict[str, Any]:
    """Check GET /v2.0/calendar filters; return the query parameters (``None`` values are dropped).

    Raises:
        ValidationError: no range bound, or a bad filter (nothing sent).
    """
    if start_time is None and end_time is None and start_time_ms is None and end_time_ms is None:
        raise ValidationError("start_time", None, "a start_time or end_time (Lofty requires at least one)")
    return {
        "leadId": None if lead_id is None else check_positive_id("lead_id", lead_id),
        "startTime": None if start_time is None else wire_time("start_time", start_time),
        "endTime": None if end_time is None else wire_time("end_time", end_time),
        "startTimeMs": None if start_time_ms is None else _ms("start_time_ms", start_time_ms),
        "endTimeMs": None if end_time_ms is None else _ms("end_time_ms", end_time_ms),
        "timeZoneCode": None if time_zone_code is None else check_time_zone("time_zone_code", time_zone_code),
        "includeFinished": include_finished,
        "pageSize": None if page_size is None else check_int_range("page_size", page_size, 1, MAX_PAGE_SIZE),
        "sort": sort,
        "desc": desc,
        "sourceType": None if source_types is None else ",".join(str(int(t)) for t in source_types),
    }


def build_calendar_update(
    *,
    content: object = None,
    start_at: object = None,
    end_at: object = None,
    start_at_ms: object = None,
    end_at_ms: object = None,
    time_zone_code: object = None,
    reminder_type: object = None,
    reminder_time: object = None,
    lead_id: object = None,
    address: object = None,
) -> CalendarUpdate:
    """Check Update Calendar Event arguments and build the body (only given fields are sent).

    Raises:
        ValidationError: nothing to change, a bad field, or an end before the start.
    """
    update = CalendarUpdate(
        content=None if content is None else check_text("content", content),
        start_at=None if start_at is None else wire_time("start_at", start_at),
        end_at=None if end_at is None else wire_time("end_at", end_at),
        start_at_ms=None if start_at_ms is None else _ms("start_at_ms", start_at_ms),
        end_at_ms=None if end_at_ms is None else _ms("end_at_ms", end_at_ms),
        time_zone_code=None if time_zone_code is None else check_time_zone("time_zone_code", time_zone_code),
        reminder_type=None if reminder_type is None else check_text("reminder_type", reminder_type),
        reminder_time=None if reminder_time is None else check_text("reminder_time", reminder_time),
        lead_id=None if lead_id is None else check_positive_id("lead_id", lead_id),
        address=None if address is None else check_text("address", address),
    )
    if update == CalendarUpdate():
        raise ValidationError("update", {}, "at least one field to change")
    start = _resolved(update.start_at, update.start_at_ms)
    end = _resolved(update.end_at, update.end_at_ms)
    if start is not None and end is not None and end < start:
        shown = update.end_at if update.end_at is not None else update.end_at_ms
        raise ValidationError("end_at", shown, "a time at or after the start")
    return update


def build_meeting_query(
    *,
    start_time: object = None,
    end_time: object = None,
    start_time_ms: object = None,
    end_time_ms: object = None,
    time_zone_code: object = None,
    limit: object = 10,
) -> dict[str, Any]:
    """Check GET /v2.0/calendar/meetings/available arguments; return the query parameters.

    Raises:
        ValidationError: a missing bound, end not after start, a range over 90 days, or
            ``limit`` < 1.
    """
    params: dict[str, Any] = {
        "startTime": None if start_time is None else wire_time("start_time", start_time),
        "endTime": None if end_time is None else wire_time("end_time", end_time),
        "startTimeMs": None if start_time_ms is None else _ms("start_time_ms", start_time_ms),
        "endTimeMs": None if end_time_ms is None else _ms("end_time_ms", end_time_ms),
        "timeZoneCode": None if time_zone_code is None else check_time_zone("time_zone_code", time_zone_code),
        "limit": check_int_range("limit", limit, 1),
    }
    start = _resolved(params["startTime"], params["startTimeMs"])
    end = _resolved(params["endTime"], params["endTimeMs"])
    if start is None:
        raise ValidationError("start_time", None, "start_time or start_time_ms (required)")
    if end is None:
        raise ValidationError("end_time", None, "end_time or end_time_ms (required)")
    if end <= start:
        raise ValidationError("end_time", params["endTime"] or params["endTimeMs"], "a time after the start")
    if end - start > MAX_MEETING_RANGE:
        raise ValidationError("end_time", params["endTime"] or params["endTimeMs"], "at most 90 days after the start")
    return params


@attrs.frozen(kw_only=True)
class Calendar(CreatingResource):
    """Lofty Calendar V2 (tasks and appointments). Reach it as ``client.calendar``."""

    async def create(
        self,
        *,
        type: str,
        content: str,
        lead_id: int,
        time_zone_code: str,
        start_at: datetime | str | None = None,
        end_at: datetime | str | None = None,
        start_at_ms: int | datetime | None = None,
        end_at_ms: int | datetime | None = None,
        task_way: str | None = None,
        assigned_role: str | None = None,
        address: str | None = None,
        dedupe_key: str | None = None,
        allow_unknown: bool = False,
    ) -> CalendarCreateResult:
        """Create a task or an appointment on a lead.

        Source: POST /v2.0/calendar  (answers ``{"data": {"id", "type", "message"}}``)

        Exactly once: after an ambiguous failure the lead's calendar around the event's time is
        listed (GET /v2.0/calendar, finished included) and matched on type, content, start and
        end before anything is re-sent.

        Args:
            type: ``TASK`` or ``APPOINTMENT`` (any case).
            content: Description.
            lead_id: The lead's ID.
            time_zone_code: IANA zone (required).
            start_at: Start, aware ``datetime`` or ISO-8601 with offset; wins over ``start_at_ms``.
            end_at: End, same forms; wins over ``end_at_ms``.
            start_at_ms: Start, epoch milliseconds (used when ``start_at`` is not given).
            end_at_ms: End, epoch milliseconds (used when ``end_at`` is not given).
            task_way: ``Call``, ``Email``, ``Text`` or ``Other`` (:data:`TASK_WAYS`, the values
                Lofty's docs call "currently allowed"); required for TASK, refused for
                APPOINTMENT.
            assigned_role: ``Agent`` or ``Assistant``; TASK only.
            address: Location (Lofty applies it to appointments).
            dedupe_key: Your key; a repeat returns the first result without sending.
            allow_unknown: Send a ``task_way`` outside :data:`TASK_WAYS` as given (any
                non-blank string), deliberately, for a value Lofty added after this release.
                Off by default so a typo is caught before sending.

        Raises:
            ValidationError: bad input (nothing sent).
            BadRequestError: refused by Lofty, e.g. a time in the past (``20012``).
            PermissionDeniedError: no access to the lead (``20017``).
            ReconciliationError: the create may have landed and the lookup could not tell.
        """
        payload = build_calendar_create(
            type=type,
            content=content,
            lead_id=lead_id,
            time_zone_code=time_zone_code,
            start_at=start_at,
            end_at=end_at,
            start_at_ms=start_at_ms,
            end_at_ms=end_at_ms,
            task_way=task_way,
            assigned_role=assigned_role,
            address=address,
            allow_unknown=allow_unknown,
        )
        request = Request(
            method="POST",
            path="/v2.0/calendar",
            operation="calendar.create",
            kind=RequestKind.CREATE,
            json=self.converter.unstructure(payload),
        )
        start, end = payload.start, payload.end

        async def lookup() -> builtins.list[Candidate[Hashable, CalendarCreateResult]]:
            found: builtins.list[Candidate[Hashable, CalendarCreateResult]] = []
            async for event in self.iter(
                lead_id=payload.lead_id,
                start_time=start - timedelta(minutes=1),
                end_time=end + timedelta(minutes=1),
                include_finished=True,
            ):
                if matches_calendar_create(event, kind=payload.type, content=payload.content, start=start, end=end):
                    result = CalendarCreateResult(id=event.id, type=event.type, message=None)
                    found.append(Candidate(id=event.id, created_at=None, value=result))
            return found

        async def known(calendar_id: Hashable) -> CalendarCreateResult:
            return CalendarCreateResult(id=str(calendar_id), type=payload.type.upper(), message=None)

        return await send_create_once(
            cast(HTTPSession, self.session),  # duck-typed: send, emit, url_for
            request,
            decode=lambda response: _created(response, self.converter),
            lookup=lookup,
            id_of=lambda result: result.id,
            ledger=self.ledger,
            settings=self.reconcile,
            sent_at=datetime.now(UTC),
            dedupe_key=dedupe_key,
            known=known,
        )

    async def list(
        self,
        *,
        start_time: datetime | str | None = None,
        end_time: datetime | str | None = None,
        start_time_ms: int | None = None,
        end_time_ms: int | None = None,
        lead_id: int | None = None,
        time_zone_code: str | None = None,
        include_finished: bool | None = None,
        page: int = 0,
        page_size: int | None = None,
        sort: str | None = None,
        desc: bool | None = None,
        source_types: Sequence[int] | None = None,
    ) -> CalendarPage:
        """One page of calendar events.

        Source: GET /v2.0/calendar  (answers ``{"data": {"total", "page", "pageSize", "items"}}``)

        Args:
            start_time: Range start, aware ``datetime`` or ISO-8601 with offset.
            end_time: Range end; at least one of the range bounds is required.
            start_time_ms: Range start, epoch milliseconds.
            end_time_ms: Range end, epoch milliseconds.
            lead_id: Only this lead's events.
            time_zone_code: IANA zone for the rendering.
            include_finished: Include finished events (server default: no).
            page: 0-based page number.
            page_size: Events per page, 1 to 500.
            sort: Sort field (server default ``startTime``).
            desc: Descending (server default true).
            source_types: Source type codes (sent comma-separated).

        Raises:
            ValidationError: no range bound, ``page`` < 0, ``page_size`` over 500 (nothing sent).
        """
        params = build_calendar_query(
            lead_id=lead_id,
            start_time=start_time,
            end_time=end_time,
            start_time_ms=start_time_ms,
            end_time_ms=end_time_ms,
            time_zone_code=time_zone_code,
            include_finished=include_finished,
            page_size=page_size,
            sort=sort,
            desc=desc,
            source_types=source_types,
        )
        params["page"] = check_int_range("page", page, 0)
        response = await self.session.send(
            Request(
                method="GET", path="/v2.0/calendar", operation="calendar.list", kind=RequestKind.READ, params=params
            )
        )
        return structure(self.converter, envelope_key(response, "data"), CalendarPage, response)

    def iter(
        self,
        *,
        start_time: datetime | str | None = None,
        end_time: datetime | str | None = None,
        start_time_ms: int | None = None,
        end_time_ms: int | None = None,
        lead_id: int | None = None,
        time_zone_code: str | None = None,
        include_finished: bool | None = None,
        page_size: int = 100,
        sort: str | None = None,
        desc: bool | None = None,
        source_types: Sequence[int] | None = None,
        page: int = 0,
    ) -> CalendarIterator:
        """Every calendar event in the range, page by page (see :meth:`list`); resumable.

        Source: GET /v2.0/calendar (all pages)

        Args:
            page: Resume from a saved :attr:`CalendarIterator.page` (0-based; 0: from the
                start). Page numbers shift if events in the range are added or removed
                meanwhile; idempotent handling covers the repeats.
            page_size: Events per request, 1 to 500. The other arguments are :meth:`list`'s.

        Returns:
            A :class:`CalendarIterator` (``async for``); its ``page`` is where to resume.

        Raises:
            ValidationError: bad ``page`` or ``page_size`` (at the call, nothing sent).
        """
        start = check_int_range("page", page, 0)
        check_int_range("page_size", page_size, 1, MAX_PAGE_SIZE)

        async def fetch(number: int) -> tuple[builtins.list[CalendarEvent], bool]:
            page = await self.list(
                start_time=start_time,
                end_time=end_time,
                start_time_ms=start_time_ms,
                end_time_ms=end_time_ms,
                lead_id=lead_id,
                time_zone_code=time_zone_code,
                include_finished=include_finished,
                page=number,
                page_size=page_size,
                sort=sort,
                desc=desc,
                source_types=source_types,
            )
            return page.items, (number + 1) * page_size < page.total

        return CalendarIterator(page_number_fetch(fetch), start)

    async def update(
        self,
        calendar_id: str,
        *,
        content: str | None = None,
        start_at: datetime | str | None = None,
        end_at: datetime | str | None = None,
        start_at_ms: int | datetime | None = None,
        end_at_ms: int | datetime | None = None,
        time_zone_code: str | None = None,
        reminder_type: str | None = None,
        reminder_time: str | None = None,
        lead_id: int | None = None,
        address: str | None = None,
    ) -> str:
        """Change some fields of an event; only the arguments given are sent.

        Source: PUT /v2.0/calendar/{calendarId}  (answers ``{"message": ...}``)

        Args:
            calendar_id: The composite ID, verbatim (``"12345-task"``).
            content: New description.
            start_at: New start (string form wins over ``start_at_ms``); must be in the future.
            end_at: New end.
            start_at_ms: New start, epoch milliseconds.
            end_at_ms: New end, epoch milliseconds.
            time_zone_code: New IANA zone.
            reminder_type: Reminder type (undocumented values, sent as given).
            reminder_time: Reminder time (undocumented format, sent as given).
            lead_id: Move the event to another lead.
            address: New location (appointments).

        Returns:
            The server's message.

        Raises:
            ValidationError: bad ID, nothing to change, or a bad field (nothing sent).
            BadRequestError: unknown ID or a past time (Lofty answers 400 ``20012``, not 404).
        """
        calendar_id = check_calendar_id(calendar_id)
        update = build_calendar_update(
            content=content,
            start_at=start_at,
            end_at=end_at,
            start_at_ms=start_at_ms,
            end_at_ms=end_at_ms,
            time_zone_code=time_zone_code,
            reminder_type=reminder_type,
            reminder_time=reminder_time,
            lead_id=lead_id,
            address=address,
        )
        body = self.converter.unstructure(update)
        response = await self.session.send(
            Request(
                method="PUT",
                path=f"/v2.0/calendar/{calendar_id}",
                operation="calendar.update",
                kind=RequestKind.IDEMPOTENT,
                json=body,
            )
        )
        return message_of(response.data)

    async def delete(self, calendar_id: str) -> str:
        """Delete an event. Source: DELETE /v2.0/calendar/{calendarId}.

        Raises:
            ValidationError: not a composite calendar ID (nothing sent).
            BadRequestError: unknown ID (400 ``20012``).
        """
        return await self._action(calendar_id, "DELETE", "", "calendar.delete")

    async def finish(self, calendar_id: str) -> str:
        """Mark an event completed. Source: POST /v2.0/calendar/{calendarId}/finish.

        Raises:
            ValidationError: not a composite calendar ID (nothing sent).
            BadRequestError: unknown ID (400 ``20012``).
        """
        return await self._action(calendar_id, "POST", "/finish", "calendar.finish")

    async def unfinish(self, calendar_id: str) -> str:
        """Reopen a completed event. Source: POST /v2.0/calendar/{calendarId}/unfinish.

        Raises:
            ValidationError: not a composite calendar ID (nothing sent).
            BadRequestError: unknown ID (400 ``20012``).
        """
        return await self._action(calendar_id, "POST", "/unfinish", "calendar.unfinish")

    async def _action(self, calendar_id: str, method: str, suffix: str, operation: str) -> str:
        calendar_id = check_calendar_id(calendar_id)
        response = await self.session.send(
            Request(
                method=method,
                path=f"/v2.0/calendar/{calendar_id}{suffix}",
                operation=operation,
                kind=RequestKind.IDEMPOTENT,
            )
        )
        return message_of(response.data)

    async def available_meetings(
        self,
        *,
        start_time: datetime | str | None = None,
        end_time: datetime | str | None = None,
        start_time_ms: int | None = None,
        end_time_ms: int | None = None,
        time_zone_code: str | None = None,
        limit: int = 10,
    ) -> AvailableMeetings:
        """Free meeting slots between two times, earliest first.

        Source: GET /v2.0/calendar/meetings/available

        Args:
            start_time: Range start (string form wins over ``start_time_ms``); must be in the future.
            end_time: Range end; after the start, at most 90 days later.
            start_time_ms: Range start, epoch milliseconds.
            end_time_ms: Range end, epoch milliseconds.
            time_zone_code: IANA zone for the rendering.
            limit: Most slots listed (>= 1); ``total`` counts them all.

        Raises:
            ValidationError: a missing bound, end not after start, range over 90 days, or
                ``limit`` < 1 (nothing sent).
        """
        params = build_meeting_query(
            start_time=start_time,
            end_time=end_time,
            start_time_ms=start_time_ms,
            end_time_ms=end_time_ms,
            time_zone_code=time_zone_code,
            limit=limit,
        )
        response = await self.session.send(
            Request(
                method="GET",
                path="/v2.0/calendar/meetings/available",
                operation="calendar.available_meetings",
                kind=RequestKind.READ,
                params=params,
            )
        )
        return structure(self.converter, envelope_key(response, "data"), AvailableMeetings, response)
