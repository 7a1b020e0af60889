"""A bulk task-creation job: ``lofty.tasks.create_many`` with a journal and a progress callback.

Every row of a CSV file (the columns of :meth:`lofty_async.Tasks.create`, plus an optional
``dedupe_key``) becomes one Lofty task, exactly once. A bad row is reported with its row
number, field and reason, and the others go on. The SQLite journal (``FILE.journal.sqlite``)
makes the job resumable: run the same command again after a crash (even ``kill -9``) and rows
that landed are skipped, rows that were in flight are looked up before anything is re-sent.

Run it against the local sandbox (an in-process Lofty emulator whose state is kept in
``FILE.sandbox-state.jsonl``, so a re-run meets the same server). The client paces itself to
the sandbox's 500 requests per minute (Lofty's production limit), so 520 rows take about a
minute::

    python examples/bulk_job.py examples/lofty_tasks.csv --sandbox
    python examples/bulk_job.py examples/lofty_tasks_bad_rows.csv --sandbox

Against the real API: ``LOFTY_API_KEY=... python examples/bulk_job.py tasks.csv``. Against a
served sandbox (``lofty-async sandbox --port 8080``): ``--base-url http://127.0.0.1:8080``
with ``LOFTY_API_KEY=sandbox-lofty-api-key``. Exit status: 0 when every row was created or
done earlier, 1 when a row failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
from tqdm import tqdm

from crm_core import BulkSummary, Journal, RowResult, RowStatus
from lofty_async import LoftyClient

__all__ = ["read_rows", "run_job"]


def read_rows(path: Path) -> Iterator[dict[str, Any]]:
    """The file's data rows as ``create`` arguments: empty cells left out, digit IDs as ints."""
    with path.open(newline="", encoding="utf-8") as file:
        for row in csv.DictReader(file):
            fields: dict[str, Any] = {name: value for name, value in row.items() if value not in (None, "")}
            if str(fields.get("lead_id", "")).isdigit():
                fields["lead_id"] = int(fields["lead_id"])
            yield fields


async def run_job(
    lofty: LoftyClient, path: Path, journal: Journal, *, concurrency: int = 10, progress: bool = True
) -> tuple[BulkSummary, list[RowResult[int]]]:
    """Create one task per row of ``path``; return the summary and the failed rows.

    Source: POST /v2.0/tasks per row (through :meth:`lofty_async.Tasks.create_many`).
    """
    failures: list[RowResult[int]] = []
    bar = tqdm(total=sum(1 for _ in read_rows(path)), unit="row", disable=not progress, file=sys.stderr)

    def on_result(result: RowResult[int]) -> None:  # the progress callback: once per row
        bar.update()
        if result.status is RowStatus.FAILED:
            failures.append(result)
            tqdm.write(f"row {result.row_number}: {result.field or 'error'}: {result.message}", file=sys.stderr)

    with bar:
        summary = await lofty.tasks.create_many(
            read_rows(path), concurrency=concurrency, on_result=on_result, journal=journal
        )
    return summary, failures


async def _main(path: Path, *, sandbox: bool, base_url: str, concurrency: int) -> int:
    from lofty_async.testing import SANDBOX_API_KEY, FixedWindowRateLimit, LoftyEmulator

    async with contextlib.AsyncExitStack() as stack:
        api_key = os.environ.get("LOFTY_API_KEY", "")
        if sandbox:
            emulator = LoftyEmulator(
                state_path=path.with_name(path.name + ".sandbox-state.jsonl"),
                rate_limit=FixedWindowRateLimit(limit=500, window=60),  # Lofty's production limit
            )
            base_url, api_key = await stack.enter_async_context(emulator.serve()), SANDBOX_API_KEY
        if not api_key:
            raise click.UsageError("set LOFTY_API_KEY, or pass --sandbox")
        lofty = await stack.enter_async_context(LoftyClient(api_key=api_key, base_url=base_url))
        journal = Journal(path.with_name(path.name + ".journal.sqlite"), job=f"lofty tasks {path.name}")
        stack.callback(journal.close)
        summary, failures = await run_job(lofty, path, journal, concurrency=concurrency)
    click.echo(
        f"{summary.created} created, {summary.failed} failed, {summary.skipped} skipped "
        f"(done by an earlier run) in {summary.elapsed:.1f} s"
    )
    return 1 if failures else 0


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--sandbox", is_flag=True, help="Use an in-process Lofty emulator.")
@click.option("--base-url", default="https://api.lofty.com", show_default=True, help="Lofty API root.")
@click.option("--concurrency", type=click.IntRange(1, 100), default=10, show_default=True)
def main(file: Path, sandbox: bool, base_url: str, concurrency: int) -> None:
    """Create one Lofty task per row of FILE (CSV), resumably."""
    sys.exit(asyncio.run(_main(file, sandbox=sandbox, base_url=base_url, concurrency=concurrency)))


if __name__ == "__main__":
    main()
