"""Benchmarks: ``python benchmarks/run.py`` prints one table.

What is measured (all against the emulators over loopback, rate limits off unless stated):

* import throughput: rows per second through ``create_many`` (journal on), by concurrency;
* memory: peak traced allocations while importing files of growing size (streaming means the
  peak must not grow with the file);
* per-request overhead: mean time of a GET through the full client stack;
* pacing: 429s seen by a bulk run against a short rate-limit window (goal: at most one
  window's worth, then none).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from crm_core._importjob import run_import
from crm_core.emulator import FixedWindowRateLimit
from lofty_async import LoftyClient
from lofty_async._cli import TARGET
from lofty_async.testing import SANDBOX_API_KEY, LoftyEmulator, sandbox_lead_ids


def write_rows(path: Path, count: int) -> None:
    leads = sandbox_lead_ids()
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["type", "content", "lead_id", "assigned_role", "end_at", "time_zone_code"])
        for i in range(count):
            writer.writerow(
                [
                    "Call",
                    f"Benchmark task {i}",
                    leads[i % len(leads)],
                    "Agent",
                    "2027-03-01T16:00:00-08:00",
                    "America/Los_Angeles",
                ]
            )


async def import_file(path: Path, concurrency: int, rate: FixedWindowRateLimit | None) -> tuple[float, int, int]:
    emulator = LoftyEmulator(rate_limit=rate or FixedWindowRateLimit(limit=10**9, window=60))
    async with (
        emulator.serve() as url,
        LoftyClient(api_key=SANDBOX_API_KEY, base_url=url, max_concurrency=concurrency) as client,
    ):
        start = time.perf_counter()
        with io.StringIO() as sink:
            await run_import(
                path=path,
                target=TARGET,
                create_many=client.tasks.create_many,
                results_path=path.with_suffix(".results.csv"),
                journal_path=path.with_suffix(f".{time.monotonic_ns()}.journal.sqlite"),
                concurrency=concurrency,
                progress=False,
                out=sink,
            )
        elapsed = time.perf_counter() - start
    throttled = sum(1 for r in emulator.core.requests if r.status == 429)
    return elapsed, len(emulator.tasks), throttled


async def per_request_overhead(count: int) -> float:
    emulator = LoftyEmulator(rate_limit=FixedWindowRateLimit(limit=10**9, window=60))
    async with emulator.serve() as url, LoftyClient(api_key=SANDBOX_API_KEY, base_url=url) as client:
        lead = sandbox_lead_ids()[0]
        await client.tasks.list(lead_id=lead)
        start = time.perf_counter()
        for _ in range(count):
            await client.tasks.list(lead_id=lead)
        return (time.perf_counter() - start) / count


def measure_memory(path: Path) -> float:
    """Peak traced memory of the client side only: the emulator runs in another process."""
    server = subprocess.Popen(
        [sys.executable, "-m", "lofty_async", "sandbox", "--port", "0", "--rate-limit", "off"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().split()[-1]

        async def run() -> None:
            async with LoftyClient(api_key=SANDBOX_API_KEY, base_url=url) as client:
                await run_import(
                    path=path,
                    target=TARGET,
                    create_many=client.tasks.create_many,
                    results_path=path.with_suffix(".results.csv"),
                    journal_path=path.with_suffix(".mem.journal.sqlite"),
                    progress=False,
                    out=io.StringIO(),
                )

        tracemalloc.start()
        asyncio.run(run())
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    finally:
        server.terminate()
        server.wait(timeout=10)
    return peak / 1024 / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=2000, help="rows for the throughput runs")
    args = parser.parse_args()
    table: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        source = base / "tasks.csv"
        write_rows(source, args.rows)
        for concurrency in (1, 10, 50):
            elapsed, created, _ = asyncio.run(import_file(source, concurrency, None))
            assert created == args.rows
            table.append((f"import {args.rows} rows, concurrency {concurrency}", f"{args.rows / elapsed:,.0f} rows/s"))
        for count in (1000, 10000):
            sized = base / f"mem{count}.csv"
            write_rows(sized, count)
            table.append((f"client peak traced memory, {count} rows", f"{measure_memory(sized):.1f} MiB"))
        overhead = asyncio.run(per_request_overhead(500))
        table.append(("GET through the client stack (mean)", f"{overhead * 1000:.2f} ms"))
        paced = base / "paced.csv"
        write_rows(paced, 60)
        elapsed, created, throttled = asyncio.run(import_file(paced, 10, FixedWindowRateLimit(limit=20, window=2)))
        table.append(("60 rows at 20 req / 2 s window: 429s seen", f"{throttled} (in {elapsed:.1f} s)"))
    width = max(len(name) for name, _ in table)
    print(f"{'benchmark':<{width}}  result")
    print(f"{'-' * width}  {'-' * 20}")
    for name, value in table:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
