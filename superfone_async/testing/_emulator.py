"""A local, in-memory Superfone Enterprise API for tests and the ``--sandbox`` import.

What it models (superfone_api.md §2-§6, seed 004):

* ``x-api-key`` auth: a missing or wrong key -> 401 ``UnAuthorized, Please Provide Valid API
  Key`` (the missing-header message is configurable: SFVoPI uses another one);
* envelopes ``{"data": ..., "message": "success"}``, errors ``{"message": ...}`` with the
  documented messages word for word;
* tasks: creating a non-reminder task completes the lead's other open non-reminder tasks;
  ``complete`` closes the newest PENDING task, reminders included; ``notify_at`` defaults
  (REMINDER at due_date, FIRST_CALL now, others due_date - 10 minutes) and the window
  now < notify_at <= due_date; ``status`` ACTIVE -> COMPLETE with ``task_status``;
  ``type_name`` only in the create response; ``page_size`` over 20 -> 400;
* leads: upsert keyed on the primary phone, ``Customer not found``, ``Multiple lead groups found
  with this name``, get by any phone; a lead-storage quota switch (``Lead storage is full``);
* catalogs with ``text`` filters and pagination;
* times read back as documented: ISO 8601 UTC with milliseconds (``2026-05-20T15:00:00.000Z``);
* rate limiting off by default (Superfone documents none), switchable, without headers unless
  asked; faults from a :class:`~crm_core.emulator.FaultPlan` (``late-visible`` hides a new task
  from the task list).

Messages the docs do not give ([GAP]) are marked ``# GAP`` below; they are plausible guesses.
"""

from __future__ import annotations

import calendar
import itertools
import json
import math
import os
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from crm_core.emulator import (
    CORE_KEY,
    CompactStore,
    EmulatorCore,
    EmulatorError,
    FaultPlan,
    FixedWindowRateLimit,
    StateLog,
    serve,
    state_sync,
)

__all__ = ["SANDBOX_API_KEY", "SuperfoneEmulator", "sandbox_lead_ids", "sandbox_lead_phone"]

SANDBOX_API_KEY = "sandbox-superfone-api-key"
"""The key the sandbox accepts (``x-api-key``)."""

TASK_TYPES = ("FOLLOW_UP_CALL", "FIRST_CALL", "CALLBACK_REQUEST", "SITE_VISIT", "REMINDER", "BOOKING")
INVALID_KEY = "UnAuthorized, Please Provide Valid API Key"
ORG_ID = 42
API_USER = 1
_FIRST_LEAD = 12345
_FIRST_NAMES = ["Asha", "Rohan", "Priya", "Vikram", "Meera", "Arjun", "Kavya", "Siddharth", "Ananya", "Farhan"]
_LAST_NAMES = ["Kumar", "Sharma", "Iyer", "Reddy", "Nair", "Gupta", "Khan", "Menon", "Das", "Joshi"]
_CITIES = ["Bengaluru", "Mumbai", "Pune", "Hyderabad", "Chennai", "Delhi"]


def sandbox_lead_ids(count: int = 60) -> list[int]:
    """Lead IDs the sandbox knows (deterministic; the example files use them)."""
    return [_FIRST_LEAD + 11 * i for i in range(count)]


def sandbox_lead_phone(lead_id: int) -> str:
    """The primary phone of a sandbox lead."""
    return f"+9180000{(lead_id - _FIRST_LEAD) // 11:05d}"


