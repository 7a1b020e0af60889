"""An aiohttp.web app that shares one LoftyClient across all its handlers.

The client is opened once for the app's lifetime (a cleanup context) and closed on shutdown;
every handler uses it concurrently. SDK errors become HTTP responses in one middleware:

==========================================  =============================================
SDK error                                   HTTP response
==========================================  =============================================
``ValidationError`` (nothing was sent)       422 ``{"error", "field", "value", "allowed"}``
``NotFoundError``                            404
``PermissionDeniedError``                    403
``BadRequestError``                          400 with Lofty's code and message
``RateLimitError``                           503 with ``Retry-After`` (seconds)
``APITimeoutError``                          504
``APIConnectionError``, other ``APIError``   502 (Lofty failed or could not be reached)
==========================================  =============================================

Endpoints: ``POST /tasks`` (body: :meth:`lofty_async.Tasks.create` arguments in snake_case),
``GET /tasks/{task_id}``, ``POST /tasks/{task_id}/finish``, ``GET /leads/{lead_id}/tasks``.

Run it against the local sandbox (an in-process Lofty emulator), then call it::

    python examples/webapp.py --sandbox --port 8000
    curl -s localhost:8000/tasks -d '{"type": "Call", "content": "Call back", "lead_id": 563172647619608,
         "assigned_role": "Agent", "end_at": "2027-01-01T10:00:00Z"}'

Against the real API: ``LOFTY_API_KEY=... python examples/webapp.py``; against a served sandbox
(``lofty-async sandbox --port 8080``): ``--base-url http://127.0.0.1:8080`` with
``LOFTY_API_KEY=sandbox-lofty-api-key``.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any

import attrs
import click
from aiohttp import web

from lofty_async import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    BadRequestError,
    LoftyClient,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RetryPolicy,
    Task,
    ValidationError,
)

LOFTY = web.AppKey("lofty", LoftyClient)
"""Where the app keeps its one client."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# A web request should fail fast: a short retry budget, and at most 5 s of waiting for a server hint.
WEB_RETRY = RetryPolicy(max_retries=2, max_delay=2.0, max_retry_after=5.0, deadline=15.0)


def _json_value(value: object) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple):
        return [_json_value(item) for item in value]
    return repr(value)


def task_json(task: Task) -> dict[str, Any]:
    """A task as this app's JSON: snake_case fields, ISO-8601 times, unset fields left out."""
    return {name: _json_value(value) for name, value in attrs.asdict(task, recurse=False).items() if value is not None}


