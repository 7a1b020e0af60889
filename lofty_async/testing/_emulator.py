"""A local, in-memory Lofty for tests and the ``--sandbox`` import.

What it models (lofty_api.md §1, §2, §4, §5, §13.3):

* the eight V2 task endpoints with the spec's validation and envelopes: create ``{"taskId"}``,
  list and my-tasks ``{"tasks": [...]}``, get ``{"task": {...}}``, update/delete/finish/unfinish
  ``{"message": "Operation successful"}``; int64 IDs in one space for tasks and appointments;
* error bodies ``{"code": ..., "message": ...}`` with the spec's statuses: 400 ``20012``
  (invalid or missing parameter), 400 ``MISSING_PARAMETER`` (empty update), 400 ``20017``
  (no access to the lead, also for an unknown lead on create — the spec lists no 404 there),
  404 ``20006`` (unknown lead on list), 404 ``TASK_NOT_EXIST``, 400 ``TASK_IS_SMARTPLAN``,
  400 ``LIMIT_NOT_VALID``;
* auth: ``token <api key>`` and ``Bearer <access token>``; missing or unknown credentials ->
  401 ``BAD_CREDENTIALS``; an API key sent as ``Bearer`` -> 400 ``200058`` (as observed);
* rate limits: fixed windows per credential (default 100 per 60 s, Development mode) with
  ``X-RateLimit-Limit``/``-Remaining``/``-Reset`` (UTC epoch seconds) on every response and 429
  ``{"message": "Too Many Requests"}``, no ``Retry-After`` (lofty_api.md §4);
* read-back as documented: every V2 task time and lead timestamp as whole-second UTC with a
  literal ``GMT`` suffix (``'2026-03-01T23:00:00GMT'``, the spec's example form), whatever the
  request sent; calendar ``*Ms`` fields in epoch ms; V1 times as ``yyyy-MM-dd HH:mm:ss`` UTC;
* both documented lead bodies: ``tags`` as strings (spec) or ``{"tagName"}`` objects (guide),
  assignment as ``[{"role", "assignee"}]`` (spec) or ``{"assignees": [{"userId"}]}`` (guide);
* faults from a :class:`~crm_core.emulator.FaultPlan`, including late commits, reads that miss
  a new record for a while (``late-visible``, also for lead create), unusable ids in 2xx
  bodies and the docs' ``X-RateLimit-Reset: 21000``.

Undocumented choices are switches: ``require_content_type`` (reject a DELETE without
``Content-Type``), ``retry_after_on_429`` (Lofty documents no ``Retry-After``).
"""

from __future__ import annotations

import itertools
import json
import os
import time
import unicodedata
import zoneinfo
from array import array
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
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

from ._common import error as _error
from ._common import gmt as _gmt
from ._common import invalid as _invalid
from ._common import seconds_of, task_store
from ._emulator_more import register_all

__all__ = ["SANDBOX_ACCESS_TOKEN", "SANDBOX_API_KEY", "LoftyEmulator", "sandbox_lead_ids"]

SANDBOX_API_KEY = "sandbox-lofty-api-key"
"""The API key the sandbox accepts (``Authorization: token <key>``)."""
SANDBOX_ACCESS_TOKEN = "sandbox-lofty-access-token"
"""The OAuth access token the sandbox accepts (``Authorization: Bearer <token>``)."""

TASK_TYPES = ("Call", "Email", "Text", "Other", "Appointment")
ROLES = ("Agent", "Assistant")
OK = {"message": "Operation successful"}
_FIRST_TASK_ID = 563_172_647_700_000
_USER_ID = 10_000_000_514
_TEAM_ID = 1_000_123

_FIRST_NAMES = ["Ava", "Mateo", "Chloé", "Hiroshi", "Priya", "Liam", "Zoë", "Tomás", "Ngozi", "Søren"]
_LAST_NAMES = ["Nguyen", "García", "Okafor", "Müller", "Tanaka", "Smith", "Rossi", "Kowalski", "Haddad", "Silva"]


def sandbox_lead_ids(count: int = 50) -> list[int]:
    """The lead IDs the sandbox knows (deterministic; the example files use them)."""
    return [563_172_647_619_608 + 1_009 * i for i in range(count)]


