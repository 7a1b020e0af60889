"""Lofty response models (attrs, frozen). Wire names are camelCase; fields are snake_case."""

from __future__ import annotations

from datetime import datetime

import attrs

from crm_core._converter import WireModel

__all__ = ["Task"]


@attrs.frozen(kw_only=True, slots=False)
class Task(WireModel):
    """A V2 task or appointment (schema ``TaskResponseV2``).

    Source: GET /v2.0/tasks, GET /v2.0/tasks/{taskId}, GET /v2.0/tasks/my-tasks.
    Every field is optional because the API may omit any of them. Timestamps are
    timezone-aware; Lofty renders them with a literal ``GMT`` suffix, read as UTC.
    """

    id: int | None = None
    """Task ID (int64); tasks and appointments share one ID space."""
    lead_id: int | None = None
    """The lead the task belongs to."""
    creator_id: int | None = None
    """User ID of the creator."""
    content: str | None = None
    """Description of the task."""
    type: str | None = None
    """``Call``, ``Email``, ``Text``, ``Other`` or ``Appointment`` (server's spelling kept)."""
    start_at: datetime | None = None
    """Start time (aware)."""
    end_at: datetime | None = None
    """End time, the deadline of a regular task (aware)."""
    time_zone_code: str | None = None
    """IANA zone the task was entered in."""
    all_day: bool | None = None
    """Whether this is an all-day event."""
    finish_flag: bool | None = None
    """Whether the task is finished."""
    overdue_flag: bool | None = None
    """Whether the task is past its deadline and still open."""
    finish_time: datetime | None = None
    """When it was finished (aware), ``None`` while open."""
    create_time: datetime | None = None
    """When it was created (aware)."""
    last_update: datetime | None = None
    """When it last changed (aware)."""
    lead_name: str | None = None
    """The lead's full name."""
    lead_email: str | None = None
    """The lead's email."""
    lead_phone: str | None = None
    """The lead's phone."""
    lead_first_name: str | None = None
    """The lead's first name."""
    lead_last_name: str | None = None
    """The lead's last name."""
    reminder_type: int | None = None
    """Reminder type code (undocumented values)."""
    assigned_role: str | None = None
    """``Agent`` or ``Assistant``."""
    assigned_user: str | None = None
    """Name of the assigned user."""
    team_id: int | None = None
    """Team ID."""
    subject: str | None = None
    """Subject (email tasks)."""
    body: str | None = None
    """Body (email tasks)."""
    assigned_user_id: int | None = None
    """User ID of the assignee."""
    pipeline_id: int | None = None
    """Pipeline of the lead."""
    query_info: str | None = None
    """Opaque query info."""
    lead_user_id: int | None = None
    """The lead's user ID."""
    query_id: int | None = None
    """Opaque query ID."""
    address: str | None = None
    """Address, for appointments."""