def _error(status: int, error: str, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": error, "message": message, **extra}, status=status)


def _retry_after(exc: RateLimitError) -> int:
    if exc.retry_at is not None:
        return max(1, math.ceil(exc.retry_at - time.time()))
    return max(1, math.ceil(exc.retry_after or 1.0))


@web.middleware
async def sdk_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Map SDK errors to HTTP responses (the table in the module docstring)."""
    try:
        return await handler(request)
    except ValidationError as exc:
        return _error(422, "validation", str(exc), field=exc.field, value=_json_value(exc.value), allowed=exc.allowed)
    except NotFoundError as exc:
        return _error(404, "not_found", exc.message, code=_json_value(exc.code))
    except PermissionDeniedError as exc:
        return _error(403, "forbidden", exc.message, code=_json_value(exc.code))
    except BadRequestError as exc:
        return _error(400, "bad_request", exc.message, code=_json_value(exc.code))
    except RateLimitError as exc:
        seconds = _retry_after(exc)
        response = _error(503, "rate_limited", "Lofty's rate limit is spent; try again later", retry_after=seconds)
        response.headers["Retry-After"] = str(seconds)
        return response
    except APITimeoutError as exc:
        return _error(504, "upstream_timeout", str(exc))
    except APIConnectionError as exc:
        return _error(502, "upstream_unreachable", str(exc))
    except APIError as exc:
        return _error(502, "upstream_error", str(exc), upstream_status=exc.status)


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text="the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="the body must be a JSON object")
    return body


def _id(request: web.Request, name: str) -> int:
    raw = request.match_info[name]
    if not raw.isdigit():
        raise ValidationError(name, raw, "a positive integer")
    return int(raw)


async def create_task(request: web.Request) -> web.Response:
    """``POST /tasks`` -> 201 ``{"task_id": ...}`` (Lofty: POST /v2.0/tasks)."""
    body = await _json_body(request)
    known = {"type", "content", "lead_id", "assigned_role", "start_at", "end_at", "time_zone_code", "address"}
    unknown = sorted(set(body) - known)
    if unknown:
        raise ValidationError(unknown[0], body[unknown[0]], "one of the fields " + ", ".join(sorted(known)))
    task_id = await request.app[LOFTY].tasks.create(**body)
    return web.json_response({"task_id": task_id}, status=201)


async def get_task(request: web.Request) -> web.Response:
    """``GET /tasks/{task_id}`` -> the task (Lofty: GET /v2.0/tasks/{taskId})."""
    task = await request.app[LOFTY].tasks.get(_id(request, "task_id"))
    return web.json_response(task_json(task))


async def finish_task(request: web.Request) -> web.Response:
    """``POST /tasks/{task_id}/finish`` (Lofty: POST /v2.0/tasks/{taskId}/finish)."""
    message = await request.app[LOFTY].tasks.finish(_id(request, "task_id"))
    return web.json_response({"message": message})


async def lead_tasks(request: web.Request) -> web.Response:
    """``GET /leads/{lead_id}/tasks`` -> ``{"tasks": [...]}`` (Lofty: GET /v2.0/tasks?leadId=)."""
    tasks = await request.app[LOFTY].tasks.list(lead_id=_id(request, "lead_id"))
    return web.json_response({"tasks": [task_json(task) for task in tasks]})


def make_app(make_client: Callable[[], LoftyClient]) -> web.Application:
    """The app. ``make_client`` is called once at startup; the client is closed at shutdown."""

    async def lofty_client(app: web.Application) -> AsyncIterator[None]:
        async with make_client() as client:
            app[LOFTY] = client
            yield

    app = web.Application(middlewares=[sdk_errors])
    app.cleanup_ctx.append(lofty_client)
    app.router.add_post("/tasks", create_task)
    app.router.add_get("/tasks/{task_id}", get_task)
    app.router.add_post("/tasks/{task_id}/finish", finish_task)
    app.router.add_get("/leads/{lead_id}/tasks", lead_tasks)
    return app


@click.command()
@click.option("--sandbox", is_flag=True, help="Serve a Lofty emulator in-process and use it.")
@click.option("--base-url", default="https://api.lofty.com", show_default=True, help="Lofty API root.")
@click.option("--port", type=int, default=8000, show_default=True)
def main(sandbox: bool, base_url: str, port: int) -> None:
    """Serve the example app (credentials from LOFTY_API_KEY unless --sandbox)."""
    from lofty_async.testing import SANDBOX_API_KEY, LoftyEmulator

    api_key = SANDBOX_API_KEY if sandbox else os.environ.get("LOFTY_API_KEY")
    if not api_key:
        raise click.UsageError("set LOFTY_API_KEY, or pass --sandbox")

    async def app_factory() -> web.Application:
        url = base_url
        stack = contextlib.AsyncExitStack()
        if sandbox:
            url = await stack.enter_async_context(LoftyEmulator().serve())
            click.echo(f"Lofty sandbox at {url}")
        app = make_app(lambda: LoftyClient(api_key=api_key, base_url=url, retry=WEB_RETRY, timeout=10.0))
        app.on_cleanup.append(lambda _app: stack.aclose())
        return app

    web.run_app(app_factory(), port=port)


if __name__ == "__main__":
    main()