def _parse_time(field: str, value: object) -> datetime:
    if not isinstance(value, str):
        raise _invalid(f"{field} must be an ISO8601 string with an offset")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise _invalid(f"{field} is not ISO8601: {value!r}") from None
    if parsed.tzinfo is None:
        raise _invalid(f"{field} needs a UTC offset: {value!r}")
    return parsed


def _check_zone(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise _invalid("timeZoneCode must be an IANA time zone")
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise _invalid(f"timeZoneCode {value!r} is not a known time zone") from None
    return value


def _query_int(request: web.Request, name: str, *, default: int | None = None) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise _invalid(f"{name} must be an integer, got {raw!r}") from None


class LoftyEmulator:
    """The in-memory Lofty. Build it, then serve :meth:`app` (or use :meth:`serve`).

    Args:
        api_keys: Accepted API keys.
        access_tokens: Accepted OAuth access tokens.
        leads: Lead IDs that exist (others are unknown to the caller); default
            :func:`sandbox_lead_ids`.
        rate_limit: Per-credential fixed windows; ``None`` to switch off. Default 100 per 60 s.
        faults: Fault plan, or ``None``.
        user_id: The authenticated user's ID (creator and assignee of new tasks).
        clock: Wall-clock source, UTC epoch seconds.
        state_path: A JSON-lines file that records every change and is replayed on start, so
            the sandbox survives a crash of the process that runs it (``None``: memory only).
        require_content_type: Reject a DELETE without ``Content-Type: application/json``
            (third parties report the real API does).
        retry_after_on_429: Add ``Retry-After`` to rate-limit 429s (undocumented; off).
        lead_visibility_delay: Seconds a newly created lead answers 404 to GET and is missing
            from lists (the documented eventual consistency; 0 = at once).
        metadata_key: Key of the lead-list metadata: ``_metadata`` (what the API sends) or
            ``get_metadata`` (what its docs show).
        max_webhooks: Subscriptions allowed before ``WEBHOOK_EXCEED_LIMIT``.
        oauth_clients: OAuth ``client_id -> client_secret`` accepted by the token endpoints.
        token_ttl: Lifetime of issued OAuth access tokens, seconds.
        log_bodies: Keep every logged request's headers (credentials masked) and body in
            ``core.requests`` (the pytest fixtures switch this on; the sandbox leaves it off).
        max_logged: How many requests ``core.requests`` keeps.
        fsync_every: State-log lines between fsyncs (see :class:`~crm_core.emulator.StateLog`:
            each line reaches the OS before the answer; fsync is batched).
        fsync_interval: Seconds between state-log fsyncs at most.

    Attributes:
        tasks: Task records by ID, in wire shape (camelCase), as the API would return them, plus
            ``_``-prefixed internals (``_start``/``_end`` epoch seconds). A
            :class:`~crm_core.emulator.CompactStore`: a mapping whose values are fresh dicts
            (write changes back with :meth:`put_task`). Times read back in Lofty's documented
            form, whole-second UTC with a literal ``GMT`` suffix (``'2026-03-01T23:00:00GMT'``),
            whatever precision and offset the request used.
        leads: Lead records by ID.
        smart_plan_tasks: IDs of tasks that ``finish`` refuses (``TASK_IS_SMARTPLAN``).
        core: The shared middleware (request log, faults, rate limit).
    """

    def __init__(
        self,
        *,
        api_keys: Iterable[str] = (SANDBOX_API_KEY,),
        access_tokens: Iterable[str] = (SANDBOX_ACCESS_TOKEN,),
        leads: Iterable[int] | None = None,
        rate_limit: FixedWindowRateLimit | None = None,
        faults: FaultPlan | None = None,
        user_id: int = _USER_ID,
        clock: Callable[[], float] = time.time,
        state_path: str | os.PathLike[str] | None = None,
        require_content_type: bool = False,
        retry_after_on_429: bool = False,
        lead_visibility_delay: float = 0.0,
        metadata_key: str = "_metadata",
        max_webhooks: int = 20,
        oauth_clients: dict[str, str] | None = None,
        token_ttl: float = 3600.0,
        log_bodies: bool = False,
        max_logged: int = 10_000,
        fsync_every: int = 1000,
        fsync_interval: float = 1.0,
    ) -> None:
        self.api_keys = set(api_keys)
        self.access_tokens = set(access_tokens)
        self.user_id = user_id
        self.clock = clock
        self.require_content_type = require_content_type
        self.tasks: CompactStore = task_store()
        self.leads: dict[int, dict[str, Any]] = {}
        self.users: dict[int, dict[str, Any]] = {
            user_id: {"firstName": "Sandbox", "lastName": "Agent", "email": "agent@sandbox.lofty.test"},
            user_id + 1: {"firstName": "Sam", "lastName": "Assistant", "email": "assistant@sandbox.lofty.test"},
        }
        self.webhooks: dict[int, dict[str, Any]] = {}
        self.max_webhooks = max_webhooks
        self.lead_visibility_delay = lead_visibility_delay
        self.metadata_key = metadata_key
        self.forbidden_paths: set[str] = set()
        self.oauth_clients: dict[str, str] = dict(oauth_clients or {"sandbox-client": "sandbox-secret"})
        self.token_ttl = token_ttl
        self.issued_tokens: dict[str, float] = {}
        self.refresh_tokens: dict[str, str] = {}
        self.authorization_codes: dict[str, dict[str, Any]] = {}
        self._lead_ids = itertools.count(651_095_960_136_641, 13)
        self._webhook_ids = itertools.count(1234)
        self.lead_scrolls: OrderedDict[int, array[int]] = OrderedDict()
        self._scroll_ids = itertools.count(1)
        self.smart_plan_tasks: set[int] = set()
        self._ids = itertools.count(_FIRST_TASK_ID, 7)
        for lead_id in sandbox_lead_ids() if leads is None else leads:
            self.add_lead(lead_id)
        if rate_limit is None:
            rate_limit = FixedWindowRateLimit(limit=100, window=60.0, clock=clock)
        rate_limit.retry_after = retry_after_on_429 or rate_limit.retry_after
        self.core = EmulatorCore(
            credential_of=lambda request: request.headers.get("Authorization", request.remote or ""),
            throttle_body={"message": "Too Many Requests"},
            rate_limit=rate_limit,
            faults=faults,
            api_prefix="/v",
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

    def add_lead(self, lead_id: int, *, first_name: str | None = None, last_name: str | None = None) -> dict[str, Any]:
        """Make a lead exist (in ``LeadResponse`` shape); returns its record."""
        n = lead_id % 97
        first = first_name or _FIRST_NAMES[n % len(_FIRST_NAMES)]
        last = last_name or _LAST_NAMES[(n // len(_FIRST_NAMES)) % len(_LAST_NAMES)]
        ascii_name = unicodedata.normalize("NFKD", f"{first}.{last}").encode("ascii", "ignore").decode().lower()
        stamp = _gmt(datetime.fromtimestamp(self.clock(), UTC))
        user = self.users[self.user_id]
        record: dict[str, Any] = {
            "leadId": lead_id,
            "leadUserId": lead_id + 17,
            "firstName": first,
            "lastName": last,
            "emails": [f"{ascii_name}@example.com"],
            "phones": [f"555{lead_id % 10_000_000:07d}"],
            "source": "Website",
            "stageId": 1,
            "stage": "New Lead",
            "assignedUserId": self.user_id,
            "assignedUser": f"{user['firstName']} {user['lastName']}",
            "score": 50,
            "tags": [],
            "teamId": _TEAM_ID,
            "createTime": stamp,
            "assignTime": stamp,
            "lastUpdateTime": stamp,
            "leadTypes": [2],
            "segments": [],
            "cannotText": False,
            "cannotCall": False,
            "cannotEmail": False,
            "hiddenFlag": False,
            "_pipelineId": 3_001,
            "_created": self.clock(),
            "_trash": False,
        }
        self.leads[lead_id] = record
        return record

    def tasks_of(self, lead_id: int) -> list[dict[str, Any]]:
        """The lead's task records, oldest first."""
        return sorted(self.tasks.select(lead_id), key=lambda t: t["id"])

    def _log(self, op: str, record: dict[str, Any]) -> None:
        if self._state is not None:
            self._state.append(op, record)

    def _replay(self) -> None:
        assert self._state is not None
        last_id = _FIRST_TASK_ID - 7
        for op, record in self._state.replay():
            if op == "lead":
                self.leads[record["leadId"]] = record
            elif op == "put":
                self.tasks[record["id"]] = record
                last_id = max(last_id, record["id"])
            elif op == "delete":
                self.tasks.pop(record["id"], None)
        self._ids = itertools.count(last_id + 7, 7)

    def authorize(self, client_id: str, *, redirect_uri: str | None = None, code_challenge: str | None = None) -> str:
        """Simulate the user granting access on the consent page; return the authorization code."""
        code = "code-" + os.urandom(12).hex()
        self.authorization_codes[code] = {
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "code_challenge": code_challenge,
        }
        return code

    def expire_access_tokens(self) -> None:
        """Make every issued OAuth access token expired (requests with them get 401)."""
        for token in self.issued_tokens:
            self.issued_tokens[token] = 0.0

    def put_lead(self, record: dict[str, Any]) -> None:
        """Store a lead record (logged to the state file)."""
        self._log("lead", record)
        self.leads[record["leadId"]] = record

    def new_task_record(
        self,
        *,
        lead: dict[str, Any],
        kind: str,
        content: str,
        role: str,
        start: datetime | None,
        end: datetime,
        zone: str,
        address: str | None,
    ) -> dict[str, Any]:
        """A new task or appointment record (``kind`` ``"Appointment"``), with a fresh ID in the
        shared task/appointment ID space. Not stored: pass it to :meth:`put_task`."""
        stamp = _gmt(datetime.fromtimestamp(self.clock(), UTC))
        user = self.users[self.user_id]
        return {
            "id": next(self._ids),
            "leadId": lead["leadId"],
            "creatorId": self.user_id,
            "content": content,
            "type": kind,
            "startAt": _gmt(start) if start is not None else None,
            "endAt": _gmt(end),
            "timeZoneCode": zone,
            "allDay": False,
            "finishFlag": False,
            "overdueFlag": False,
            "finishTime": None,
            "createTime": stamp,
            "lastUpdate": stamp,
            "leadName": f"{lead['firstName']} {lead['lastName']}",
            "leadEmail": lead["emails"][0] if lead["emails"] else None,
            "leadPhone": lead["phones"][0] if lead["phones"] else None,
            "leadFirstName": lead["firstName"],
            "leadLastName": lead["lastName"],
            "reminderType": 0,
            "assignedRole": role,
            "assignedUser": f"{user['firstName']} {user['lastName']}",
            "teamId": _TEAM_ID,
            "assignedUserId": self.user_id,
            "pipelineId": lead["_pipelineId"],
            "leadUserId": lead["leadUserId"],
            "address": address,
            "_end": seconds_of(end),
            "_start": seconds_of(start) if start is not None else None,
        }

    def put_task(self, record: dict[str, Any]) -> None:
        """Store a task or appointment record (logged to the state file)."""
        self._put(record)

    def delete_task(self, task_id: int) -> None:
        """Remove a task or appointment (logged to the state file)."""
        self._log("delete", {"id": task_id})
        self.tasks.pop(task_id, None)

    def render_task(self, record: dict[str, Any]) -> dict[str, Any]:
        """A task as the V2 endpoints return it."""
        return self._render(record)

    def _put(self, record: dict[str, Any]) -> None:
        self._log("put", record)
        self.tasks[record["id"]] = record

    # -- app ------------------------------------------------------------------------------

    def app(self) -> web.Application:
        """The aiohttp application serving this state."""
        app = web.Application(middlewares=[self.core.middleware])
        app[CORE_KEY] = self.core
        app.router.add_get("/v2.0/tasks/my-tasks", self._my_tasks)
        app.router.add_get("/v2.0/tasks", self._list)
        app.router.add_post("/v2.0/tasks", self._create)
        app.router.add_get("/v2.0/tasks/{task_id}", self._get)
        app.router.add_put("/v2.0/tasks/{task_id}", self._update)
        app.router.add_delete("/v2.0/tasks/{task_id}", self._delete)
        app.router.add_post("/v2.0/tasks/{task_id}/finish", self._finish)
        app.router.add_post("/v2.0/tasks/{task_id}/unfinish", self._unfinish)
        register_all(self, app)
        if self._state is not None:
            app.cleanup_ctx.append(state_sync(self._state))
        return app

    def close(self) -> None:
        """fsync and close the state log (serving does this on shutdown; safe to call twice)."""
        if self._state is not None:
            self._state.close()

    def visible(self, record: dict[str, Any]) -> bool:
        """Whether reads see ``record`` yet (a ``late-visible`` fault hides a new record for a while)."""
        hidden_until = record.get("_visible_at")
        return hidden_until is None or hidden_until <= self.clock()

    def hide_if_late(self, record: dict[str, Any], request: web.Request) -> None:
        """Mark a new record hidden from reads when ``request`` drew a ``late-visible`` fault."""
        delay = self.core.visible_delay(request)
        if delay > 0:
            record["_visible_at"] = self.clock() + delay

    @asynccontextmanager
    async def serve(self, *, port: int = 0) -> AsyncIterator[str]:
        """Serve on loopback in the running loop; yield the base URL."""
        async with serve(self.app(), port=port) as url:
            yield url

    def _authenticate(self, request: web.Request) -> EmulatorError | None:
        header = request.headers.get("Authorization", "").strip()
        scheme, _, credential = header.partition(" ")
        credential = credential.strip()
        known = (scheme == "token" and credential in self.api_keys) or (
            scheme == "Bearer"
            and (credential in self.access_tokens or self.issued_tokens.get(credential, 0.0) > self.clock())
        )
        if known and any(request.path.startswith(prefix) for prefix in self.forbidden_paths):
            return _error(403, 200100, "Sorry, the vendor does not have permission for this API.")
        if scheme == "token" and credential in self.api_keys:
            return None
        if scheme == "Bearer" and credential in self.access_tokens:
            return None
        if scheme == "Bearer" and self.issued_tokens.get(credential, 0.0) > self.clock():
            return None
        if scheme == "Bearer" and credential in self.api_keys:
            return _error(400, 200058, "User in token does not exist.")
        return _error(401, "BAD_CREDENTIALS", "Invalid or missing authentication credentials.")

    # -- rendering ------------------------------------------------------------------------

    def _render(self, record: dict[str, Any]) -> dict[str, Any]:
        task = {k: v for k, v in record.items() if v is not None and not k.startswith("_")}
        end = record.get("_end")
        if end is not None:
            task["overdueFlag"] = (not record["finishFlag"]) and end < self.clock()
        return task

    async def _body(self, request: web.Request) -> dict[str, Any]:
        raw = await request.read()
        if not raw.strip():
            raise _invalid("request body is required")
        try:
            body = json.loads(raw)
        except json.JSONDecodeError:
            raise _invalid("request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise _invalid("request body must be a JSON object")
        return body

    def _task(self, request: web.Request) -> dict[str, Any]:
        raw = request.match_info["task_id"]
        try:
            task_id = int(raw)
        except ValueError:
            raise _invalid(f"taskId must be an integer, got {raw!r}") from None
        if task_id < 1:
            raise _invalid("taskId must be >= 1")
        record = self.tasks.get(task_id)
        if record is None or not self.visible(record):
            raise _error(404, "TASK_NOT_EXIST", f"Task or appointment {task_id} does not exist")
        return record

    # -- handlers -------------------------------------------------------------------------

    async def _create(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        kind = body.get("type")
        if kind is None:
            raise _invalid("type is required")
        if kind not in TASK_TYPES:
            raise _invalid(f"type must be one of {', '.join(TASK_TYPES)}, got {kind!r}")
        for field in ("content", "assignedRole", "leadId", "endAt"):
            if body.get(field) in (None, ""):
                raise _invalid(f"{field} is required")
        if body["assignedRole"] not in ROLES:
            raise _invalid(f"assignedRole must be Agent or Assistant, got {body['assignedRole']!r}")
        lead_id = body["leadId"]
        if isinstance(lead_id, bool) or not isinstance(lead_id, int) or lead_id < 1:
            raise _invalid(f"leadId must be a positive integer, got {lead_id!r}")
        if not isinstance(body["content"], str):
            raise _invalid("content must be a string")
        end = _parse_time("endAt", body["endAt"])
        start = _parse_time("startAt", body["startAt"]) if body.get("startAt") is not None else None
        if start is not None and end < start:
            raise _invalid("endAt must not be before startAt")
        zone = _check_zone(body["timeZoneCode"]) if body.get("timeZoneCode") is not None else "America/Los_Angeles"
        lead = self.leads.get(lead_id)
        if lead is None:
            raise _error(400, 20017, f"PERMISSION_DENIED: no manage permission on lead {lead_id}")
        record = self.new_task_record(
            lead=lead,
            kind=kind,
            content=body["content"],
            role=body["assignedRole"],
            start=start,
            end=end,
            zone=zone,
            address=body.get("address"),
        )
        task_id = record["id"]
        self.hide_if_late(record, request)
        self._put(record)
        return web.json_response({"taskId": task_id})

    async def _list(self, request: web.Request) -> web.Response:
        lead_id = _query_int(request, "leadId")
        if lead_id is None or lead_id < 1:
            raise _invalid("leadId is required and must be >= 1")
        if lead_id not in self.leads:
            raise _error(404, 20006, f"LEAD_NOT_EXIST: lead {lead_id} does not exist")
        tasks = [self._render(t) for t in self.tasks_of(lead_id) if self.visible(t)]
        return web.json_response({"tasks": tasks})

    async def _get(self, request: web.Request) -> web.Response:
        return web.json_response({"task": self._render(self._task(request))})

    async def _update(self, request: web.Request) -> web.Response:
        record = self._task(request)
        raw = await request.read()
        body = json.loads(raw) if raw.strip() else {}
        if not isinstance(body, dict):
            raise _invalid("request body must be a JSON object")
        if all(body.get(k) is None for k in ("content", "startAt", "endAt", "address")):
            raise _error(400, "MISSING_PARAMETER", "At least one of content, startAt, endAt, address is required")
        updated = dict(record)
        if body.get("content") is not None:
            updated["content"] = body["content"]
        if body.get("address") is not None:
            updated["address"] = body["address"]
        if body.get("timeZoneCode") is not None:
            updated["timeZoneCode"] = _check_zone(body["timeZoneCode"])
        if body.get("startAt") is not None:
            start = _parse_time("startAt", body["startAt"])
            updated["startAt"], updated["_start"] = _gmt(start), seconds_of(start)
        if body.get("endAt") is not None:
            end = _parse_time("endAt", body["endAt"])
            updated["endAt"], updated["_end"] = _gmt(end), seconds_of(end)
        if updated.get("_start") is not None and updated["_end"] < updated["_start"]:
            raise _invalid("endAt must not be before startAt")
        updated["lastUpdate"] = _gmt(datetime.fromtimestamp(self.clock(), UTC))
        self._put(updated)
        return web.json_response(OK)

    async def _delete(self, request: web.Request) -> web.Response:
        if self.require_content_type and request.headers.get("Content-Type", "").split(";")[0] != "application/json":
            raise _invalid("Content-Type: application/json is required")
        record = self._task(request)
        self.delete_task(record["id"])
        return web.json_response(OK)

    async def _finish(self, request: web.Request) -> web.Response:
        record = self._task(request)
        if record["id"] in self.smart_plan_tasks:
            raise _error(400, "TASK_IS_SMARTPLAN", "Smart-plan tasks cannot be finished through the API")
        now = _gmt(datetime.fromtimestamp(self.clock(), UTC))
        self._put({**record, "finishFlag": True, "finishTime": now, "lastUpdate": now})
        return web.json_response(OK)

    async def _unfinish(self, request: web.Request) -> web.Response:
        record = self._task(request)
        now = _gmt(datetime.fromtimestamp(self.clock(), UTC))
        self._put({**record, "finishFlag": False, "finishTime": None, "lastUpdate": now})
        return web.json_response(OK)

    async def _my_tasks(self, request: web.Request) -> web.Response:
        user_id = _query_int(request, "userId", default=self.user_id)
        current_id = _query_int(request, "currentId", default=0)
        limit = _query_int(request, "limit", default=10)
        assert current_id is not None and limit is not None
        if current_id < 0:
            raise _error(400, "INVALID_PARAMETER", "currentId must be >= 0")
        if not 1 <= limit <= 100:
            raise _error(400, 20042, "LIMIT_NOT_VALID: Limit must be between 1 and 100")
        zone = request.query.get("timeZoneCode")
        if zone:
            _check_zone(zone)
        mine = sorted(
            (t for t in self.tasks.records() if t["assignedUserId"] == user_id and self.visible(t)),
            key=lambda t: (t.get("_start") or t["_end"], t["id"]),
            reverse=True,
        )
        start = 0
        if current_id:
            positions = [i for i, t in enumerate(mine) if t["id"] == current_id]
            start = positions[0] + 1 if positions else len(mine)
        page = mine[start : start + limit]
        return web.json_response({"tasks": [self._render(t) for t in page]})
