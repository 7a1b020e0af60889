"""Superfone Enterprise models (attrs, frozen). Wire names are snake_case, as the API's.

Every model keeps the response keys it does not know in ``extra`` (``{wire_name: value}``), so
a field Superfone adds is not lost, and unstructuring gives it back. A client built with
``strict_responses=True`` (tests) refuses such keys instead, so API drift fails a test.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar

import attrs

from ._wire import EXTRA

__all__ = [
    "Address",
    "AssigneeUser",
    "Label",
    "Lead",
    "LeadGroup",
    "LeadGroupRef",
    "LeadLabel",
    "LeadStage",
    "LeadStageRef",
    "Page",
    "Phone",
    "Product",
    "SourceType",
    "Task",
]

T = TypeVar("T")


@attrs.frozen(kw_only=True, slots=False)
class Page(Generic[T]):
    """One page of a list endpoint (``data`` of ``GET ...?page=&page_size=``).

    Attributes:
        rows: The items.
        total_pages: Pages in all.
        current_page: This page's number, 1-based.
        page_size: Items per page requested.
        total_items: Items in all.
    """

    rows: list[T]
    total_pages: int
    current_page: int
    page_size: int
    total_items: int

    extra: dict[str, Any] = attrs.field(factory=dict, metadata=EXTRA)
    """Response keys this SDK does not know, kept as sent (``{wire_name: value}``)."""

    @property
    def next_page(self) -> int | None:
        """The number of the page after this one, or ``None`` on the last page (a resume cursor)."""
        return self.current_page + 1 if self.current_page < self.total_pages else None


@attrs.frozen(kw_only=True, slots=False)
class Task:
    """A task on a lead (Create Task, Complete Task, List Tasks).

    Source: POST/GET /enterprise/api/lead/{lead_id}/task, POST .../task/complete.
    Times are aware datetimes (the API sends ISO-8601 UTC with milliseconds).
    """

    id: int
    """Task ID."""
    org_id: int | None = None
    """Organisation ID."""
    customer_id: int
    """The lead's internal ID (= ``lead_id``)."""
    title: str | None = None
    """Title, often ``None``."""
    type: str
    """``FOLLOW_UP_CALL``, ``FIRST_CALL``, ``CALLBACK_REQUEST``, ``SITE_VISIT``, ``REMINDER``, ``BOOKING``."""
    type_name: str | None = None
    """Display name of the type; only the create response carries it."""
    due_date: datetime
    """When the task is due (aware)."""
    notify_at: datetime | None = None
    """When the assignee is (or was) notified (aware)."""
    notify: bool | None = None
    """Whether a notification is scheduled."""
    task_status: str
    """``PENDING`` (open) or ``COMPLETE``."""
    status: str | None = None
    """``ACTIVE`` while pending, ``COMPLETE`` once completed."""
    assignee_user_id: int | None = None
    """The assigned team member (copied from the lead's assignee)."""
    created_by: int | None = None
    """Creator's user ID."""
    updated_by: int | None = None
    """Last updater's user ID, ``None`` on a fresh task."""
    created_at: datetime | None = None
    """Creation time (aware)."""
    updated_at: datetime | None = None
    """Last change (aware)."""
    extra: dict[str, Any] = attrs.field(factory=dict, metadata=EXTRA)
    """Response keys this SDK does not know, kept as sent (``{wire_name: value}``)."""


@attrs.frozen(kw_only=True, slots=False)
class Address:
    """A lead's address object."""

    text: str | None = None
    additional: str | None = None
    initials: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    extra: dict[str, Any] = attrs.field(factory=dict, metadata=EXTRA)
    """Response keys this SDK does not know, kept as sent (``{wire_name: value}``)."""


@attrs.frozen(kw_only=True, slots=False)
class Phone:
    """One of a lead's phones (E.164)."""

    phone: str
    customer_id: int | None = None
    extra: dict[str, Any] = attrs.field(factory=dict, metadata=EXTRA)
    """Response keys this SDK does not know, kept as sent (``{wire_name: value}``)."""


@attrs.frozen(kw_only=True, slots=False)
class LeadLabel:
    """A label on a lead."""

    id: int
    title: str
    colour: str | None = None
    text_colour: str | None = None
    status: str | None = None
    extra: dict[str, Any] = attrs.field(factory=dict, metadata=EXTRA)
    """Response keys this SDK does not know, kept as sent (``{wire_name: value}``)."""


@attrs.frozen(kw_only=True, slots=False)
class LeadStageRef:
    """The lead's stage, as embedded in a lead."""

    id: int
    title: str
    org_id: int | None = None
    status: str | None = None
    type: str | None = None
    position: int | None = None
    extra: dict[str, Any] = attrs.field(factory=dict, metadata=EXTRA)
    """Response keys this SDK does not know, kept as sent (``{wire_name: value}``)."""


