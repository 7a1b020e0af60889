"""The bulk import job both command lines run: file in, records created once, results out.

* Input: CSV (header row of field names) or JSONL (one object per line), chosen by the file's
  extension (``.jsonl``/``.ndjson`` is JSONL, anything else CSV). Streamed: memory does not
  grow with the file. Rows are numbered from 1 (the first data row).
* Output: a results CSV (``row,status,<id>,field,error``) written as rows finish, a progress
  bar on stderr, and a summary on stdout.
* Resumable: a SQLite journal (default ``<input>.journal.sqlite``) records each row before it
  is sent and after its outcome; running the same command again finishes the job without
  re-sending anything that landed.
* Exit status: 0 when every row was created (now or in an earlier run), 1 when any row
  failed, 2 for a usage or input-format error (nothing sent).
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol, TextIO

import attrs
from tqdm import tqdm

from ._bulk import AlreadyDone, BulkSummary, RowResult, RowStatus
from ._errors import ValidationError
from ._journal import Journal

__all__ = ["ImportReport", "ImportTarget", "InputFormatError", "count_rows", "iter_rows", "run_import"]


class InputFormatError(Exception):
    """The input file cannot be read as a whole (bad header, unknown columns)."""


@attrs.frozen(kw_only=True)
class ImportTarget:
    """What one API's import needs.

    Attributes:
        job: Job name recorded in the journal (``"lofty tasks"``).
        columns: Accepted field names.
        required: Field names the CSV header must contain.
        integer_columns: Fields converted from text to ``int`` (left as text when they are
            not integers, so the SDK's check reports them with the row number).
        id_label: Name of the created record's ID in the results file (``"task_id"``).
        key: Ordering key of a converted row (rows with the same key keep file order).
    """

    job: str
    columns: tuple[str, ...]
    required: tuple[str, ...]
    integer_columns: frozenset[str] = frozenset()
    id_label: str = "id"
    key: Callable[[Mapping[str, Any]], Hashable | None] | None = None

    def convert(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """Typed create arguments from a raw row: blanks dropped, integer columns converted."""
        row: dict[str, Any] = {}
        for name, value in raw.items():
            if value is None or (isinstance(value, str) and not value.strip()):
                continue
            if isinstance(value, str):
                value = value.strip()
                if name in self.integer_columns:
                    with contextlib.suppress(ValueError):
                        value = int(value)
            row[name] = value
        return row


class CreateMany(Protocol):
    def __call__(
        self,
        rows: AsyncIterator[tuple[int, Mapping[str, Any]]],
        *,
        concurrency: int,
        key: Callable[[Mapping[str, Any]], Hashable | None] | None,
        on_result: Callable[[RowResult[Any]], Awaitable[None] | None],
        time_budget: float | None,
        journal: Journal | None,
    ) -> Awaitable[BulkSummary]: ...


def _is_jsonl(path: Path) -> bool:
    return path.suffix.lower() in (".jsonl", ".ndjson")


def iter_rows(path: Path, target: ImportTarget) -> Iterator[tuple[int, Mapping[str, Any] | str]]:
    """Stream ``(row_number, raw_row)``; a row that cannot be parsed comes as an error string.

    Raises:
        InputFormatError: a CSV header with unknown or missing columns (checked first).
    """
    if _is_jsonl(path):
        with path.open(encoding="utf-8") as handle:
            number = 0
            for line in handle:
                if not line.strip():
                    continue
                number += 1
                try:
                    value = json.loads(line)
                except json.JSONDecodeError as exc:
                    yield number, f"not valid JSON ({exc.msg} at column {exc.colno})"
                    continue
                if not isinstance(value, dict):
                    yield number, "not a JSON object"
                    continue
                yield number, value
        return
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        header = [name.strip() for name in reader.fieldnames or []]
        unknown = [name for name in header if name not in target.columns]
        missing = [name for name in target.required if name not in header]
        if not header:
            raise InputFormatError(f"{path}: no header row; expected columns {', '.join(target.columns)}")
        if unknown:
            raise InputFormatError(
                f"{path}: unknown column(s) {', '.join(unknown)}; allowed: {', '.join(target.columns)}"
            )
        if missing:
            raise InputFormatError(f"{path}: missing required column(s) {', '.join(missing)}")
        reader.fieldnames = header
        for number, row in enumerate(reader, start=1):
            if None in row:
                yield number, f"{len(row[None])} value(s) more than the header's columns"
                continue
            yield number, row


def count_rows(path: Path) -> int:
    """Data rows in the file (streams it once)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        if _is_jsonl(path):
            return sum(1 for line in handle if line.strip())
        return max(0, sum(1 for _ in csv.reader(handle)) - 1)


@attrs.define(kw_only=True)
class ImportReport:
    """What an import did.

    Attributes:
        summary: Counts from this run (``skipped`` includes rows done by earlier runs).
        earlier: Rows created by an earlier run of the same job.
        results_path: Where per-row results were written.
        journal_path: The journal.
    """

    summary: BulkSummary
    earlier: int
    results_path: Path
    journal_path: Path | None

    @property
    def exit_code(self) -> int:
        """0 when nothing failed, 1 otherwise."""
        return 1 if self.summary.failed or self.summary.skipped > self.earlier else 0


async def run_import(
    *,
    path: Path,
    target: ImportTarget,
    create_many: CreateMany,
    results_path: Path,
    journal_path: Path | None,
    concurrency: int = 10,
    time_budget: float | None = None,
    progress: bool = True,
    out: TextIO | None = None,
) -> ImportReport:
    """Run one import (see the module docstring).

    Raises:
        InputFormatError: the file's header is wrong (nothing sent).
        JournalMismatchError: the journal belongs to another input.
    """
    out = out or sys.stdout
    total, rows, first, journal, results_file = _open_job(path, target, results_path, journal_path)
    writer = csv.writer(results_file)
    writer.writerow(["row", "status", target.id_label, "field", "error"])
    earlier = 0
    summary = BulkSummary()
    # disable=None: on when stderr is a terminal, off in logs and pipes.
    bar = tqdm(total=total, unit="row", disable=None if progress else True, file=sys.stderr, dynamic_ncols=True)

    def write(result: RowResult[Any]) -> None:
        nonlocal earlier
        record_id: Any = result.value
        message = result.message
        if isinstance(result.error, AlreadyDone):
            earlier += 1
            record_id, message = result.error.record_id, "created by an earlier run"
        elif result.value is not None and not isinstance(result.value, int | str):
            record_id = getattr(result.value, "id", result.value)
        writer.writerow(
            [
                result.row_number,
                result.status.value,
                "" if record_id is None else record_id,
                result.field or "",
                message,
            ]
        )
        results_file.flush()
        bar.update(1)
        bar.set_postfix(created=summary.created, failed=summary.failed, refresh=False)

    def on_result(result: RowResult[Any]) -> None:
        summary.add(result)
        write(result)

    async def typed_rows() -> AsyncIterator[tuple[int, Mapping[str, Any]]]:
        items = rows if first is None else _chain(first, rows)
        for number, raw in items:
            if isinstance(raw, str):
                on_result(
                    RowResult(
                        row_number=number,
                        status=RowStatus.FAILED,
                        error=ValidationError("row", raw, "a JSON object per line"),
                    )
                )
                continue
            yield number, target.convert(raw)

    try:
        run = await create_many(
            typed_rows(),
            concurrency=concurrency,
            key=target.key,
            on_result=on_result,
            time_budget=time_budget,
            journal=journal,
        )
        summary.elapsed = run.elapsed
    finally:
        bar.close()
        results_file.close()
        if journal is not None:
            journal.close()
    report = ImportReport(summary=summary, earlier=earlier, results_path=results_path, journal_path=journal_path)
    new = summary.created
    print(
        f"{summary.total} rows: {new} created, {summary.failed} failed, "
        f"{summary.skipped - earlier} skipped"
        + (f", {earlier} already created by an earlier run" if earlier else "")
        + f" in {summary.elapsed:.1f} s.",
        file=out,
    )
    print(f"Per-row results: {results_path}", file=out)
    return report


def _open_job(
    path: Path, target: ImportTarget, results_path: Path, journal_path: Path | None
) -> tuple[
    int,
    Iterator[tuple[int, Mapping[str, Any] | str]],
    tuple[int, Mapping[str, Any] | str] | None,
    Journal | None,
    TextIO,
]:
    """Count rows, read the header (format errors surface before any send), open the outputs."""
    total = count_rows(path)
    rows = iter_rows(path, target)
    first = next(rows, None)
    journal = Journal(journal_path, job=f"{target.job}:{path.resolve()}") if journal_path else None
    results_file = results_path.open("w", encoding="utf-8", newline="")
    return total, rows, first, journal, results_file


def _chain(
    first: tuple[int, Mapping[str, Any] | str], rest: Iterator[tuple[int, Mapping[str, Any] | str]]
) -> Iterator[tuple[int, Mapping[str, Any] | str]]:
    yield first
    yield from rest


def default_paths(path: Path, results: str | None, journal: str | None) -> tuple[Path, Path]:
    """``<input>.results.csv`` and ``<input>.journal.sqlite`` unless given."""
    results_path = Path(results) if results else path.with_name(path.name + ".results.csv")
    journal_path = Path(journal) if journal else path.with_name(path.name + ".journal.sqlite")
    return results_path, journal_path


def remove_files(*paths: Path) -> None:
    """Delete files (and SQLite side files) if they exist."""
    for path in paths:
        for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            if candidate.exists():
                os.remove(candidate)
