"""Per-request overhead: client CPU per request, SDK vs raw aiohttp and raw httpx.

Each contender makes the same requests to the same emulator (its own process) at the same
concurrency through :func:`~benchmarks._harness.drive`; the rounds interleave the contenders.
The raw contenders do what a careful user would: one session, ``raise_for_status()``, ``json()``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import httpx

from lofty_async import LoftyClient
from lofty_async.testing import SANDBOX_API_KEY, sandbox_lead_ids
from superfone_async import SuperfoneClient
from superfone_async.testing import SANDBOX_API_KEY as SUPERFONE_KEY
from superfone_async.testing import sandbox_lead_ids as superfone_lead_ids

from .._harness import (
    LOFTY_END_AT,
    LOFTY_ZONE,
    Context,
    Row,
    Sample,
    Server,
    Target,
    drive,
    interleave,
    median,
    scenario,
    us,
)

CONCURRENCY = 10
CPU_BUDGET = Target(1.15)
Operation = Callable[[int], Awaitable[Any]]
# name -> (setup returning (operation, close))
Contender = Callable[[], Awaitable[tuple[Operation, Callable[[], Awaitable[None]]]]]


async def _compare(
    ctx: Context, server: Server, contenders: dict[str, Contender], count: int, *, reset: bool
) -> dict[str, list[Sample]]:
    """Run every contender ``ctx.rounds`` times, interleaved; ``reset``: empty the server before each run."""
    samples: dict[str, list[Sample]] = {name: [] for name in contenders}
    for _, name in interleave(ctx.rounds, list(contenders)):
        if reset:
            server.reset()
        operation, close = await contenders[name]()
        try:
            for warm in range(20):  # connections, first-call caches
                await operation(-1 - warm)
            before = len(server.timeline())
            sample = await drive(operation, count, CONCURRENCY)
            sample.requests = len(server.timeline()) - before
            if name != "sdk" and sample.requests != count:
                raise RuntimeError(f"{name} baseline sent {sample.requests} requests for {count} calls")
            samples[name].append(sample)
        finally:
            await close()
    return samples


def _rows(
    scenario_name: str, what: str, samples: dict[str, list[Sample]], sdk: str, baselines: dict[str, str]
) -> list[Row]:
    rows = []
    per_call = median([s.requests / s.count for s in samples[sdk]])
    if abs(per_call - 1.0) > 0.01:  # a finding: the SDK sends more (or fewer) requests than the call needs
        what += f" (SDK sent {per_call:.2f} requests per call)"
    for base, label in baselines.items():
        ratios = [s.cpu_per_op / b.cpu_per_op for s, b in zip(samples[sdk], samples[base], strict=True)]
        rows.append(
            Row(
                scenario_name,
                f"{what}: client CPU/call vs {label}",
                us(median([s.cpu_per_op for s in samples[sdk]])),
                us(median([s.cpu_per_op for s in samples[base]])),
                ratios,
                CPU_BUDGET if base == "aiohttp" else None,
            )
        )
    return rows


def _aiohttp(headers: dict[str, str], call: Callable[[aiohttp.ClientSession, int], Awaitable[Any]]) -> Contender:
    async def setup() -> tuple[Operation, Callable[[], Awaitable[None]]]:
        session = aiohttp.ClientSession(headers=headers)

        async def operation(number: int) -> Any:
            return await call(session, number)

        return operation, session.close

    return setup


def _httpx(headers: dict[str, str], call: Callable[[httpx.AsyncClient, int], Awaitable[Any]]) -> Contender:
    async def setup() -> tuple[Operation, Callable[[], Awaitable[None]]]:
        client = httpx.AsyncClient(headers=headers, limits=httpx.Limits(max_connections=CONCURRENCY))

        async def operation(number: int) -> Any:
            return await call(client, number)

        return operation, client.aclose

    return setup


# -- Lofty ---------------------------------------------------------------------------------------


def _lofty_body(number: int, lead: int) -> dict[str, Any]:
    return {
        "type": "Call",
        "content": f"Overhead task {number}",
        "leadId": lead,
        "assignedRole": "Agent",
        "endAt": LOFTY_END_AT,
        "timeZoneCode": LOFTY_ZONE,
    }


async def _lofty(ctx: Context, server: Server, count: int) -> list[Row]:
    url, lead = server.url, sandbox_lead_ids()[0]
    auth = {"Authorization": f"token {SANDBOX_API_KEY}"}
    async with aiohttp.ClientSession(headers=auth) as session:
        seed = await _aiohttp_create(session, url, lead, 0)
    task_id = int(seed["taskId"])

    def sdk(make: Callable[[LoftyClient], Operation]) -> Contender:
        async def setup() -> tuple[Operation, Callable[[], Awaitable[None]]]:
            client = LoftyClient(api_key=SANDBOX_API_KEY, base_url=url, max_concurrency=CONCURRENCY)
            return make(client), client.aclose

        return setup

    async def aiohttp_get(session: aiohttp.ClientSession, number: int) -> Any:
        async with session.get(f"{url}/v2.0/tasks/{task_id}") as response:
            response.raise_for_status()
            return await response.json()

    async def httpx_get(client: httpx.AsyncClient, number: int) -> Any:
        response = await client.get(f"{url}/v2.0/tasks/{task_id}")
        response.raise_for_status()
        return response.json()

    async def httpx_create(client: httpx.AsyncClient, number: int) -> Any:
        response = await client.post(f"{url}/v2.0/tasks", json=_lofty_body(number, lead))
        response.raise_for_status()
        return response.json()

    def sdk_create(client: LoftyClient) -> Operation:
        async def create(number: int) -> int:
            return await client.tasks.create(
                type="Call",
                content=f"Overhead task {number}",
                lead_id=lead,
                assigned_role="Agent",
                end_at=LOFTY_END_AT,
                time_zone_code=LOFTY_ZONE,
            )

        return create

    get_samples = await _compare(
        ctx,
        server,
        {
            "sdk": sdk(lambda client: lambda number: client.tasks.get(task_id)),
            "aiohttp": _aiohttp(auth, aiohttp_get),
            "httpx": _httpx(auth, httpx_get),
        },
        count,
        reset=False,
    )
    create_samples = await _compare(
        ctx,
        server,
        {
            "sdk": sdk(sdk_create),
            "aiohttp": _aiohttp(auth, lambda session, number: _aiohttp_create(session, url, lead, number)),
            "httpx": _httpx(auth, httpx_create),
        },
        count,
        reset=True,
    )
    baselines = {"aiohttp": "raw aiohttp + json()", "httpx": "raw httpx"}
    return [
        *_rows("overhead", f"Lofty tasks.get ×{count}", get_samples, "sdk", baselines),
        *_rows("overhead", f"Lofty tasks.create ×{count}", create_samples, "sdk", baselines),
    ]


async def _aiohttp_create(session: aiohttp.ClientSession, url: str, lead: int, number: int) -> Any:
    async with session.post(f"{url}/v2.0/tasks", json=_lofty_body(number, lead)) as response:
        response.raise_for_status()
        return await response.json()


@scenario(
    "overhead",
    "Lofty tasks.get / tasks.create: client CPU per request vs raw aiohttp and httpx",
    order=10,
)
def overhead(ctx: Context) -> list[Row]:
    count = 300 if ctx.quick else 5000
    with Server(api="lofty", rate_limit=None) as server:
        return asyncio.run(_lofty(ctx, server, count))


# -- Superfone -----------------------------------------------------------------------------------

_DUE = "2027-03-01T10:00:00+05:30"


async def _superfone(ctx: Context, server: Server, count: int) -> list[Row]:
    url = server.url
    auth = {"x-api-key": SUPERFONE_KEY}
    leads = superfone_lead_ids()
    list_lead = leads[-1]

    def path(lead: int) -> str:
        return f"{url}/enterprise/api/lead/{lead}/task"

    def sdk(make: Callable[[SuperfoneClient], Operation]) -> Contender:
        async def setup() -> tuple[Operation, Callable[[], Awaitable[None]]]:
            client = SuperfoneClient(api_key=SUPERFONE_KEY, base_url=url, max_concurrency=CONCURRENCY, rate_limit=None)
            return make(client), client.aclose

        return setup

    def sdk_create(client: SuperfoneClient) -> Operation:
        async def create(number: int) -> Any:
            return await client.tasks.create(leads[number % (len(leads) - 1)], type="REMINDER", due_date=_DUE)

        return create

    async def aiohttp_create(session: aiohttp.ClientSession, number: int) -> Any:
        body = {"type": "REMINDER", "due_date": _DUE}
        async with session.post(path(leads[number % (len(leads) - 1)]), json=body) as response:
            response.raise_for_status()
            return await response.json()

    async def httpx_create(client: httpx.AsyncClient, number: int) -> Any:
        body = {"type": "REMINDER", "due_date": _DUE}
        response = await client.post(path(leads[number % (len(leads) - 1)]), json=body)
        response.raise_for_status()
        return response.json()

    async def aiohttp_list(session: aiohttp.ClientSession, number: int) -> Any:
        async with session.get(path(list_lead), params={"page": "1", "page_size": "20"}) as response:
            response.raise_for_status()
            return await response.json()

    async def httpx_list(client: httpx.AsyncClient, number: int) -> Any:
        response = await client.get(path(list_lead), params={"page": "1", "page_size": "20"})
        response.raise_for_status()
        return response.json()

    create_samples = await _compare(
        ctx,
        server,
        {"sdk": sdk(sdk_create), "aiohttp": _aiohttp(auth, aiohttp_create), "httpx": _httpx(auth, httpx_create)},
        count,
        reset=True,
    )
    # A full page to list: 20 reminders on one lead (the reset between runs keeps them).
    async with aiohttp.ClientSession(headers=auth) as session:
        for _ in range(20):
            async with session.post(path(list_lead), json={"type": "REMINDER", "due_date": _DUE}) as response:
                response.raise_for_status()
    list_samples = await _compare(
        ctx,
        server,
        {
            "sdk": sdk(lambda client: lambda number: client.tasks.list(list_lead)),
            "aiohttp": _aiohttp(auth, aiohttp_list),
            "httpx": _httpx(auth, httpx_list),
        },
        count,
        reset=False,
    )
    baselines = {"aiohttp": "raw aiohttp + json()", "httpx": "raw httpx"}
    return [
        *_rows("superfone", f"Superfone tasks.create ×{count}", create_samples, "sdk", baselines),
        *_rows("superfone", f"Superfone tasks.list (20 tasks) ×{count}", list_samples, "sdk", baselines),
    ]


@scenario(
    "superfone",
    "Superfone tasks.create / tasks.list: client CPU per request vs raw aiohttp and httpx",
    order=20,
)
def superfone(ctx: Context) -> list[Row]:
    count = 300 if ctx.quick else 3000
    with Server(api="superfone", rate_limit=None) as server:
        return asyncio.run(_superfone(ctx, server, count))


# -- leads.iter ----------------------------------------------------------------------------------


async def _leads(ctx: Context, server: Server, total: int) -> list[Row]:
    url = server.url
    auth = {"Authorization": f"token {SANDBOX_API_KEY}"}

    async def sdk_iter() -> int:
        async with LoftyClient(api_key=SANDBOX_API_KEY, base_url=url) as client:
            return sum([1 async for _ in client.leads.iter(page_size=100)])

    async def raw_iter() -> int:
        seen = 0
        async with aiohttp.ClientSession(headers=auth) as session:
            params = {"limit": "100"}
            while True:
                async with session.get(f"{url}/v1.0/leads", params=params) as response:
                    response.raise_for_status()
                    data = await response.json()
                for _lead in data["leads"]:
                    seen += 1
                scroll = data["_metadata"].get("scrollId")
                if not data["leads"] or not scroll:
                    return seen
                params = {"limit": "100", "scrollId": scroll}

    contenders = {"sdk": sdk_iter, "aiohttp": raw_iter}
    samples: dict[str, list[Sample]] = {name: [] for name in contenders}
    for _, name in interleave(ctx.rounds, list(contenders)):
        cpu, wall = time.process_time(), time.perf_counter()
        seen = await contenders[name]()
        samples[name].append(Sample(time.process_time() - cpu, time.perf_counter() - wall, seen))
        if seen != total:
            raise RuntimeError(f"leads.iter benchmark: {name} saw {seen} leads, expected {total}")
    ratios = [s.cpu_per_op / b.cpu_per_op for s, b in zip(samples["sdk"], samples["aiohttp"], strict=True)]
    return [
        Row(
            "leads",
            f"Lofty leads.iter over {total:,} leads: client CPU/lead vs raw aiohttp paging loop",
            us(median([s.cpu_per_op for s in samples["sdk"]])),
            us(median([s.cpu_per_op for s in samples["aiohttp"]])),
            ratios,
            CPU_BUDGET,
        )
    ]


@scenario(
    "leads",
    "Lofty leads.iter over many leads vs a raw aiohttp paging loop",
    order=30,
)
def leads(ctx: Context) -> list[Row]:
    total = 2_000 if ctx.quick else 100_000
    with Server(api="leads", leads=total) as server:
        return asyncio.run(_leads(ctx, server, total))