@attrs.frozen(kw_only=True, slots=False)
class LeadGroupRef:
    """The lead's group, as embedded in a lead."""

    id: int
    title: str
    org_id: int | None = None
    status: str | None = None
    type: str | None = None
    extra: dict[str, Any] = attrs.field(factory=dict, metadata=EXTRA)
    """Response keys this SDK does not know, kept as sent (``{wire_name: value}``)."""


@attrs.frozen(kw_only=True, slots=False)
class AssigneeUser:
    """The team member a lead is assigned to."""

    id: int
    first_name: str | None = None
    last_name: str | None = None
    extra: dict[str, Any] = attrs.field(factory=dict, metadata=EXTRA)
    """Response keys this SDK does not know, kept as sent (``{wire_name: value}``)."""


@attrs.frozen(kw_only=True, slots=False)
class Lead:
    """A lead (contact, customer). Source: GET /enterprise/api/lead?phone=, POST /enterprise/api/lead."""

    id: int
    """Internal lead ID: the ``lead_id`` of the task endpoints."""
    org_id: int | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: list[str] | None = None
    website: str | None = None
    business_name: str | None = None
    additional_info: str | None = None
    city: str | None = None
    deal_value: float | None = None
    status: str | None = None
    source: str | None = None
    source_type: str | None = None
    address: Address | None = None
    assignee_user_id: int | None = None
    lead_stage_id: int | None = None
    lead_group_id: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    phones: list[Phone] = attrs.field(factory=list)
    """Every phone, the primary first."""
    labels: list[LeadLabel] = attrs.field(factory=list)
    lead_stage: LeadStageRef | None = None
    lead_group: LeadGroupRef | None = None
    assignee_user: AssigneeUser | None = None
    extra: dict[str, Any] = attrs.field(factory=dict, metadata=EXTRA)
    """Response keys this SDK does not know, kept as sent (``{wire_name: value}``)."""


@attrs.frozen(kw_only=True, slots=False)
class SourceType:
    """A system source type (GET /enterprise/api/source-type); ``title`` goes in ``source_type``."""

    id: int
    title: str
    extra: dict[str, Any] = attrs.field(factory=dict, metadata=EXTRA)
    """Response keys this SDK does not know, kept as sent (``{wire_name: value}``)."""


@attrs.frozen(kw_only=True, slots=False)
class Label:
    """A label (GET /enterprise/api/label); ``title`` goes in ``add_labels``/``remove_labels``."""

    id: int
    org_id: int | None = None
    title: str
    colour: str | None = None
    text_colour: str | None = None
    status: str | None = None
    created_by: int | None = None
    updated_by: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    extra: dict[str, Any] = attrs.field(factory=dict, metadata=EXTRA)
    """Response keys this SDK does not know, kept as sent (``{wire_name: value}``)."""


@attrs.frozen(kw_only=True, slots=False)
class LeadStage:
    """A lead stage (GET /enterprise/api/lead-stage); ``title`` goes in ``lead_stage_name``."""

    id: int
    org_id: int | None = None
    title: str
    status: str | None = None
    type: str | None = None
    """``INITIAL``, ``FINAL_POSITIVE``, ``FINAL_NEGATIVE`` or ``NONE``."""
    position: int | None = None
    is_editable: bool | None = None
    identifier: Any = None
    created_by: int | None = None
    updated_by: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    extra: dict[str, Any] = attrs.field(factory=dict, metadata=EXTRA)
    """Response keys this SDK does not know, kept as sent (``{wire_name: value}``)."""


@attrs.frozen(kw_only=True, slots=False)
class LeadGroup:
    """A lead group (GET /enterprise/api/lead-group); ``title`` goes in ``lead_group_name``."""

    id: int
    org_id: int | None = None
    title: str
    status: str | None = None
    type: str | None = None
    created_by: int | None = None
    updated_by: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    extra: dict[str, Any] = attrs.field(factory=dict, metadata=EXTRA)
    """Response keys this SDK does not know, kept as sent (``{wire_name: value}``)."""


@attrs.frozen(kw_only=True, slots=False)
class Product:
    """A product (GET /enterprise/api/product); ``title`` goes in ``add_products``."""

    id: int
    org_id: int | None = None
    title: str
    description: str | None = None
    status: str | None = None
    price: float | None = None
    currency: str | None = None
    """ISO 4217, e.g. ``INR``."""
    link: str | None = None
    images: Any = None
    created_by: int | None = None
    updated_by: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    extra: dict[str, Any] = attrs.field(factory=dict, metadata=EXTRA)
    """Response keys this SDK does not know, kept as sent (``{wire_name: value}``)."""
