"""A measured client run in its own process: ``python -m benchmarks._child '<json job>'``.

Imports happen first; only the job itself is timed (``time.process_time`` and
``time.perf_counter``). The last line of stdout is a JSON report::

    {"cpu": seconds, "wall": seconds, "maxrss_kib": peak RSS of this process (VmHWM), "exit": code, ...}

Jobs (``kind``):

* ``"cli"``: the installed console script (``console``: ``"lofty-async"``), called in-process with
  ``args`` and ``env`` (what a user types; the SDK's own import machinery, journal on);
* ``"naive"``: :func:`naive_import`, the ~30-line loop a user would write instead, over ``file``
  against ``url`` with ``concurrency``; ``retry`` adds a tenacity decorator that retries on
  429, 5xx and connection errors (as such loops do; it duplicates writes on ambiguous failures);
* ``"fanout"``: :func:`fanout`, one sync worker of several: ``count`` Lofty ``tasks.create`` calls
  with ``asyncio.gather`` on one ``LoftyClient`` (a user's fan-out), starting at the epoch second
  ``start_at``, paced by a :class:`~crm_core.RedisRateLimiter` on ``redis_url`` with ``key`` when
  ``redis_url`` is given, else by the client's default per-process limiter.
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import resource
import sys
import time
from importlib.metadata import entry_points
from typing import Any

import aiohttp
import tenacity

from benchmarks._harness import LOFTY_END_AT, LOFTY_ZONE


class Retryable(Exception):
    """A status the naive loop retries (429, 5xx)."""


async def naive_import(path: str, url: str, api_key: str, concurrency: int, retry: bool, time_limit: float) -> int:
    """POST one Lofty task per CSV row; return how many rows failed for good."""
    failed = 0
    headers = {"Authorization": f"token {api_key}"}
    async with aiohttp.ClientSession(headers=headers, timeout=aiohttp.ClientTimeout(total=time_limit)) as session:

        async def post(body: dict[str, Any]) -> Any:
            async with session.post(f"{url}/v2.0/tasks", json=body) as response:
                if response.status == 429 or response.status >= 500:
                    raise Retryable(response.status)
                response.raise_for_status()
                return await response.json()

        if retry:
            post = tenacity.retry(
                retry=tenacity.retry_if_exception_type((Retryable, aiohttp.ClientError, TimeoutError, ValueError)),
                wait=tenacity.wait_random_exponential(multiplier=0.5, max=10),
                stop=tenacity.stop_after_attempt(10),
            )(post)

        # A naive loop reads the file in the loop, as its author would.
        with open(path, encoding="utf-8", newline="") as handle:  # noqa: ASYNC230
            rows = csv.DictReader(handle)

            async def worker() -> None:
                nonlocal failed
                for row in rows:
                    body = {
                        "type": row["type"],
                        "content": row["content"],
                        "leadId": int(row["lead_id"]),
                        "assignedRole": row["assigned_role"],
                        "endAt": row["end_at"],
                        "timeZoneCode": row["time_zone_code"],
                    }
                    try:
                        await post(body)
                    except Exception:
                        failed += 1

            await asyncio.gather(*(worker() for _ in range(concurrency)))
    return failed


async def fanout(job: dict[str, Any]) -> dict[str, Any]:
    """Create ``job["count"]`` Lofty tasks at once (``asyncio.gather``); what succeeded and when.

    Returns:
        ``{"started", "ended": epoch seconds, "ok": creates that succeeded, "failed": [errors],
        "late": whether the imports overran start_at, "fallbacks": Redis outages noticed}``.
    """
    from crm_core import RedisRateLimiter
    from lofty_async import LoftyClient
    from lofty_async.testing import SANDBOX_API_KEY, sandbox_lead_ids

    limiter = RedisRateLimiter.from_url(job["redis_url"], key=job["key"]) if job.get("redis_url") else None
    lead = sandbox_lead_ids()[int(job.get("lead", 0))]
    delay = float(job["start_at"]) - time.time()
    if delay > 0:
        await asyncio.sleep(delay)
    started = time.time()
    async with LoftyClient(api_key=SANDBOX_API_KEY, base_url=job["url"], limiter=limiter) as client:

        async def one(i: int) -> int:
            return await client.tasks.create(
                type="Call",
                content=f"{job['tag']} {i}",
                lead_id=lead,
                assigned_role="Agent",
                end_at=LOFTY_END_AT,
                time_zone_code=LOFTY_ZONE,
            )

        results = await asyncio.gather(*(one(i) for i in range(int(job["count"]))), return_exceptions=True)
    ended = time.time()
    report: dict[str, Any] = {
        "started": started,
        "ended": ended,
        "late": delay < 0,
        "ok": sum(1 for r in results if not isinstance(r, BaseException)),
        "failed": [f"{type(r).__name__}: {r}" for r in results if isinstance(r, BaseException)],
        "fallbacks": 0,
    }
    if limiter is not None:
        report["fallbacks"] = limiter.fallbacks
        await limiter.aclose()
    return report


def _load_cli(console: str) -> Any:
    """The console script's ``main`` (importing the SDK: done before the timer starts)."""
    (script,) = entry_points(group="console_scripts", name=console)
    return script.load()


def _run_cli(main: Any, console: str, args: list[str], env: dict[str, str]) -> int:
    os.environ.update(env)
    try:
        result = main(args, prog_name=console, standalone_mode=False)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return result if isinstance(result, int) else 0


def main() -> None:
    job: dict[str, Any] = json.loads(sys.argv[1])
    extra: dict[str, Any] = {}
    # Imports first (the naive loop's aiohttp and csv are imported above): only the job is timed.
    cli = _load_cli(job["console"]) if job["kind"] == "cli" else None
    cpu, wall = time.process_time(), time.perf_counter()
    if job["kind"] == "cli":
        code = _run_cli(cli, job["console"], job["args"], job.get("env", {}))
    elif job["kind"] == "naive":
        failed = asyncio.run(
            naive_import(
                job["file"],
                job["url"],
                job["api_key"],
                int(job["concurrency"]),
                bool(job.get("retry", False)),
                float(job.get("timeout", 30.0)),
            )
        )
        code, extra["failed"] = (1 if failed else 0), failed
    elif job["kind"] == "fanout":
        extra = asyncio.run(fanout(job))
        code = 1 if extra["failed"] else 0
    else:
        raise SystemExit(f"unknown job kind {job['kind']!r}")
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(json.dumps({"cpu": cpu, "wall": wall, "maxrss_kib": peak_rss_kib(), "exit": code, **extra}))


def peak_rss_kib() -> int:
    """This process's own peak RSS, KiB.

    Linux's ``ru_maxrss`` carries the parent's RSS over ``fork``/``exec`` (the benchmark
    process's own size would show up as the child's), so read the address space's high-water
    mark, ``VmHWM``, which ``exec`` resets; ``ru_maxrss`` elsewhere.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


if __name__ == "__main__":
    main()
