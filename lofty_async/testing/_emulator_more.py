"""The Lofty emulator beyond V2 tasks: calendar, V1, leads, me, webhooks, OAuth token endpoints.

All share the emulator's state (one task/appointment ID space, the lead store). Statuses, codes
and envelopes follow the spec (lofty_api.md §3, §6-§10); choices the docs leave open are marked
``# GAP`` and kept simple.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import zoneinfo
from array import array
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .._leads import LEAD_SORTS
from ._common import error as _error
from ._common import gmt as _gmt
from ._common import invalid as _invalid
from ._common import seconds_of

if TYPE_CHECKING:
    from ._emulator import LoftyEmulator

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_TASK_WAYS = ("Call", "Email", "Text", "Other")
_V1_TYPES = ("Other", "Call", "Email", "Text")
_ROLES = ("Agent", "Assistant")
_LEAD_TYPES = {-1, 1, 2, 5, 6, 7, 8, 9}
_LEAD_FIELDS = (
    "cannotText",
    "cannotCall",
    "cannotEmail",
    "firstName",
    "lastName",
    "emails",
    "phones",
    "leadTypes",
    "assignedUserId",
    "streetAddress",
    "city",
    "state",
    "zipCode",
    "referredBy",
    "stage",
    "segments",
    "source",
    "birthday",
    "buyingTimeFrame",
    "preQual",
    "houseToSell",
    "fthb",
    "withBuyerAgent",
    "sellingTimeFrame",
    "mortgage",
    "buyHouse",
    "withListingAgent",
    "language",
    "ownershipId",
    "ownershipScope",
    "unsubscription",
)
OK_CALENDAR = {"message": "Calendar updated successfully"}


def _utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _now(em: LoftyEmulator) -> datetime:
    return datetime.fromtimestamp(em.clock(), UTC)


def _parse_iso(field: str, value: object) -> datetime:
    if not isinstance(value, str):
        raise _invalid(f"{field} must be an ISO8601 string")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise _invalid(f"{field} is not ISO8601: {value!r}") from None
    if parsed.tzinfo is None:
        raise _invalid(f"{field} needs a UTC offset")
    return parsed


def _resolve(body: dict[str, Any], text_key: str, ms_key: str) -> datetime | None:
    """The documented rule: the string form wins over the millisecond form."""
    if body.get(text_key) not in (None, ""):
        return _parse_iso(text_key, body[text_key])
    if body.get(ms_key) is not None:
        value = body[ms_key]
        try:
            return datetime.fromtimestamp(int(value) / 1000, UTC)
        except (TypeError, ValueError):
            raise _invalid(f"{ms_key} must be epoch milliseconds") from None
    return None


def _zone(value: object) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(str(value))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise _invalid(f"timeZoneCode {value!r} is not a known time zone") from None


async def _json(request: web.Request, *, required: bool = True) -> Any:
    raw = await request.read()
    if not raw.strip():
        if required:
            raise _invalid("request body is required")
        return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        raise _invalid("request body is not valid JSON") from None


def _query_int(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name)
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError:
        raise _invalid(f"{name} must be an integer, got {raw!r}") from None


def _query_bool(request: web.Request, name: str) -> bool | None:
    raw = request.query.get(name)
    if raw in (None, ""):
        return None
    return raw.lower() == "true"


def register_all(em: LoftyEmulator, app: web.Application) -> None:
    """Add every non-V2-task route to ``app``."""
    for register in (_calendar, _v1, _leads, _webhooks, _oauth):
        register(em, app)
    app.router.add_get("/v1.0/me", _me_handler(em))


# -- calendar ------------------------------------------------------------------------------


def _calendar_id(record: dict[str, Any]) -> str:
    return f"{record['id']}-{'appointment' if record['type'] == 'Appointment' else 'task'}"


def _calendar_item(em: LoftyEmulator, record: dict[str, Any]) -> dict[str, Any]:
    zone = _zone(record["timeZoneCode"])
    end = datetime.fromtimestamp(record["_end"], UTC)
    start = datetime.fromtimestamp(record["_start"], UTC) if record.get("_start") is not None else end
    appointment = record["type"] == "Appointment"
    lead = em.leads.get(record["leadId"], {})
    return {
        "id": _calendar_id(record),
        "type": "APPOINTMENT" if appointment else "TASK",
        "taskId": record["id"],
        "sourceType": 1,
        "content": record["content"],
        "title": f"{lead.get('firstName', '')} {lead.get('lastName', '')} - {'Appointment' if appointment else 'Task'}",
        "finished": record["finishFlag"],
        "startAt": start.astimezone(zone).isoformat(timespec="seconds"),
        "endAt": end.astimezone(zone).isoformat(timespec="seconds"),
        "startAtMs": round(start.timestamp() * 1000),
        "endAtMs": round(end.timestamp() * 1000),
        "timeZoneCode": record["timeZoneCode"],
        "leadId": record["leadId"],
    }


def _by_calendar_id(em: LoftyEmulator, request: web.Request) -> dict[str, Any]:
    raw = request.match_info["calendar_id"]
    number, _, kind = raw.partition("-")
    if not number.isdigit() or kind not in ("task", "appointment"):
        raise _invalid(f"calendarId must look like '12345-task' or '12345-appointment', got {raw!r}")
    record = em.tasks.get(int(number))
    if record is None or _calendar_id(record) != raw or not em.visible(record):
        raise _invalid(f"calendar entry {raw} does not exist")
    return record


def _calendar(em: LoftyEmulator, app: web.Application) -> None:
    async def create(request: web.Request) -> web.Response:
        body = await _json(request)
        if not isinstance(body, dict):
            raise _invalid("request body must be a JSON object")
        kind = str(body.get("type", "")).upper()
        if kind not in ("TASK", "APPOINTMENT"):
            raise _invalid("type must be TASK or APPOINTMENT")
        for field in ("content", "leadId", "timeZoneCode"):
            if body.get(field) in (None, ""):
                raise _invalid(f"{field} is required")
        _zone(body["timeZoneCode"])
        start = _resolve(body, "startAt", "startAtMs")
        end = _resolve(body, "endAt", "endAtMs")
        if start is None or end is None:
            raise _invalid("startAt and endAt (or startAtMs and endAtMs) are required")
        now = _now(em)
        if start <= now or end <= now:
            raise _invalid("startAt and endAt must be later than the current time")
        if end < start:
            raise _invalid("endAt must not be before startAt")
        if kind == "TASK" and body.get("taskWay") not in _TASK_WAYS:
            raise _invalid("taskWay is required for TASK: Call, Email, Text or Other")
        role = body.get("assignedRole") or "Agent"
        if role not in _ROLES:
            raise _invalid("assignedRole must be Agent or Assistant")
        lead = em.leads.get(body["leadId"]) if isinstance(body["leadId"], int) else None
        if lead is None or lead["_trash"]:
            raise _error(400, 20017, f"PERMISSION_DENIED: no manage permission on lead {body['leadId']}")
        record = em.new_task_record(
            lead=lead,
            kind="Appointment" if kind == "APPOINTMENT" else body["taskWay"],
            content=body["content"],
            role=role,
            start=start,
            end=end,
            zone=body["timeZoneCode"],
            address=body.get("address") if kind == "APPOINTMENT" else None,
        )
        em.hide_if_late(record, request)
        em.put_task(record)
        return web.json_response(
            {"data": {"id": _calendar_id(record), "type": kind, "message": "Calendar created successfully"}}
        )

    async def listing(request: web.Request) -> web.Response:
        q = request.query
        starts = q.get("startTime") or None
        ends = q.get("endTime") or None
        start = _resolve({"s": starts, "sm": q.get("startTimeMs") or None}, "s", "sm")
        end = _resolve({"e": ends, "em": q.get("endTimeMs") or None}, "e", "em")
        if start is None and end is None:
            raise _error(400, "INVALID_PARAMETER", "At least one of startTime or endTime is required")
        page = _query_int(request, "page") or 0
        size = _query_int(request, "pageSize") or 20
        if page < 0 or not 1 <= size <= 500:
            raise _invalid("page must be >= 0 and pageSize between 1 and 500")
        lead_id = _query_int(request, "leadId")
        include_finished = _query_bool(request, "includeFinished") or False
        desc = _query_bool(request, "desc")
        items = []
        for record in em.tasks.records():
            if not em.visible(record):
                continue
            record_end = record["_end"]
            record_start = record.get("_start") or record_end
            if lead_id is not None and record["leadId"] != lead_id:
                continue
            if not include_finished and record["finishFlag"]:
                continue
            if start is not None and record_end < start.timestamp():
                continue
            if end is not None and record_start > end.timestamp():
                continue
            items.append(record)
        items.sort(key=lambda r: (r.get("_start") or r["_end"], r["id"]), reverse=desc is not False)
        chunk = items[page * size : (page + 1) * size]
        data = {"total": len(items), "page": page, "pageSize": size, "items": [_calendar_item(em, r) for r in chunk]}
        return web.json_response({"data": data})

    async def update(request: web.Request) -> web.Response:
        record = _by_calendar_id(em, request)
        body = await _json(request, required=False) or {}
        if not isinstance(body, dict):
            raise _invalid("request body must be a JSON object")
        updated = dict(record)
        start = _resolve(body, "startAt", "startAtMs")
        end = _resolve(body, "endAt", "endAtMs")
        now = _now(em)
        for moment, key in ((start, "_start"), (end, "_end")):
            if moment is not None:
                if moment <= now:
                    raise _invalid("startAt and endAt must be later than the current time")
                updated[key] = seconds_of(moment)
                updated["startAt" if key == "_start" else "endAt"] = _gmt(moment)
        if updated.get("_start") is not None and updated["_end"] < updated["_start"]:
            raise _invalid("endAt must not be before startAt")
        for key in ("content", "address"):
            if body.get(key):
                updated[key] = body[key]
        if body.get("timeZoneCode"):
            _zone(body["timeZoneCode"])
            updated["timeZoneCode"] = body["timeZoneCode"]
        if body.get("leadId") is not None:
            if body["leadId"] not in em.leads:
                raise _error(400, 20017, "PERMISSION_DENIED: no manage permission on the target lead")
            updated["leadId"] = body["leadId"]
        updated["lastUpdate"] = _gmt(now)
        em.put_task(updated)
        return web.json_response(OK_CALENDAR)

    async def delete(request: web.Request) -> web.Response:
        em.delete_task(_by_calendar_id(em, request)["id"])
        return web.json_response(OK_CALENDAR)

    async def finish(request: web.Request) -> web.Response:
        record = _by_calendar_id(em, request)
        stamp = _gmt(_now(em))
        em.put_task({**record, "finishFlag": True, "finishTime": stamp, "lastUpdate": stamp})
        return web.json_response(OK_CALENDAR)

    async def unfinish(request: web.Request) -> web.Response:
        record = _by_calendar_id(em, request)
        em.put_task({**record, "finishFlag": False, "finishTime": None, "lastUpdate": _gmt(_now(em))})
        return web.json_response(OK_CALENDAR)

    async def meetings(request: web.Request) -> web.Response:
        q = request.query
        start = _resolve({"s": q.get("startTime") or None, "sm": q.get("startTimeMs") or None}, "s", "sm")
        end = _resolve({"e": q.get("endTime") or None, "em": q.get("endTimeMs") or None}, "e", "em")
        if start is None or end is None:
            raise _invalid("startTime (or startTimeMs) and endTime (or endTimeMs) are required")
        if start <= _now(em):
            raise _invalid("the start time must be later than the current time")
        if end <= start:
            raise _invalid("the end time must be later than the start time")
        if end - start > timedelta(days=90):
            raise _invalid("the range between start and end must not exceed 90 days")
        limit = _query_int(request, "limit") or 10
        if limit < 1:
            raise _invalid("limit must be >= 1")
        zone = _zone(q.get("timeZoneCode") or "America/Los_Angeles")
        busy = [((r.get("_start") or r["_end"]), r["_end"]) for r in em.tasks.records() if not r["finishFlag"]]
        slots = []
        day = start.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
        while day < end:
            if day.weekday() < 5:  # GAP: one-hour slots, 9:00-17:00 on weekdays, in the zone
                for hour in range(9, 17):
                    slot_start = day.replace(hour=hour)
                    slot_end = slot_start + timedelta(hours=1)
                    s, e = slot_start.timestamp(), slot_end.timestamp()
                    if (
                        s >= start.timestamp()
                        and e <= end.timestamp()
                        and not any(b0 < e and b1 > s for b0, b1 in busy)
                    ):
                        slots.append((slot_start, slot_end))
            day = (day + timedelta(days=1)).replace(hour=0)
        data = {
            "total": len(slots),
            "slots": [
                {
                    "startTime": a.isoformat(timespec="seconds"),
                    "endTime": b.isoformat(timespec="seconds"),
                    "startTimeMs": round(a.timestamp() * 1000),
                    "endTimeMs": round(b.timestamp() * 1000),
                }
                for a, b in slots[:limit]
            ],
        }
        return web.json_response({"data": data})

    app.router.add_get("/v2.0/calendar/meetings/available", meetings)
    app.router.add_get("/v2.0/calendar", listing)
    app.router.add_post("/v2.0/calendar", create)
    app.router.add_put("/v2.0/calendar/{calendar_id}", update)
    app.router.add_delete("/v2.0/calendar/{calendar_id}", delete)
    app.router.add_post("/v2.0/calendar/{calendar_id}/finish", finish)
    app.router.add_post("/v2.0/calendar/{calendar_id}/unfinish", unfinish)


# -- V1 tasks and appointments ---------------------------------------------------------------


def _v1_task(record: dict[str, Any]) -> dict[str, Any]:
    finished = record.get("finishTime")
    out = {
        "id": record["id"],
        "leadId": record["leadId"],
        "creatorId": record["creatorId"],
        "content": record["content"],
        "type": record["type"],
        "deadline": _utc_text(datetime.fromtimestamp(record["_end"], UTC)),
        "finishTime": _utc_text(datetime.strptime(finished, "%Y-%m-%dT%H:%M:%SGMT").replace(tzinfo=UTC))
        if finished
        else "",
        "createTime": _utc_text(datetime.strptime(record["createTime"], "%Y-%m-%dT%H:%M:%SGMT").replace(tzinfo=UTC)),
        "lastUpdate": _utc_text(datetime.strptime(record["lastUpdate"], "%Y-%m-%dT%H:%M:%SGMT").replace(tzinfo=UTC)),
        "deleteFlag": False,
        "finishFlag": record["finishFlag"],
    }
    for key in (
        "leadName",
        "leadEmail",
        "leadPhone",
        "leadFirstName",
        "leadLastName",
        "reminderType",
        "assignedRole",
        "assignedUser",
        "teamId",
        "assignedUserId",
        "pipelineId",
        "leadUserId",
    ):
        if record.get(key) is not None:
            out[key] = record[key]
    return out


def _v1(em: LoftyEmulator, app: web.Application) -> None:
    def lead_of(request: web.Request) -> dict[str, Any]:
        lead_id = _query_int(request, "leadId")
        if lead_id is None or lead_id < 1:
            raise _invalid("leadId is required")
        lead = em.leads.get(lead_id)
        if lead is None:
            raise _error(404, 20006, f"LEAD_NOT_EXIST: lead {lead_id} does not exist")
        return lead

    def task_of(request: web.Request) -> dict[str, Any]:
        raw = request.match_info["task_id"]
        record = em.tasks.get(int(raw)) if raw.isdigit() else None
        if record is None or record["type"] == "Appointment" or not em.visible(record):
            raise _error(404, "TASK_NOT_EXIST", "Task does not exist or has been deleted")
        return record

    async def listing(request: web.Request) -> web.Response:
        lead = lead_of(request)
        tasks = [_v1_task(r) for r in em.tasks_of(lead["leadId"]) if r["type"] != "Appointment" and em.visible(r)]
        return web.json_response({"taskList": tasks})

    async def create(request: web.Request) -> web.Response:
        body = await _json(request)
        if not isinstance(body, dict):
            raise _invalid("request body must be a JSON object")
        for field in ("content", "leadId", "deadline", "type", "assignedRole"):
            if body.get(field) in (None, ""):
                raise _invalid(f"{field} is required")
        if body["type"] not in _V1_TYPES or body["assignedRole"] not in _ROLES:
            raise _invalid("type must be Other, Call, Email or Text; assignedRole Agent or Assistant")
        if not isinstance(body["deadline"], int):
            raise _invalid("deadline must be epoch milliseconds")
        lead = em.leads.get(body["leadId"])
        if lead is None:
            raise _error(400, 20017, "PERMISSION_DENIED: no manage permission on the lead")
        end = datetime.fromtimestamp(body["deadline"] / 1000, UTC)
        record = em.new_task_record(
            lead=lead,
            kind=body["type"],
            content=body["content"],
            role=body["assignedRole"],
            start=None,
            end=end,
            zone="America/Los_Angeles",
            address=None,
        )
        em.hide_if_late(record, request)
        em.put_task(record)
        return web.json_response({"taskId": record["id"]})

    async def get(request: web.Request) -> web.Response:
        return web.json_response({"task": _v1_task(task_of(request))})

    async def update(request: web.Request) -> web.Response:
        record = task_of(request)
        body = await _json(request, required=False) or {}
        if not isinstance(body, dict) or not body:
            raise _error(400, "MISSING_PARAMETER", "The request body is empty")
        if body.get("leadId") is not None and body["leadId"] != record["leadId"]:
            raise _error(400, "INVALID_UPDATE_OPERATION_LEADID", "leadId does not match the task's lead")
        stamp = _gmt(_now(em))
        if body.get("finishFlag") is True:
            if record["id"] in em.smart_plan_tasks:
                raise _error(400, "TASK_IS_SMARTPLAN", "Smart-plan tasks cannot be finished through the API")
            em.put_task({**record, "finishFlag": True, "finishTime": stamp, "lastUpdate": stamp})
            return web.Response(status=200)
        updated = dict(record, lastUpdate=stamp)
        if body.get("content"):
            updated["content"] = body["content"]
        if body.get("type") is not None:
            if body["type"] not in _V1_TYPES:
                raise _invalid("type must be Other, Call, Email or Text")
            updated["type"] = body["type"]
        if body.get("assignedRole") is not None:
            if body["assignedRole"] not in _ROLES:
                raise _invalid("assignedRole must be Agent or Assistant")
            updated["assignedRole"] = body["assignedRole"]
        if body.get("deadline") is not None:
            end = datetime.fromtimestamp(int(body["deadline"]) / 1000, UTC)
            updated["_end"], updated["endAt"] = seconds_of(end), _gmt(end)
        em.put_task(updated)
        return web.Response(status=200)

    async def delete(request: web.Request) -> web.Response:
        em.delete_task(task_of(request)["id"])
        return web.Response(status=200)

    async def appointments(request: web.Request) -> web.Response:
        lead = lead_of(request)
        out = []
        for record in em.tasks_of(lead["leadId"]):
            if record["type"] != "Appointment" or not em.visible(record):
                continue
            created = datetime.strptime(record["createTime"], "%Y-%m-%dT%H:%M:%SGMT").replace(tzinfo=UTC)
            updated = datetime.strptime(record["lastUpdate"], "%Y-%m-%dT%H:%M:%SGMT").replace(tzinfo=UTC)
            item = {
                "id": record["id"],
                "descr": record["content"],
                "address": record.get("address") or "",
                "createTime": created.isoformat(),
                "lastUpdate": updated.isoformat(),
                "deadline": round((record.get("_start") or record["_end"]) * 1000),
                "endTime": round(record["_end"] * 1000),
                "allDay": False,
                "finishFlag": record["finishFlag"],
                "deleteFlag": False,
                "overdue": (not record["finishFlag"]) and record["_end"] < em.clock(),
                "leadId": record["leadId"],
                "assignToUid": record["assignedUserId"],
                "assignRoleType": 1 if record["assignedRole"] == "Agent" else 2,
                "creatorId": record["creatorId"],
            }
            if record.get("finishTime"):
                finished = datetime.strptime(record["finishTime"], "%Y-%m-%dT%H:%M:%SGMT").replace(tzinfo=UTC)
                item["finishTime"] = round(finished.timestamp() * 1000)
            out.append(item)
        return web.json_response(out)

    app.router.add_get("/v1.0/tasks", listing)
    app.router.add_post("/v1.0/tasks", create)
    app.router.add_get("/v1.0/tasks/{task_id}", get)
    app.router.add_put("/v1.0/tasks/{task_id}", update)
    app.router.add_delete("/v1.0/tasks/{task_id}", delete)
    app.router.add_get("/v1.0/appts", appointments)


# -- leads ---------------------------------------------------------------------------------


def render_lead(record: dict[str, Any]) -> dict[str, Any]:
    """A lead as GET /v1.0/leads/{id} returns it (inside ``{"lead": ...}``)."""
    return {k: v for k, v in record.items() if not k.startswith("_") and v is not None}


def _check_lead_body(body: dict[str, Any], *, creating: bool) -> None:
    if creating and not str(body.get("firstName") or "").strip():
        raise _invalid("firstName is required")
    for field in ("emails", "phones", "segments", "tagsAdd", "tagsRemove"):
        value = body.get(field)
        if value is not None and (not isinstance(value, list) or not all(isinstance(v, str) for v in value)):
            raise _invalid(f"{field} must be an array of strings")
    tags = body.get("tags")
    if tags is not None:
        # The spec says an array of strings; the lead-management guide (seed 003) sends objects
        # [{"tagName": "follow-up"}]. Both are accepted.
        if not isinstance(tags, list) or not all(
            isinstance(t, str) or (isinstance(t, dict) and isinstance(t.get("tagName"), str)) for t in tags
        ):
            raise _invalid('tags must be an array of strings or of objects {"tagName": string}')
        body["tags"] = [t if isinstance(t, str) else t["tagName"] for t in tags]
    for phone in body.get("phones") or []:
        if len(phone) > 20:
            raise _error(400, 20043, "PARAMETER_TOO_LONG: a phone has more than 20 characters")
    for kind in body.get("leadTypes") or []:
        if kind not in _LEAD_TYPES:
            raise _invalid(f"leadTypes has an unknown type {kind!r}")
    if body.get("stage") is not None and len(str(body["stage"])) >= 20:
        raise _error(400, 20043, "PARAMETER_TOO_LONG: stage must be shorter than 20 characters")


def _apply_lead(em: LoftyEmulator, record: dict[str, Any], body: dict[str, Any]) -> None:
    for field in _LEAD_FIELDS:
        if body.get(field) is not None:
            record[field] = body[field]
    for field in ("firstName", "lastName"):
        if isinstance(record.get(field), str):
            record[field] = record[field][:30]  # documented: longer names are cut to 30
    stamp = _gmt(_now(em))
    tags = {t["tagName"]: t for t in record.get("tags", [])}

    def tag(name: str) -> dict[str, Any]:
        return {
            "leadId": record["leadId"],
            "tagId": int(hashlib.sha1(name.encode()).hexdigest()[:8], 16),
            "createTime": stamp,
            "updateTime": stamp,
            "tagName": name[:64],
            "creatorUserId": em.user_id,
            "visibleType": 1,
        }

    if body.get("clearAllTags") is True:
        tags = {}
    elif body.get("tags") is not None:
        tags = {name: tags.get(name) or tag(name) for name in body["tags"]}
    for name in body.get("tagsAdd") or []:
        tags.setdefault(name, tag(name))
    for name in body.get("tagsRemove") or []:
        tags.pop(name, None)
    record["tags"] = list(tags.values())
    if body.get("assignedUserId") is not None:
        user = em.users.get(body["assignedUserId"])
        if user is None:
            raise _error(400, 20003, "USER_NOT_EXIST: assignedUserId is not a member of the team")
        record["assignedUser"] = f"{user['firstName']} {user['lastName']}"
    if body.get("property") is not None:
        record["leadPropertyList"] = [body["property"]]
    if body.get("inquiry") is not None:
        record["leadInquiry"] = body["inquiry"]
    if body.get("customAttributeList") is not None:
        record["customAttributes"] = body["customAttributeList"]
    if body.get("leadFamilyMemberList") is not None:
        record["leadFamilyMemberList"] = body["leadFamilyMemberList"]
    record["lastUpdateTime"] = stamp


def _visible(em: LoftyEmulator, record: dict[str, Any], *, with_trash: bool = False) -> bool:
    if record["_trash"] and not with_trash:
        return False
    if not em.visible(record):
        return False
    return bool(em.clock() - record["_created"] >= em.lead_visibility_delay)


def _leads(em: LoftyEmulator, app: web.Application) -> None:
    def lead_of(request: web.Request, *, with_trash: bool = False) -> dict[str, Any]:
        raw = request.match_info["lead_id"]
        record = em.leads.get(int(raw)) if raw.isdigit() else None
        if record is None or not _visible(em, record, with_trash=with_trash):
            raise _error(404, 20006, "LEAD_NOT_EXIST: The specified lead was not found or the caller has no access")
        return record

    async def create(request: web.Request) -> web.Response:
        body = await _json(request)
        if not isinstance(body, dict):
            raise _invalid("request body must be a JSON object")
        _check_lead_body(body, creating=True)
        lead_id = next(em._lead_ids)
        record = em.add_lead(lead_id, first_name=str(body["firstName"]), last_name=body.get("lastName") or "")
        record.update({"emails": [], "phones": [], "leadTypes": [], "source": None})
        _apply_lead(em, record, body)
        em.hide_if_late(record, request)
        em.put_lead(record)
        return web.json_response({"leadId": lead_id})

    async def get(request: web.Request) -> web.Response:
        with_trash = _query_bool(request, "withTrash") or False
        return web.json_response({"lead": render_lead(lead_of(request, with_trash=with_trash))})

    async def listing(request: web.Request) -> web.Response:
        q = request.query
        limit = _query_int(request, "limit")
        if limit is not None and not 1 <= limit <= 100:
            raise _error(400, 20042, "LIMIT_NOT_VALID: Limit must be between 1 and 100")
        limit = limit or 25  # GAP: default limit; 25 was observed
        offset = _query_int(request, "offset") or 0
        if offset < 0:
            raise _invalid("offset must be >= 0")
        sort = q.get("sort")
        if sort and sort not in LEAD_SORTS:
            raise _invalid(f"sort {sort!r} is not supported")
        filters = {k: v for k, v in q.items() if k not in ("limit", "offset", "scrollId")}
        snapshot_id: int | None = None
        if q.get("scrollId"):
            try:
                cursor = json.loads(base64.urlsafe_b64decode(q["scrollId"].encode()))
                offset = int(cursor["offset"])
                filters = cursor["filters"]
                snapshot_id = cursor.get("snapshot")
            except (ValueError, KeyError, TypeError, AttributeError):
                raise _invalid("scrollId is not valid") from None
        metadata: dict[str, Any]
        if isinstance(snapshot_id, int) and snapshot_id in em.lead_scrolls:
            snapshot = em.lead_scrolls[snapshot_id]
            # GAP: scrollId semantics are undocumented; modelled as a snapshot of the matching
            # lead ids taken on the first page (later pages are cheap, as on a search engine).
            em.lead_scrolls.move_to_end(snapshot_id)
            total = len(snapshot)
            page = [
                lead
                for lead in (em.leads.get(i) for i in snapshot[offset : offset + limit])
                if lead is not None and _visible(em, lead)
            ]
            metadata = {"collection": "leads", "limit": limit, "offset": offset, "total": total}
            if offset + limit < total:
                cursor = {"offset": offset + limit, "filters": filters, "snapshot": snapshot_id}
                metadata["scrollId"] = base64.urlsafe_b64encode(json.dumps(cursor).encode()).decode()
            return web.json_response({em.metadata_key: metadata, "leads": [render_lead(lead) for lead in page]})
        precise = str(filters.get("preciseSearchFlag", "")).lower() == "true"

        def matches(lead: dict[str, Any]) -> bool:
            if not _visible(em, lead):
                return False
            if filters.get("stage") and lead.get("stage") != filters["stage"]:
                return False
            if filters.get("source") and lead.get("source") != filters["source"]:
                return False
            if filters.get("assignedUserId") and str(lead.get("assignedUserId")) != filters["assignedUserId"]:
                return False
            for key, field in (("email", "emails"), ("phone", "phones")):
                wanted = filters.get(key)
                if wanted:
                    values = lead.get(field) or []
                    if not (wanted in values if precise else any(wanted.lower() in v.lower() for v in values)):
                        return False
            if filters.get("key"):
                text = " ".join(
                    [
                        lead.get("firstName") or "",
                        lead.get("lastName") or "",
                        *lead.get("emails", []),
                        *lead.get("phones", []),
                    ]
                ).lower()
                if filters["key"].lower() not in text:
                    return False
            names = {t["tagName"] for t in lead.get("tags", [])}
            if filters.get("anyTags") and not names & set(filters["anyTags"].split(",")):
                return False
            if filters.get("allTags") and not set(filters["allTags"].split(",")) <= names:
                return False
            if filters.get("segments") and not set(filters["segments"].split(",")) <= set(lead.get("segments", [])):
                return False
            return not (filters.get("contacted") and (filters["contacted"] == "true") != lead.get("_contacted", False))

        found = [lead for lead in em.leads.values() if matches(lead)]
        descending = str(filters.get("desc", "true")).lower() != "false"
        found.sort(key=lambda lead: (lead["_created"], lead["leadId"]), reverse=descending)
        page = found[offset : offset + limit]
        metadata = {"collection": "leads", "limit": limit, "offset": offset, "total": len(found)}
        if offset + limit < len(found):
            cursor = {"offset": offset + limit, "filters": filters}
            if len(found) > 1000:  # a long scroll: keep the matching ids for the next pages
                snapshot_id = next(em._scroll_ids)
                em.lead_scrolls[snapshot_id] = array("q", (lead["leadId"] for lead in found))
                while len(em.lead_scrolls) > 16:
                    em.lead_scrolls.popitem(last=False)
                cursor["snapshot"] = snapshot_id
            metadata["scrollId"] = base64.urlsafe_b64encode(json.dumps(cursor).encode()).decode()
        return web.json_response({em.metadata_key: metadata, "leads": [render_lead(lead) for lead in page]})

    async def update(request: web.Request) -> web.Response:
        record = dict(lead_of(request))
        body = await _json(request, required=False) or {}
        if not isinstance(body, dict) or not body:
            raise _error(400, "MISSING_PARAMETER", "The request body is empty")
        _check_lead_body(body, creating=False)
        _apply_lead(em, record, body)
        em.put_lead(record)
        return web.json_response({"leadId": record["leadId"]})

    async def assign(request: web.Request) -> web.Response:
        record = dict(lead_of(request))
        body = await _json(request)
        # Two documented forms: the spec's array of {role, assignee (account email)}, and the
        # lead-management guide's {"assignees": [{"userId": 10000000514}]} (seed 003; role GAP:
        # taken as Agent unless given).
        if isinstance(body, dict) and "assignees" in body:
            items = body["assignees"]
            if not isinstance(items, list) or not items:
                raise _invalid('assignees must be a non-empty array of {"userId": integer}')
            pairs = []
            for item in items:
                user_id = item.get("userId") if isinstance(item, dict) else None
                if isinstance(user_id, bool) or not isinstance(user_id, int):
                    raise _invalid(f'assignees[] must be {{"userId": integer}}, got {item!r}')
                if user_id not in em.users:
                    raise _error(400, 20003, f"USER_NOT_EXIST: no team member with userId {user_id}")
                role = item.get("role", "Agent")
                if role not in ("Agent", "Assistant", "Lender"):
                    raise _invalid("role must be Agent, Assistant or Lender")
                pairs.append((role, user_id))
        elif isinstance(body, list) and body:
            pairs = []
            for item in body:
                if not isinstance(item, dict) or item.get("role") not in ("Agent", "Assistant", "Lender"):
                    raise _invalid("role must be Agent, Assistant or Lender")
                found = next((uid for uid, u in em.users.items() if u["email"] == item.get("assignee")), None)
                if found is None:
                    raise _error(400, 20003, f"USER_NOT_EXIST: no team member with account {item.get('assignee')!r}")
                pairs.append((item["role"], found))
        else:
            raise _invalid('the body must be a non-empty array of {role, assignee} or {"assignees": [{"userId"}]}')
        for role, user_id in pairs:
            if role == "Agent":
                user = em.users[user_id]
                record["assignedUserId"] = user_id
                record["assignedUser"] = f"{user['firstName']} {user['lastName']}"
                record["assignTime"] = _gmt(_now(em))
        em.put_lead(record)
        return web.json_response({"leadId": record["leadId"]})

    async def trash(request: web.Request) -> web.Response:
        record = dict(lead_of(request))
        if not request.query.get("reason", "").strip():
            raise _error(400, "MISSING_PARAMETER", "reason is required")
        record["_trash"] = True
        record["_trashReason"] = request.query["reason"]
        em.put_lead(record)
        return web.Response(status=200)

    async def preview(request: web.Request) -> web.Response:
        body = await _json(request)
        if not isinstance(body, dict) or not body.get("firstName"):
            raise _error(400, "PARAM_FIRST_NAME_FILL", "firstName is required")
        if not body.get("email"):
            raise _error(400, "PARAM_EMAIL_MUST_FILL", "email is required")
        existing = next((lead for lead in em.leads.values() if body["email"] in lead.get("emails", [])), None)
        user = em.users[em.user_id]
        return web.json_response(
            [
                {
                    "leadId": existing["leadId"] if existing else 0,
                    "leadUserId": existing["leadUserId"] if existing else 0,
                    "firstName": body["firstName"],
                    "lastName": body.get("lastName", ""),
                    "customRoleAssignees": [
                        {
                            "agentFullName": f"{user['firstName']} {user['lastName']}",
                            "roleId": 1,
                            "role": "Agent",
                            "assigneeId": em.user_id,
                            "assignee": user["email"],
                            "permissionProfileName": "Agent",
                        }
                    ],
                }
            ]
        )

    app.router.add_post("/v1.0/leads/assignee", preview)
    app.router.add_get("/v1.0/leads", listing)
    app.router.add_post("/v1.0/leads", create)
    app.router.add_get("/v1.0/leads/{lead_id}", get)
    app.router.add_put("/v1.0/leads/{lead_id}", update)
    app.router.add_delete("/v1.0/leads/{lead_id}", trash)
    app.router.add_post("/v1.0/leads/{lead_id}/assignment", assign)


def _me_handler(em: LoftyEmulator) -> Handler:
    async def me(request: web.Request) -> web.Response:
        user = em.users[em.user_id]
        return web.json_response(
            {
                "id": 113209,
                "teamId": 1_000_123,
                "invitorUserId": em.user_id,
                "memberUserId": em.user_id,
                "role": 1,
                "roleName": "Agent",
                "firstLetter": user["firstName"][:1],
                "email": user["email"],
                "firstName": user["firstName"],
                "lastName": user["lastName"],
                "phoneNumber": "5550100",
                "status": 1,
                "virtualNumber": "",
                "newLeadCount": 0,
                "assignedLeadCount": sum(1 for lead in em.leads.values() if lead.get("assignedUserId") == em.user_id),
                "isAdmin": True,
                "timeZoneId": "America/Los_Angeles",
                "groupId": 1,
                "groupName": "Sandbox Office",
                "agentInfo": {"licenseId": "SB-0001", "position": "Agent", "companyName": "Sandbox Realty"},
                "accountStatus": "ACTIVE",
            }
        )

    return me


# -- webhooks -------------------------------------------------------------------------------


def _webhooks(em: LoftyEmulator, app: web.Application) -> None:
    async def subscribe(request: web.Request) -> web.Response:
        body = await _json(request)
        if not isinstance(body, dict):
            raise _invalid("request body must be a JSON object")
        if "callbackUrl" not in body and "url" in body:
            raise _error(400, 20049, "Please enter url in right format")
        list_id = body.get("listId")
        if not isinstance(list_id, int) or not 1 <= list_id <= 12:
            raise _error(400, "WEBHOOK_TYPE_ERROR", "listId must be an event type from 1 to 12")
        url = body.get("callbackUrl")
        if not isinstance(url, str) or not url.startswith("https://"):
            raise _error(400, "WEBHOOK_CALLBACK_URL_INVALID", "callbackUrl must be an HTTPS URL")
        limit = body.get("limit", 100)
        if not isinstance(limit, int) or not 1 <= limit <= 5000:
            raise _invalid("limit must be between 1 and 5000")
        if len(em.webhooks) >= em.max_webhooks:
            raise _error(400, "WEBHOOK_EXCEED_LIMIT", "The subscription quota is used up")
        hook = {
            "subscribeId": next(em._webhook_ids),
            "teamId": 1_000_123,
            "listId": list_id,
            "vendorId": 123,
            "callbackUrl": url,
            "limit": limit,
            "permissionMode": body.get("permissionMode", 0),
        }
        em.webhooks[hook["subscribeId"]] = hook
        return web.json_response(hook)

    async def listing(request: web.Request) -> web.Response:
        return web.json_response(list(em.webhooks.values()))

    async def delete(request: web.Request) -> web.Response:
        raw = request.match_info["subscribe_id"]
        if not raw.isdigit() or int(raw) not in em.webhooks:
            raise _error(400, "WEBHOOK_DELETE_NOT_EXIST", "The subscription does not exist")
        del em.webhooks[int(raw)]
        return web.Response(status=200)

    app.router.add_post("/v1.0/webhook", subscribe)
    app.router.add_get("/v1.0/webhooks", listing)
    app.router.add_delete("/v1.0/webhook/{subscribe_id}", delete)


# -- OAuth token endpoints ------------------------------------------------------------------


def _oauth(em: LoftyEmulator, app: web.Application) -> None:
    def issue(client_id: str, *, with_refresh: bool = True) -> dict[str, Any]:
        token = "at-" + secrets.token_urlsafe(24)
        em.issued_tokens[token] = em.clock() + em.token_ttl
        out: dict[str, Any] = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": int(em.token_ttl),
            "scope": "openApi",
        }
        if with_refresh:
            refresh = "rt-" + secrets.token_urlsafe(24)
            em.refresh_tokens[refresh] = client_id
            out["refresh_token"] = refresh
        return out

    def oauth_error(status: int, error: str, description: str) -> web.Response:
        return web.json_response({"error": error, "error_description": description}, status=status)  # GAP: format

    async def token(request: web.Request) -> web.Response:
        params: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            params.update(await request.json())
        else:
            params.update(dict(await request.post()))
        client_id, secret = params.get("client_id"), params.get("client_secret")
        basic = request.headers.get("Authorization", "")
        if basic.startswith("Basic "):
            try:
                client_id, _, secret = base64.b64decode(basic[6:]).decode().partition(":")
            except ValueError:
                return oauth_error(401, "invalid_client", "malformed Basic credentials")
        grant = params.get("grant_type")
        known_secret = em.oauth_clients.get(str(client_id))
        if grant == "authorization_code":
            code = em.authorization_codes.pop(str(params.get("code")), None)
            if code is None or code["client_id"] != client_id:
                return oauth_error(400, "invalid_grant", "the authorization code is invalid or used")
            if code.get("redirect_uri") and code["redirect_uri"] != params.get("redirect_uri"):
                return oauth_error(400, "invalid_grant", "redirect_uri does not match")
            if code.get("code_challenge"):
                verifier = str(params.get("code_verifier") or "")
                digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
                if digest != code["code_challenge"]:
                    return oauth_error(400, "invalid_grant", "code_verifier does not match the challenge")
            elif known_secret is None or secret != known_secret:
                return oauth_error(401, "invalid_client", "unknown client or wrong secret")
            return web.json_response(issue(str(client_id)))
        if known_secret is None or (secret != known_secret and grant != "refresh_token"):
            return oauth_error(401, "invalid_client", "unknown client or wrong secret")
        if grant == "refresh_token":
            owner = em.refresh_tokens.pop(str(params.get("refresh_token")), None)
            if owner is None or owner != client_id:
                return oauth_error(400, "invalid_grant", "the refresh token is invalid, used or revoked")
            return web.json_response(issue(owner))
        if grant == "client_credentials":
            if params.get("customer_key") not in em.api_keys:
                return oauth_error(400, "invalid_grant", "customer_key is not a valid API key")
            return web.json_response(issue(str(client_id), with_refresh=False))
        return oauth_error(400, "unsupported_grant_type", f"grant_type {grant!r} is not supported")

    app.router.add_post("/oauth/token", token)
    app.router.add_post("/api/user-web/oauth/token", token)
