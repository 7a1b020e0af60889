"""Several processes, one rate limit: a limiter shared through Redis against per-process limiters.

Three client processes (``benchmarks._child`` job ``"fanout"``) each create ``N`` Lofty tasks with
``asyncio.gather`` on one client, against one emulator in its own process that allows 20 requests
per 2 s fixed window (announced in ``X-RateLimit-*``). In one run every process paces through
``RedisRateLimiter.from_url(REDIS_URL, key=<fresh per round>)``; in the other each process paces
alone with the client's default limiter (which is what the shared limiter prevents: each process
counts the window's budget down by itself, so together they send up to three windows' worth).
"""

from __future__ import annotations

import math
import os
import time
import uuid
from typing import Any

from .._harness import Context, Row, Server, interleave, median, run_children, scenario

LIMIT, WINDOW, WORKERS = 20, 2.0, 3
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
START_DELAY = 3.0  # seconds for the children's imports before the agreed start


def _redis_problem(url: str) -> str | None:
    """Why Redis at ``url`` cannot be used (``None`` when it answers a PING)."""
    try:
        import redis
    except ImportError:
        return "redis-py is not installed (pip install '.[redis]')"
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1.0, socket_timeout=2.0)
        try:
            client.ping()
        finally:
            client.close()
    except (redis.RedisError, OSError, ValueError):
        return "no Redis at"
    return None


def _delete_key(url: str, key: str) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=1.0, socket_timeout=2.0)
    try:
        client.delete(key)
    finally:
        client.close()


def _run(server: Server, mode: str, per_worker: int, tag: str, redis_url: str) -> dict[str, Any]:
    """One run of ``WORKERS`` processes, all starting at one window's start; what the server saw."""
    server.reset()
    key = f"crm-async-bench:{uuid.uuid4().hex}"  # a fresh shared state for every round
    # A few seconds from now (the children's imports), at the start of an emulator window, so the
    # run's length does not depend on where in a window it began.
    start_at = math.ceil((time.time() + START_DELAY) / WINDOW) * WINDOW + 0.05
    jobs = [
        {
            "kind": "fanout",
            "url": server.url,
            "count": per_worker,
            "tag": f"{tag} w{i}",
            "lead": i,
            "start_at": start_at,
            **({"redis_url": redis_url, "key": key} if mode == "shared" else {}),
        }
        for i in range(WORKERS)
    ]
    try:
        reports = run_children(jobs, timeout=600)
    finally:
        if mode == "shared":
            _delete_key(redis_url, key)
    contents = server.contents()
    timeline = server.timeline()
    expected = {f"{tag} w{w} {i}" for w in range(WORKERS) for i in range(per_worker)}
    begin = min(start_at, *(r["started"] for r in reports))
    return {
        "throttled": sum(1 for _, status in timeline if status == 429),
        "created": len(expected & set(contents)),
        "duplicated": sum(count - 1 for text, count in contents.items() if text in expected),
        "lost": len(expected - set(contents)),
        "failed": sum(len(r["failed"]) for r in reports),
        "late": any(r["late"] for r in reports),
        "elapsed": max(r["ended"] for r in reports) - begin,
        "fraction": rate_fraction(timeline, begin),
    }


def rate_fraction(timeline: list[tuple[float, int]], begin: float) -> float:
    """The achieved rate over whole windows, as a fraction of ``LIMIT`` per ``WINDOW``.

    The span is from the start of the window the run began in (runs begin at a window's start)
    to the start of the window holding the last accepted request: that last window holds only the
    run's tail, however many rows are left, so it is not counted. Over the span, requests the
    server accepted (2xx) per second, divided by ``LIMIT / WINDOW``; idle windows count as 0.
    """
    accepted = [math.floor(moment / WINDOW) for moment, status in timeline if 200 <= status < 300]
    first = math.floor(begin / WINDOW)
    last = max(accepted, default=first)
    if last == first:  # everything fitted in one window
        return 1.0
    done = sum(1 for window in accepted if window < last)
    return done / ((last - first) * LIMIT)


@scenario(
    "multiprocess",
    f"{WORKERS} processes share one {LIMIT}/{WINDOW:g} s limit: RedisRateLimiter vs per-process limiters",
    order=80,
)
def multiprocess(ctx: Context) -> list[Row]:
    per_worker = 20 if ctx.quick else 60
    rounds = 1 if ctx.quick else 3
    total = WORKERS * per_worker
    what = f"{WORKERS} processes × {per_worker} creates (asyncio.gather) at {LIMIT}/{WINDOW:g} s"
    redis_url = os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
    problem = _redis_problem(redis_url)
    if problem is not None:
        from crm_core._redis_store import redact_url

        reason = f"skipped: {problem} {redact_url(redis_url)}" if problem == "no Redis at" else f"skipped: {problem}"
        ctx.log(f"multiprocess: {reason}")
        return [Row("multiprocess", what, reason, "", verdict="skipped")]
    results: dict[str, list[dict[str, Any]]] = {"shared": [], "local": []}
    with Server(api="lofty", rate_limit=[LIMIT, WINDOW]) as server:
        for number, mode in interleave(rounds, ["shared", "local"]):
            result = _run(server, mode, per_worker, f"Multiprocess {mode} {number}", redis_url)
            results[mode].append(result)
            ctx.log(
                f"multiprocess {mode}: {result['elapsed']:.1f} s, {result['throttled']} 429s, "
                f"{result['created']}/{total} created, {result['duplicated']} duplicated, "
                f"{result['lost']} lost, {result['fraction']:.2f} of the allowed rate"
                + (" (a child started late)" if result["late"] else "")
            )
    shared, local = results["shared"], results["local"]
    ideal = (math.ceil(total / LIMIT) - 1) * WINDOW

    def worst(samples: list[dict[str, Any]], name: str) -> int:
        return max(int(s[name]) for s in samples)

    def rows_text(samples: list[dict[str, Any]]) -> str:
        return (
            f"{min(s['created'] for s in samples)}/{total} created, "
            f"{worst(samples, 'duplicated')} duplicated, {worst(samples, 'lost')} lost"
        )

    shared_ok = all(s["created"] == total and not s["duplicated"] and not s["lost"] for s in shared)
    shared_fraction = min(s["fraction"] for s in shared)
    return [
        Row(
            "multiprocess",
            f"{what}: 429s (worst round)",
            f"shared (Redis): {worst(shared, 'throttled')}",
            f"per-process limiters: {worst(local, 'throttled')}",
            verdict="met" if worst(shared, "throttled") <= LIMIT else "missed",
            target_text=f"shared: ≤ one window ({LIMIT})",
        ),
        Row(
            "multiprocess",
            f"{what}: rows (worst round)",
            rows_text(shared),
            rows_text(local),
            verdict="met" if shared_ok else "missed",
            target_text="shared: every row exactly once",
        ),
        Row(
            "multiprocess",
            f"{what}: achieved rate over whole windows, fraction of {LIMIT}/{WINDOW:g} s (worst round)",
            f"{shared_fraction:.2f}",
            f"{min(s['fraction'] for s in local):.2f}",
            verdict="met" if shared_fraction >= 0.9 else "missed",
            target_text="shared: ≥ 0.9",
        ),
        Row(
            "multiprocess",
            f"{what}: wall time (ideal {ideal:.0f} s)",
            f"{median([s['elapsed'] for s in shared]):.1f} s",
            f"{median([s['elapsed'] for s in local]):.1f} s",
            [s["elapsed"] / p["elapsed"] for s, p in zip(shared, local, strict=True)],
        ),
    ]
