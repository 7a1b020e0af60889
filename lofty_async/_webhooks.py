"""Lofty webhooks: subscriptions (``/v1.0/webhook``) and typed deliveries (lofty_api.md §9).

Lofty documents only the common payload fields ``teamId`` and ``listId``; a Lead Info delivery
has been observed to carry ``updatedLead[].leadId``. The event models read what is known, keep
the whole payload in ``raw``, and ignore unknown keys. Lofty documents no signature: protect the
callback URL (e.g. a secret path segment) and re-read records through the API before acting.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Awaitable, Callable, Hashable, Mapping
from datetime import UTC, datetime
from typing import Any, cast

import attrs
from aiohttp import web

from crm_core import HTTPSession, Request, RequestKind, ValidationError
from crm_core._converter import WireModel
from crm_core._decode import structure
from crm_core._reconcile import Candidate, send_create_once
from crm_core._resource import CreatingResource
from crm_core._validation import check_int_range, check_positive_id, check_text

__all__ = [
    "WEBHOOK_EVENTS",
    "AppointmentEvent",
    "LeadInfoEvent",
    "OtherEvent",
    "TaskEvent",
    "UpdatedLead",
    "Webhook",
    "WebhookEvent",
    "WebhookSubscribe",
    "Webhooks",
    "parse_event",
    "webhook_handler",
]

WEBHOOK_EVENTS: Mapping[int, str] = {
    1: "Agent Info",
    2: "Lead Info",
    3: "Lead Activity",
    4: "Listing Alert",
    5: "Transaction",
    6: "Call",
    7: "Email",
    8: "Text",
    9: "Note",
    10: "Task",
    11: "Appointment",
    12: "Pipeline Change",
}
"""Event types by ``listId``."""


@attrs.frozen(kw_only=True, slots=False)
class Webhook(WireModel):
    """A subscription (schema ``WebhookResponse``). Source: POST /v1.0/webhook, GET /v1.0/webhooks."""

    subscribe_id: int
    team_id: int
    list_id: int
    """Event type, see :data:`WEBHOOK_EVENTS`."""
    callback_url: str
    vendor_id: int | None = None
    limit: int | None = None
    """Events per batch (1..5000)."""
    permission_mode: int | None = None
    """0 assignment-based (default), 1 ownership-based."""


@attrs.frozen(kw_only=True)
class WebhookSubscribe:
    """A checked ``POST /v1.0/webhook`` body (schema ``WebhookRequest``)."""

    list_id: int
    callback_url: str
    limit: int | None = None
    permission_mode: int | None = None


@attrs.frozen(kw_only=True, slots=False)
class UpdatedLead:
    """A lead named in a Lead Info delivery."""

    lead_id: int


@attrs.frozen(kw_only=True, slots=False)
class LeadInfoEvent:
    """Lead created, updated or deleted (``listId`` 2)."""

    team_id: int | None
    list_id: int
    updated_lead: list[UpdatedLead]
    raw: Mapping[str, Any] = attrs.field(repr=False)


@attrs.frozen(kw_only=True, slots=False)
class TaskEvent:
    """Task created, updated, finished or deleted (``listId`` 10); details in ``raw`` (undocumented)."""

    team_id: int | None
    list_id: int
    raw: Mapping[str, Any] = attrs.field(repr=False)


@attrs.frozen(kw_only=True, slots=False)
class AppointmentEvent:
    """Appointment created, updated, finished or deleted (``listId`` 11); details in ``raw``."""

    team_id: int | None
    list_id: int
    raw: Mapping[str, Any] = attrs.field(repr=False)


@attrs.frozen(kw_only=True, slots=False)
class OtherEvent:
    """Any other event type (``listId`` 1, 3-9, 12)."""

    team_id: int | None
    list_id: int
    raw: Mapping[str, Any] = attrs.field(repr=False)


WebhookEvent = LeadInfoEvent | TaskEvent | AppointmentEvent | OtherEvent


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def parse_event(payload: Mapping[str, Any]) -> WebhookEvent:
    """One delivery item as a typed event.

    Raises:
        ValueError: no usable ``listId``.
    """
    list_id = _int(payload.get("listId"))
    if list_id is None:
        raise ValueError(f"a webhook event needs an integer listId, got {payload.get('listId')!r}")
    team_id = _int(payload.get("teamId"))
    raw = dict(payload)
    if list_id == 2:
        items = payload.get("updatedLead") or []
        leads = [
            UpdatedLead(lead_id=lead)
            for item in (items if isinstance(items, list) else [])
            if isinstance(item, Mapping) and (lead := _int(item.get("leadId"))) is not None
        ]
        if not leads and _int(payload.get("leadId")) is not None:
            leads = [UpdatedLead(lead_id=int(payload["leadId"]))]
        return LeadInfoEvent(team_id=team_id, list_id=list_id, updated_lead=leads, raw=raw)
    if list_id == 10:
        return TaskEvent(team_id=team_id, list_id=list_id, raw=raw)
    if list_id == 11:
        return AppointmentEvent(team_id=team_id, list_id=list_id, raw=raw)
    return OtherEvent(team_id=team_id, list_id=list_id, raw=raw)


def webhook_handler(
    callback: Callable[[WebhookEvent], Awaitable[None]],
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """An aiohttp.web handler that parses Lofty deliveries and awaits ``callback`` per event.

    A delivery may be one JSON object or an array of them (batches up to the subscription's
    ``limit``). Answers 200 ``{"received": n}``, or 400 for a body that is not JSON events.

    Example::

        app.router.add_post("/hooks/lofty/<secret>", webhook_handler(on_event))
    """

    async def handler(request: web.Request) -> web.Response:
        try:
            body = json.loads(await request.read())
        except (UnicodeDecodeError, json.JSONDecodeError):
            return web.json_response({"error": "body is not JSON"}, status=400)
        items = body if isinstance(body, list) else [body]
        try:
            events = [parse_event(item) for item in items if isinstance(item, Mapping)]
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        if len(events) != len(items):
            return web.json_response({"error": "every item must be a JSON object"}, status=400)
        for event in events:
            await callback(event)
        return web.json_response({"received": len(events)})

    return handler


@attrs.frozen(kw_only=True)
class Webhooks(CreatingResource):
    """Webhook subscriptions. Reach it as ``client.webhooks``."""

    async def subscribe(
        self, *, list_id: int, callback_url: str, limit: int | None = None, permission_mode: int | None = None
    ) -> Webhook:
        """Subscribe ``callback_url`` to one event type.

        Source: POST /v1.0/webhook

        Args:
            list_id: Event type 1..12 (:data:`WEBHOOK_EVENTS`; 2 Lead Info, 10 Task, 11 Appointment).
            callback_url: An ``https://`` URL (HTTP is rejected by Lofty).
            limit: Events per batch, 1..5000 (server default 100).
            permission_mode: 0 assignment-based (default) or 1 ownership-based.

        Raises:
            ValidationError: bad input (nothing sent).
            BadRequestError: ``WEBHOOK_TYPE_ERROR``, ``WEBHOOK_CALLBACK_URL_INVALID``,
                ``WEBHOOK_EXCEED_LIMIT``.
        """
        list_id = check_int_range("list_id", list_id, 1, 12)
        url = check_text("callback_url", callback_url)
        if not url.startswith("https://"):
            raise ValidationError("callback_url", callback_url, "an https:// URL (Lofty rejects HTTP)")
        body = WebhookSubscribe(
            list_id=list_id,
            callback_url=url,
            limit=None if limit is None else check_int_range("limit", limit, 1, 5000),
            permission_mode=None
            if permission_mode is None
            else check_int_range("permission_mode", permission_mode, 0, 1),
        )
        request = Request(
            method="POST",
            path="/v1.0/webhook",
            operation="webhooks.subscribe",
            kind=RequestKind.CREATE,
            json=self.converter.unstructure(body),
        )

        async def lookup() -> builtins.list[Candidate[Hashable, Webhook]]:
            return [
                Candidate(id=hook.subscribe_id, created_at=None, value=hook)
                for hook in await self.list()
                if hook.list_id == list_id and hook.callback_url == url
            ]

        return await send_create_once(
            cast(HTTPSession, self.session),  # duck-typed: send, emit, url_for
            request,
            decode=lambda response: structure(self.converter, response.data, Webhook, response),
            lookup=lookup,
            id_of=lambda hook: hook.subscribe_id,
            ledger=self.ledger,
            settings=self.reconcile,
            sent_at=datetime.now(UTC),
        )

    async def list(self) -> builtins.list[Webhook]:
        """Every subscription of the caller. Source: GET /v1.0/webhooks (a bare array)."""
        response = await self.session.send(
            Request(method="GET", path="/v1.0/webhooks", operation="webhooks.list", kind=RequestKind.READ)
        )
        return structure(self.converter, response.data, builtins.list[Webhook], response)

    async def delete(self, subscribe_id: int) -> None:
        """Remove a subscription. Source: DELETE /v1.0/webhook/{subscribeId}.

        Raises:
            ValidationError: bad ``subscribe_id`` (nothing sent).
            NotFoundError: ``WEBHOOK_DELETE_NOT_EXIST``.
            PermissionDeniedError: ``WEBHOOK_DELETE_NO_AUTHORITY`` (another team's subscription).
        """
        subscribe_id = check_positive_id("subscribe_id", subscribe_id)
        await self.session.send(
            Request(
                method="DELETE",
                path=f"/v1.0/webhook/{subscribe_id}",
                operation="webhooks.delete",
                kind=RequestKind.IDEMPOTENT,
            )
        )
