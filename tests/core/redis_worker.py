"""One sync worker process for the multi-process rate-limit tests (run with ``python -m``).

It creates ``--count`` Lofty tasks with ``asyncio.gather`` on one client (a user's fan-out),
paced either by a :class:`~crm_core.RedisRateLimiter` (``--redis-url``) or by the default
per-process limiter, and prints one JSON line: what succeeded, what failed, and when.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from typing import Any

from crm_core import RedisRateLimiter, RetryPolicy
from lofty_async import LoftyClient
from lofty_async.testing import SANDBOX_API_KEY, sandbox_lead_ids


async def run(args: argparse.Namespace) -> dict[str, Any]:
    limiter: RedisRateLimiter | None = None
    if args.redis_url:
        limiter = RedisRateLimiter.from_url(
            args.redis_url,
            key=args.key,
            requests=args.requests,
            window=args.window,
            on_unavailable=args.on_unavailable,
            expected_workers=args.expected_workers,
            max_backoff=0.5,
        )
    lead = sandbox_lead_ids()[args.worker]
    delay = args.start_at - time.time()
    late = delay < 0
    if delay > 0:
        await asyncio.sleep(delay)
    started = time.time()
    finished: list[float] = []
    async with LoftyClient(
        api_key=SANDBOX_API_KEY,
        base_url=args.base_url,
        limiter=limiter,
        max_concurrency=args.concurrency,
        retry=RetryPolicy(max_retries=6, max_retry_after=30.0),
    ) as client:

        async def one(i: int) -> int:
            task_id = await client.tasks.create(
                type="Call",
                content=f"{args.tag}-{i}",
                lead_id=lead,
                assigned_role="Agent",
                end_at="2026-03-01T15:00:00-08:00",
            )
            finished.append(time.time())
            return task_id

        results = await asyncio.gather(*(one(i) for i in range(args.count)), return_exceptions=True)
    report: dict[str, Any] = {
        "worker": args.worker,
        "late": late,
        "started": started,
        "ended": max(finished) if finished else time.time(),
        "ok": sum(1 for r in results if isinstance(r, int)),
        "failed": [f"{type(r).__name__}: {r}" for r in results if isinstance(r, BaseException)],
    }
    if limiter is not None:
        report.update(fallbacks=limiter.fallbacks, unavailable_at_end=limiter.unavailable, key=limiter.key)
        await limiter.aclose()
    return report


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--worker", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--tag", required=True)
    parser.add_argument("--start-at", type=float, required=True)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--redis-url", default="")
    parser.add_argument("--key", default=None)
    parser.add_argument("--requests", type=float, default=None)
    parser.add_argument("--window", type=float, default=60.0)
    parser.add_argument("--on-unavailable", default="wait", choices=["wait", "local"])
    parser.add_argument("--expected-workers", type=int, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(name)s %(levelname)s %(message)s")
    print(json.dumps(asyncio.run(run(args))), flush=True)


if __name__ == "__main__":
    main()