def _iso(moment: datetime) -> str:
    """Superfone's read-back form: ISO 8601 UTC with milliseconds, ``2026-05-20T15:00:00.000Z``
    (superfone_api.md §2; fractions below the millisecond are cut)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _iso_to_ms(text: Any) -> int:
    """Epoch ms of a ``YYYY-MM-DDTHH:MM:SS.mmmZ`` string (ValueError for any other form)."""
    if not isinstance(text, str) or len(text) != 24 or text[10] != "T" or text[19] != "." or text[23] != "Z":
        raise ValueError(f"not a Superfone time: {text!r}")
    parts = (int(text[0:4]), int(text[5:7]), int(text[8:10]), int(text[11:13]), int(text[14:16]), int(text[17:19]))
    if parts[0] < 1000:
        raise ValueError(f"not a Superfone time: {text!r}")
    number = calendar.timegm((*parts, 0, 0, 0)) * 1000 + int(text[20:23])
    if _ms_to_iso(number) != text:
        raise ValueError(f"not a Superfone time: {text!r}")
    return number


def _ms_to_iso(number: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(number // 1000)) + f".{number % 1000:03d}Z"


_ISO_MS = (_iso_to_ms, _ms_to_iso)


def _task_store() -> CompactStore:
    return CompactStore(
        [
            ("id", "int"),
            ("org_id", "enum:kind"),
            ("customer_id", "int"),
            ("title", "text"),
            ("type", "enum:kind"),
            ("due_date", _ISO_MS),
            ("notify_at", _ISO_MS),
            ("notify", "enum:kind"),
            ("task_status", "enum:kind"),
            ("status", "enum:kind"),
            ("assignee_user_id", "enum:kind"),
            ("created_by", "enum:kind"),
            ("updated_by", "enum:kind"),
            ("created_at", _ISO_MS),
            ("updated_at", _ISO_MS),
        ],
        index_on="customer_id",
    )


def _parse(value: str) -> datetime | None:
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _fail(status: int, message: str) -> EmulatorError:
    return EmulatorError(status, {"message": message})


def _ok(data: Any) -> web.Response:
    return web.json_response({"data": data, "message": "success"})


class SuperfoneEmulator:
    """The in-memory Superfone. Build it, then serve :meth:`app` (or use :meth:`serve`).

    Args:
        api_keys: Accepted keys.
        leads: Lead IDs to seed (default :func:`sandbox_lead_ids`).
        rate_limit: Per-key fixed windows; default off (Superfone documents no limits).
        faults: Fault plan, or ``None``.
        lead_quota: Most leads the account may hold; creating one more answers 404
            ``Lead storage is full`` (``None``: no quota).
        lead_storage_full: Answer 404 ``Lead storage is full`` to task creation too (the seed
            lists it there; its meaning is undocumented).
        missing_key_message: Message for a request without ``x-api-key``.
        clock: Wall-clock source, UTC epoch seconds.
        state_path: JSON-lines file of every change, replayed on start (survives a crash).
        log_bodies: Keep every logged request's headers (key masked) and body in
            ``core.requests`` (the pytest fixtures switch this on; the sandbox leaves it off).
        max_logged: How many requests ``core.requests`` keeps.
        fsync_every: State-log lines between fsyncs (each line reaches the OS before the answer).
        fsync_interval: Seconds between state-log fsyncs at most.

    Attributes:
        leads: Lead records by ID (wire shape plus ``_``-prefixed internals).
        tasks: Task records by ID (wire shape), in a :class:`~crm_core.emulator.CompactStore`
            (values are fresh dicts). Times read back as the docs show them: ISO 8601 UTC with
            milliseconds (``2026-05-20T15:00:00.000Z``), whatever precision the request used.
        core: The shared middleware (request log, faults, rate limit).
    """

    def __init__(
        self,
        *,
        api_keys: Iterable[str] = (SANDBOX_API_KEY,),
        leads: Iterable[int] | None = None,
        rate_limit: FixedWindowRateLimit | None = None,
        faults: FaultPlan | None = None,
        lead_quota: int | None = None,
        lead_storage_full: bool = False,
        missing_key_message: str = INVALID_KEY,
        clock: Callable[[], float] = time.time,
        state_path: str | os.PathLike[str] | None = None,
        log_bodies: bool = False,
        max_logged: int = 10_000,
        fsync_every: int = 1000,
        fsync_interval: float = 1.0,
    ) -> None:
        self.api_keys = set(api_keys)
        self.clock = clock
        self.lead_quota = lead_quota
        self.lead_storage_full = lead_storage_full
        self.missing_key_message = missing_key_message
        self.leads: dict[int, dict[str, Any]] = {}
        self.tasks: CompactStore = _task_store()
        self._task_ids = itertools.count(4567)
        self._lead_ids = itertools.count(90_001)
        self.users = {
            678: {"id": 678, "first_name": "Ravi", "last_name": "Patel", "phone": "+919800000678"},
            679: {"id": 679, "first_name": "Neha", "last_name": "Verma", "phone": "+919800000679"},
        }
        stamp = "2026-01-05T09:00:00.000Z"
        self.source_types = [
            {"id": i, "title": t}
            for i, t in enumerate(
                [
                    "CSV_UPLOAD",
                    "FACEBOOK_INTEGRATION",
                    "PHONE_CONTACT",
                    "WHATSAPP_MESSAGE",
                    "WHATSAPP_INTEGRATION",
                    "PABBLY",
                    "OTHERS",
                ],
                start=1,
            )
        ]
        audit = {"created_by": 678, "updated_by": None, "created_at": stamp, "updated_at": stamp}
        self.labels = [
            {
                "id": 17 + i,
                "org_id": ORG_ID,
                "title": title,
                "colour": colour,
                "text_colour": "#ffffff",
                "status": "ACTIVE",
                **audit,
            }
            for i, (title, colour) in enumerate(
                [
                    ("Hot", "#ff5722"),
                    ("Warm", "#ffc107"),
                    ("Cold", "#2196f3"),
                    ("VIP", "#9c27b0"),
                    ("Hot Lead - Mumbai", "#e91e63"),
                ]
            )
        ]
        self.lead_stages = [
            {
                "id": 9 + i,
                "org_id": ORG_ID,
                "title": title,
                "status": "ACTIVE",
                "type": kind,
                "position": i + 1,
                "is_editable": i not in (0,),
                "identifier": None,
                **audit,
            }
            for i, (title, kind) in enumerate(
                [
                    ("New Lead", "INITIAL"),
                    ("Qualified", "NONE"),
                    ("Site Visit Done", "NONE"),
                    ("Won", "FINAL_POSITIVE"),
                    ("Lost", "FINAL_NEGATIVE"),
                ]
            )
        ]
        self.lead_groups = [
            {"id": 3 + i, "org_id": ORG_ID, "title": title, "status": "ACTIVE", "type": kind, **audit}
            for i, (title, kind) in enumerate(
                [
                    ("Inbound", None),
                    ("Outbound", None),
                    ("Referral", "partner"),
                    ("Channel Partners", None),
                    ("Channel Partners", "legacy"),
                ]
            )
        ]
        self.products: list[dict[str, Any]] = [
            {
                "id": 101 + i,
                "org_id": ORG_ID,
                "title": title,
                "description": description,
                "status": "ACTIVE",
                "price": price,
                "currency": "INR",
                "link": None,
                "images": {},
                **audit,
            }
            for i, (title, description, price) in enumerate(
                [
                    ("2BHK Tower A", "Two-bedroom flat, east facing", 8_500_000),
                    ("3BHK Tower B", "Three-bedroom flat with balcony", 12_500_000),
                    ("Villa Plot", None, 25_000_000),
                ]
            )
        ]
        for lead_id in sandbox_lead_ids() if leads is None else leads:
            self._seed_lead(lead_id)
        if rate_limit is None:
            rate_limit = FixedWindowRateLimit(limit=100, window=60, headers=False, enabled=False, clock=clock)
        self.core = EmulatorCore(
            credential_of=lambda request: request.headers.get("x-api-key", request.remote or ""),
            throttle_body={"message": "Too Many Requests"},  # GAP: no 429 is documented
            rate_limit=rate_limit,
            faults=faults,
            api_prefix="/enterprise/",
            authenticate=self._authenticate,
            log_bodies=log_bodies,
            max_logged=max_logged,
        )
        self._state = (
            None if state_path is None else StateLog(state_path, fsync_every=fsync_every, fsync_interval=fsync_interval)
        )
        if self._state is not None:
            self._replay()

    # -- state ----------------------------------------------------------------------------

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def _seed_lead(self, lead_id: int) -> None:
        n = (lead_id - _FIRST_LEAD) // 11 if lead_id >= _FIRST_LEAD else lead_id
        first, last = _FIRST_NAMES[n % 10], _LAST_NAMES[(n // 10) % 10]
        user_id = 678 if n % 3 else 679
        phone = sandbox_lead_phone(lead_id) if lead_id >= _FIRST_LEAD else f"+9170000{lead_id % 100000:05d}"
        self.leads[lead_id] = self._lead_record(
            lead_id, phone, first_name=first, last_name=last, city=_CITIES[n % len(_CITIES)], assignee=user_id
        )

    def _lead_record(
        self,
        lead_id: int,
        phone: str,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        city: str | None = None,
        assignee: int | None = None,
    ) -> dict[str, Any]:
        stamp = _iso(self._now())
        stage = self.lead_stages[0]
        return {
            "id": lead_id,
            "org_id": ORG_ID,
            "first_name": first_name,
            "last_name": last_name,
            "email": [f"{(first_name or 'lead').lower()}.{(last_name or str(lead_id)).lower()}@example.in"],
            "website": None,
            "business_name": None,
            "additional_info": None,
            "city": city,
            "deal_value": None,
            "status": "ACTIVE",
            "source": "website-form",
            "source_type": "OTHERS",
            "address": {"text": None, "additional": None, "initials": None, "latitude": None, "longitude": None},
            "assignee_user_id": assignee,
            "lead_stage_id": stage["id"],
            "lead_group_id": None,
            "created_at": stamp,
            "updated_at": stamp,
            "_phones": [phone],
            "_labels": [],
            "_products": [],
            "_notes": [],
        }

    def lead_tasks(self, lead_id: int) -> list[dict[str, Any]]:
        """The lead's task records, oldest first."""
        return sorted(self.tasks.select(lead_id), key=lambda t: t["id"])

    def open_tasks(self, lead_id: int) -> list[dict[str, Any]]:
        """The lead's PENDING tasks, oldest first."""
        return [t for t in self.lead_tasks(lead_id) if t["task_status"] == "PENDING"]

    def _log(self, op: str, record: dict[str, Any]) -> None:
        if self._state is not None:
            self._state.append(op, record)

    def _replay(self) -> None:
        assert self._state is not None
        last_task, last_lead = 4566, 90_000
        for op, record in self._state.replay():
            if op == "task":
                self.tasks[record["id"]] = record
                last_task = max(last_task, record["id"])
            elif op == "lead":
                self.leads[record["id"]] = record
                last_lead = max(last_lead, record["id"])
        self._task_ids = itertools.count(last_task + 1)
        self._lead_ids = itertools.count(last_lead + 1)

    def _put_task(self, record: dict[str, Any]) -> None:
        self._log("task", record)
        self.tasks[record["id"]] = record

    def _put_lead(self, record: dict[str, Any]) -> None:
        self._log("lead", record)
        self.leads[record["id"]] = record

    # -- app ------------------------------------------------------------------------------

    def app(self) -> web.Application:
        """The aiohttp application serving this state."""
        app = web.Application(middlewares=[self.core.middleware])
        app[CORE_KEY] = self.core
        base = "/enterprise/api"
        app.router.add_post(f"{base}/lead/{{lead_id}}/task/complete", self._complete)
        app.router.add_post(f"{base}/lead/{{lead_id}}/task", self._create_task)
        app.router.add_get(f"{base}/lead/{{lead_id}}/task", self._list_tasks)
        app.router.add_post(f"{base}/lead", self._upsert)
        app.router.add_get(f"{base}/lead", self._get_lead)
        for path, rows in (
            ("source-type", self.source_types),
            ("label", self.labels),
            ("lead-stage", self.lead_stages),
            ("lead-group", self.lead_groups),
            ("product", self.products),
        ):
            app.router.add_get(f"{base}/{path}", self._catalog(rows))
        if self._state is not None:
            app.cleanup_ctx.append(state_sync(self._state))
        return app

    def close(self) -> None:
        """fsync and close the state log (serving does this on shutdown; safe to call twice)."""
        if self._state is not None:
            self._state.close()

    def visible(self, record: dict[str, Any]) -> bool:
        """Whether reads see ``record`` yet (a ``late-visible`` fault hides a new task for a while)."""
        hidden_until = record.get("_visible_at")
        return hidden_until is None or hidden_until <= self.clock()

    @asynccontextmanager
    async def serve(self, *, port: int = 0) -> AsyncIterator[str]:
        """Serve on loopback in the running loop; yield the base URL (no ``/superfone`` prefix)."""
        async with serve(self.app(), port=port) as url:
            yield url

    def _authenticate(self, request: web.Request) -> EmulatorError | None:
        key = request.headers.get("x-api-key")
        if key is None:
            return _fail(401, self.missing_key_message)
        if key not in self.api_keys:
            return _fail(401, INVALID_KEY)
        return None

    # -- rendering ------------------------------------------------------------------------

    def render_lead(self, record: dict[str, Any]) -> dict[str, Any]:
        """A lead as Get Lead returns it."""
        lead = {k: v for k, v in record.items() if not k.startswith("_")}
        lead["phones"] = [{"phone": p, "customer_id": record["id"]} for p in record["_phones"]]
        labels = {label["id"]: label for label in self.labels}
        lead["labels"] = [
            {k: labels[i][k] for k in ("id", "title", "colour", "text_colour", "status")} for i in record["_labels"]
        ]
        stage = next((s for s in self.lead_stages if s["id"] == record["lead_stage_id"]), None)
        lead["lead_stage"] = (
            None if stage is None else {k: stage[k] for k in ("id", "title", "org_id", "status", "type", "position")}
        )
        group = next((g for g in self.lead_groups if g["id"] == record["lead_group_id"]), None)
        lead["lead_group"] = (
            None if group is None else {k: group[k] for k in ("id", "title", "org_id", "status", "type")}
        )
        user = self.users.get(record["assignee_user_id"]) if record["assignee_user_id"] else None
        lead["assignee_user"] = None if user is None else {k: user[k] for k in ("id", "first_name", "last_name")}
        return lead

    # -- helpers --------------------------------------------------------------------------

    def _lead_from_path(self, request: web.Request) -> dict[str, Any]:
        raw = request.match_info["lead_id"]
        if not raw.isdigit():
            raise _fail(400, "lead_id must be a number")
        lead = self.leads.get(int(raw))
        if lead is None:
            raise _fail(404, "Lead not found")
        return lead

    @staticmethod
    async def _body(request: web.Request) -> dict[str, Any]:
        raw = await request.read()
        if not raw.strip():
            raise _fail(400, "Request body is empty")
        try:
            body = json.loads(raw)
        except json.JSONDecodeError:
            raise _fail(400, "Request body must be valid JSON") from None  # GAP
        if not isinstance(body, dict) or not body:
            raise _fail(400, "Request body is empty")
        return body

    @staticmethod
    def _paging(request: web.Request, *, default_size: int, max_size: int | None) -> tuple[int, int]:
        try:
            page = int(request.query.get("page", "1"))
            size = int(request.query.get("page_size", str(default_size)))
        except ValueError:
            raise _fail(400, "page and page_size must be numbers") from None  # GAP
        if page < 1:
            raise _fail(400, "page must be greater than or equal to 1")  # GAP
        if size < 1:
            raise _fail(400, "page_size must be greater than or equal to 1")  # GAP
        if max_size is not None and size > max_size:
            raise _fail(400, f"page_size must be less than or equal to {max_size}")  # GAP
        return page, size

    @staticmethod
    def _page(rows: list[dict[str, Any]], page: int, size: int) -> dict[str, Any]:
        total = len(rows)
        return {
            "rows": rows[(page - 1) * size : page * size],
            "total_pages": math.ceil(total / size),
            "current_page": page,
            "page_size": size,
            "total_items": total,
        }

    # -- tasks ----------------------------------------------------------------------------

    async def _create_task(self, request: web.Request) -> web.Response:
        raw = request.match_info["lead_id"]
        if not raw.isdigit():
            raise _fail(400, "lead_id must be a number")
        body = await self._body(request)
        kind = body.get("type")
        if kind in (None, ""):
            raise _fail(400, "type is required")
        if kind not in TASK_TYPES:
            raise _fail(400, f'type "{kind}" is not available for creation. Allowed: {", ".join(TASK_TYPES)}')
        if body.get("due_date") in (None, ""):
            raise _fail(400, "due_date is required")
        due = _parse(str(body["due_date"]))
        if due is None:
            raise _fail(400, "due_date must be a valid ISO 8601 date")  # GAP
        now = self._now()
        if body.get("notify_at") is not None:
            notify = _parse(str(body["notify_at"]))
            if notify is None:
                raise _fail(400, "notify_at must be a valid ISO 8601 date")  # GAP
            if not now < notify <= due:
                raise _fail(400, "notify_at must be in the future and at or before due_date")  # GAP
        elif kind == "REMINDER":
            notify = due
        elif kind == "FIRST_CALL":
            notify = now
        else:
            notify = due - timedelta(minutes=10)
        lead = self.leads.get(int(raw))
        if lead is None:
            raise _fail(404, "Lead not found")
        if self.lead_storage_full:
            raise _fail(404, "Lead storage is full")
        stamp = _iso(now)
        if kind != "REMINDER":
            for other in self.open_tasks(lead["id"]):
                if other["type"] != "REMINDER":
                    self._put_task(
                        {
                            **other,
                            "task_status": "COMPLETE",
                            "status": "COMPLETE",
                            "updated_by": API_USER,
                            "updated_at": stamp,
                        }
                    )
        record = {
            "id": next(self._task_ids),
            "org_id": ORG_ID,
            "customer_id": lead["id"],
            "title": None,
            "type": kind,
            "due_date": _iso(due),
            "notify_at": _iso(notify),
            "notify": True,
            "task_status": "PENDING",
            "status": "ACTIVE",
            "assignee_user_id": lead["assignee_user_id"],
            "created_by": API_USER,
            "updated_by": None,
            "created_at": stamp,
            "updated_at": stamp,
        }
        if body.get("customer_note"):
            self._put_lead(
                {**lead, "_notes": [*lead["_notes"], {"task_id": record["id"], "note": body["customer_note"]}]}
            )
        delay = self.core.visible_delay(request)
        self._put_task({**record, "_visible_at": self.clock() + delay} if delay > 0 else record)
        created = dict(record)
        created["type_name"] = None  # only the create response has it; the seed shows null
        ordered = {k: created[k] for k in ("id", "org_id", "customer_id", "title", "type", "type_name")}
        ordered.update({k: v for k, v in created.items() if k not in ordered})
        return _ok(ordered)

    async def _complete(self, request: web.Request) -> web.Response:
        lead = self._lead_from_path(request)
        pending = self.open_tasks(lead["id"])
        if not pending:
            raise _fail(400, "No open task found for this lead")
        newest = pending[-1]
        stamp = _iso(self._now())
        closed = {
            **newest,
            "task_status": "COMPLETE",
            "status": "COMPLETE",
            "updated_by": API_USER,
            "updated_at": stamp,
        }
        self._put_task(closed)
        return _ok(self._row(closed))

    async def _list_tasks(self, request: web.Request) -> web.Response:
        lead = self._lead_from_path(request)
        page, size = self._paging(request, default_size=20, max_size=20)
        rows = [self._row(t) for t in reversed(self.lead_tasks(lead["id"])) if self.visible(t)]
        return _ok(self._page(rows, page, size))

    @staticmethod
    def _row(record: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in record.items() if not k.startswith("_")}

    # -- leads ----------------------------------------------------------------------------

    def _find_by_phone(self, phone: str, *, primary_only: bool) -> dict[str, Any] | None:
        for lead in self.leads.values():
            phones = lead["_phones"][:1] if primary_only else lead["_phones"]
            if phone in phones:
                return lead
        return None

    async def _get_lead(self, request: web.Request) -> web.Response:
        phone = request.query.get("phone", "").strip()
        if not phone:
            raise _fail(400, "phone is required")  # GAP
        lead = self._find_by_phone(phone, primary_only=False)
        if lead is None:
            raise _fail(404, "Lead not found")  # GAP (Lead not found is the message elsewhere)
        return _ok(self.render_lead(lead))

    def _titles(self, rows: list[dict[str, Any]], names: object, what: str) -> list[int]:
        if not isinstance(names, list):
            raise _fail(400, f"{what} must be an array of titles")  # GAP
        found = []
        for name in names:
            match = [r["id"] for r in rows if r["title"] == name]
            if not match:
                raise _fail(400, f'{what} "{name}" not found')  # GAP
            found.append(match[0])
        return found

    async def _upsert(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        phone = body.get("customer_phone")
        if not phone:
            raise _fail(400, "Customer phone is required to identify the record to update")
        if body.get("add_labels") is not None and body.get("remove_labels") is not None:
            raise _fail(400, "add_labels and remove_labels cannot be used together")  # GAP
        lead = self._find_by_phone(str(phone), primary_only=True)
        if lead is None:
            if body.get("create_customer_if_customer_phone_not_found") is not True:
                raise _fail(400, "Customer not found")
            if self.lead_storage_full or (self.lead_quota is not None and len(self.leads) >= self.lead_quota):
                raise _fail(404, "Lead storage is full")
            lead = self._lead_record(next(self._lead_ids), str(phone))
            lead.update(
                {
                    "first_name": None,
                    "last_name": None,
                    "email": None,
                    "source": None,
                    "source_type": None,
                    "lead_stage_id": self.lead_stages[0]["id"],
                }
            )
        updated = dict(lead)
        for name in (
            "first_name",
            "last_name",
            "website",
            "city",
            "business_name",
            "additional_info",
            "source",
            "deal_value",
            "email",
        ):
            if name in body:
                updated[name] = body[name]
        if "address" in body and isinstance(body["address"], dict):
            updated["address"] = {**lead["address"], **body["address"]}
        if "source_type" in body:
            if body["source_type"] not in {s["title"] for s in self.source_types}:
                raise _fail(400, f'source_type "{body["source_type"]}" is not valid')  # GAP
            updated["source_type"] = body["source_type"]
        if "assignee_user_phone" in body:
            if body["assignee_user_phone"] is None:
                updated["assignee_user_id"] = None
            else:
                user = next((u for u in self.users.values() if u["phone"] == body["assignee_user_phone"]), None)
                if user is None:
                    raise _fail(400, "Assignee user not found in this account")  # GAP
                updated["assignee_user_id"] = user["id"]
        if "lead_stage_name" in body:
            stages = [s for s in self.lead_stages if s["title"] == body["lead_stage_name"]]
            if body["lead_stage_name"] is not None and not stages:
                raise _fail(400, f'Lead stage "{body["lead_stage_name"]}" not found')  # GAP
            updated["lead_stage_id"] = stages[0]["id"] if stages else None
        if "lead_group_name" in body:
            groups = [g for g in self.lead_groups if g["title"] == body["lead_group_name"]]
            if len(groups) > 1:
                raise _fail(400, "Multiple lead groups found with this name")
            if body["lead_group_name"] is not None and not groups:
                raise _fail(400, f'Lead group "{body["lead_group_name"]}" not found')  # GAP
            updated["lead_group_id"] = groups[0]["id"] if groups else None
        if body.get("add_labels") is not None:
            added = self._titles(self.labels, body["add_labels"], "Label")
            updated["_labels"] = [*lead["_labels"], *(i for i in added if i not in lead["_labels"])]
        if body.get("remove_labels") is not None:
            removed = self._titles(self.labels, body["remove_labels"], "Label")
            updated["_labels"] = [i for i in lead["_labels"] if i not in removed]
        if body.get("add_products") is not None:
            products = self._titles(self.products, body["add_products"], "Product")
            updated["_products"] = [*lead["_products"], *(i for i in products if i not in lead["_products"])]
        if body.get("add_phones") is not None:
            updated["_phones"] = [*lead["_phones"], *(p for p in body["add_phones"] if p not in lead["_phones"])]
        if body.get("customer_note"):
            updated["_notes"] = [*lead["_notes"], {"note": body["customer_note"]}]
        updated["updated_at"] = _iso(self._now())
        self._put_lead(updated)
        return _ok(self.render_lead(updated))

    # -- catalogs -------------------------------------------------------------------------

    def _catalog(self, rows: list[dict[str, Any]]) -> Callable[[web.Request], Any]:
        async def handler(request: web.Request) -> web.Response:
            page, size = self._paging(request, default_size=50, max_size=None)
            text = request.query.get("text", "").strip().lower()
            matched = [r for r in rows if text in str(r["title"]).lower()] if text else list(rows)
            return _ok(self._page(matched, page, size))

        return handler
