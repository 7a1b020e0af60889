"""The benchmark's server process: an emulator (or a canned lead pager) on loopback.

Run as ``python -m benchmarks._server '<json options>'``; it prints its base URL on one line of
stdout and serves until its stdin closes (the parent exited) or it gets SIGTERM.

Options (JSON object):

* ``api``: ``"lofty"`` (the Lofty emulator), ``"superfone"`` (the Superfone emulator) or
  ``"leads"`` (a pager over ``leads`` synthetic Lofty leads; see below);
* ``rate_limit``: ``[limit, window_seconds]`` for the emulator's fixed windows, or ``null`` for none;
* ``faults``: a fault spec as for ``--sandbox-faults`` (``"10%,seed=7,slow=2"``), or ``null``;
* ``forget``: drop created tasks every second (for long memory runs of the *client*: the server's
  own memory is not what is measured, and a million stored tasks would only slow the machine);
* ``leads``: how many leads the ``"leads"`` pager serves.

Besides the API, every server answers ``/_bench/*`` (outside the emulator's ``/v`` or
``/enterprise`` prefix, so never faulted or rate limited):

* ``GET /_bench/timeline``: ``[[epoch_seconds, status], ...]`` of every API request since the last
  reset (status 0 when the connection was dropped);
* ``GET /_bench/contents``: ``{content: count}`` of the Lofty tasks stored (duplicates show as >1);
* ``POST /_bench/reset``: forget the timeline and every stored task.

The ``"leads"`` pager exists because the emulator scans and sorts every lead per page (fine for
tests, quadratic over 100,000 leads): it renders one page of real emulator leads once, through the
emulator's own ``GET /v1.0/leads``, and serves ``leads`` of them by rewriting the IDs, with the
documented ``_metadata`` and ``scrollId`` cursor.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import json
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web

from crm_core.emulator import FaultPlan, FixedWindowRateLimit, serve

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
TIMELINE: web.AppKey[list[tuple[float, int]]] = web.AppKey("bench_timeline", list)
_API_PREFIXES = ("/v", "/enterprise")


def _timeline_middleware(timeline: list[tuple[float, int]]) -> Any:
    @web.middleware
    async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(_API_PREFIXES):
            return await handler(request)
        status = 0
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            timeline.append((time.time(), status))

    return record


def _add_control(app: web.Application, timeline: list[tuple[float, int]], tasks: dict[Any, Any] | None) -> None:
    async def get_timeline(request: web.Request) -> web.Response:
        return web.json_response(timeline)

    async def contents(request: web.Request) -> web.Response:
        counts: dict[str, int] = {}
        for record in (tasks or {}).values():
            text = str(record.get("content", record.get("customer_note", "")))
            counts[text] = counts.get(text, 0) + 1
        return web.json_response(counts)

    async def reset(request: web.Request) -> web.Response:
        timeline.clear()
        if tasks is not None:
            tasks.clear()
        return web.json_response({"ok": True})

    app.router.add_get("/_bench/timeline", get_timeline)
    app.router.add_get("/_bench/contents", contents)
    app.router.add_post("/_bench/reset", reset)


def _shrink_request_log(emulator: Any) -> None:
    """The emulators log recent requests for tests; a benchmark server needs no such log."""
    core = getattr(emulator, "core", None)
    if core is not None and isinstance(getattr(core, "requests", None), deque):
        core.requests = deque(maxlen=100)


def _emulator_app(options: dict[str, Any]) -> tuple[web.Application, dict[Any, Any]]:
    rate = options.get("rate_limit")
    limit = FixedWindowRateLimit(limit=int(rate[0]), window=float(rate[1])) if rate else None
    faults = FaultPlan.parse(options["faults"]) if options.get("faults") else None
    emulator: Any
    if options["api"] == "lofty":
        from lofty_async.testing import LoftyEmulator

        emulator = LoftyEmulator(rate_limit=limit, faults=faults)
    else:
        from superfone_async.testing import SuperfoneEmulator

        emulator = SuperfoneEmulator(rate_limit=limit, faults=faults)
    if limit is None and emulator.core.rate_limit is not None:
        emulator.core.rate_limit.enabled = False
    _shrink_request_log(emulator)
    return emulator.app(), emulator.tasks


async def _render_lead_page(size: int) -> list[dict[str, Any]]:
    """One page of leads as the Lofty emulator renders them (via its HTTP API)."""
    from lofty_async.testing import SANDBOX_API_KEY, LoftyEmulator, sandbox_lead_ids

    emulator = LoftyEmulator(leads=sandbox_lead_ids(size), rate_limit=None)
    if emulator.core.rate_limit is not None:
        emulator.core.rate_limit.enabled = False
    async with (
        serve(emulator.app()) as url,
        aiohttp.ClientSession() as session,
        session.get(
            f"{url}/v1.0/leads", params={"limit": str(size)}, headers={"Authorization": f"token {SANDBOX_API_KEY}"}
        ) as response,
    ):
        response.raise_for_status()
        data = await response.json()
    leads: list[dict[str, Any]] = data["leads"]
    return leads


def _leads_app(template: list[dict[str, Any]], total: int) -> web.Application:
    first_id = 700_000_000_000_000

    async def listing(request: web.Request) -> web.Response:
        limit = int(request.query.get("limit") or 25)
        if not 1 <= limit <= 100:
            return web.json_response({"code": 20042, "message": "LIMIT_NOT_VALID"}, status=400)
        offset = int(request.query.get("offset") or 0)
        scroll = request.query.get("scrollId")
        if scroll:
            offset = int(json.loads(base64.urlsafe_b64decode(scroll.encode()))["offset"])
        page = []
        for index in range(offset, min(total, offset + limit)):
            lead = copy.copy(template[index % len(template)])
            lead["leadId"] = first_id + index
            page.append(lead)
        metadata: dict[str, Any] = {"collection": "leads", "limit": limit, "offset": offset, "total": total}
        if offset + limit < total:
            cursor = json.dumps({"offset": offset + limit}).encode()
            metadata["scrollId"] = base64.urlsafe_b64encode(cursor).decode()
        return web.json_response({"_metadata": metadata, "leads": page})

    app = web.Application()
    app.router.add_get("/v1.0/leads", listing)
    return app


async def _main(options: dict[str, Any]) -> None:
    timeline: list[tuple[float, int]] = []
    tasks: dict[Any, Any] | None = None
    if options["api"] == "leads":
        app = _leads_app(await _render_lead_page(100), int(options.get("leads", 1000)))
    else:
        app, tasks = _emulator_app(options)
    app.middlewares.insert(0, _timeline_middleware(timeline))
    _add_control(app, timeline, tasks)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)

    def watch_stdin() -> None:  # the parent died or closed the pipe: stop
        sys.stdin.read()
        loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=watch_stdin, daemon=True).start()

    async def forget() -> None:
        while tasks is not None:
            await asyncio.sleep(1.0)
            tasks.clear()
            timeline.clear()

    async with serve(app) as url:
        print(url, flush=True)
        keeper = asyncio.create_task(forget()) if options.get("forget") else None
        await stop.wait()
        if keeper is not None:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper


if __name__ == "__main__":
    asyncio.run(_main(json.loads(sys.argv[1])))
