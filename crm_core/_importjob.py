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

import csv
import json
import os
import re
import sys
import zlib
from collections.abc import AsyncIterable, Awaitable, Callable, Hashable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol, TextIO

import attrs
from tqdm import tqdm

from ._bulk import AlreadyDone, BulkSummary, RowResult, RowStatus
from ._errors import ValidationError
from ._journal import Destination, Journal

__all__ = [
    "ImportReport",
    "ImportTarget",
    "InputFormatError",
    "Shard",
    "count_rows",
    "import_job_name",
    "iter_rows",
    "run_import",
    "scan_file",
]

_ASCII_INTEGER = re.compile(r"[0-9]+")


class InputFormatError(Exception):
    """The input file cannot be read as a whole (encoding, bad header, a row wider than the header)."""


@attrs.frozen(kw_only=True)
class Shard:
    """Shard ``index`` of ``count`` (1-based) of a file, by a stable hash of the lead ID.

    A row belongs to shard ``crc32(lead_id as decimal text) % count + 1``, the same on every
    machine and Python (not :func:`hash`), so every row of a lead lands in one shard and
    per-lead order holds. Rows without a usable lead ID belong to shard 1.

    Attributes:
        index: 1-based shard number, ``1 <= index <= count``.
        count: Number of shards, >= 1.
    """

    index: int
    count: int

    @property
    def tag(self) -> str:
        """``"shard-2-of-3"``, used in default file names."""
        return f"shard-{self.index}-of-{self.count}"

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def holds(self, lead: object) -> bool:
        """Whether the row whose lead ID is ``lead`` (int or text) belongs to this shard."""
        text = str(lead).strip() if lead is not None and not isinstance(lead, bool) else ""
        if not _ASCII_INTEGER.fullmatch(text):
            return self.index == 1  # no usable lead ID: the row fails, and shard 1 reports it
        return zlib.crc32(str(int(text)).encode()) % self.count + 1 == self.index


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
        shard_column: The field whose value assigns a row to a shard (``--shard``).
    """

    job: str
    columns: tuple[str, ...]
    required: tuple[str, ...]
    integer_columns: frozenset[str] = frozenset()
    id_label: str = "id"
    key: Callable[[Mapping[str, Any]], Hashable | None] | None = None
    shard_column: str = "lead_id"

    def convert(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """Typed create arguments from a raw row: blanks dropped, integer columns converted.

        Integer columns accept ASCII digits only (``"563"``), not what Python's lenient
        :func:`int` also reads (``"+563"``, ``"5_63"``, Arabic-Indic ``"٥٦٣"``); surrounding
        spaces are dropped.

        Raises:
            ValidationError: an integer column holds anything else.
        """
        try:  # a CSV row: every value text (one pass in C-speed comprehensions)
            stripped = {name: value.strip() for name, value in raw.items()}
        except AttributeError:  # None (a short CSV row) or JSON values: field by field
            return self._convert_values(raw)
        row = {name: value for name, value in stripped.items() if value}
        present = self.integer_columns.intersection(row)
        if present:
            for name in row:  # in the row's order: the first bad column is the one named
                if name in present:
                    value = row[name]
                    if not _ASCII_INTEGER.fullmatch(value):
                        raise ValidationError(name, value, "a whole number written with the digits 0-9 only")
                    row[name] = int(value)
        return row

    def _convert_values(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        row: dict[str, Any] = {}
        integers = self.integer_columns
        for name, value in raw.items():
            if value is None:
                continue
            if isinstance(value, str):
                value = value.strip()
                if not value:
                    continue
                if name in integers:
                    if not _ASCII_INTEGER.fullmatch(value):
                        raise ValidationError(name, value, "a whole number written with the digits 0-9 only")
                    value = int(value)
            row[name] = value
        return row


class CreateMany(Protocol):
    def __call__(
        self,
        rows: Iterable[tuple[int, Mapping[str, Any]]] | AsyncIterable[tuple[int, Mapping[str, Any]]],
        *,
        concurrency: int,
        key: Callable[[Mapping[str, Any]], Hashable | None] | None,
        on_result: Callable[[RowResult[Any]], Awaitable[None] | None],
        time_budget: float | None,
        journal: Journal | None,
    ) -> Awaitable[BulkSummary]: ...


def _is_jsonl(path: Path) -> bool:
    return path.suffix.lower() in (".jsonl", ".ndjson")


def _check_header(path: Path, header: list[str], target: ImportTarget) -> None:
    if not header:
        raise InputFormatError(f"{path}: no header row; expected columns {', '.join(target.columns)}")
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise InputFormatError(
            f"{path}: column(s) {', '.join(repeated)} appear more than once in the header; each column may appear once"
        )
    unknown = [name for name in header if name not in target.columns]
    if unknown:
        raise InputFormatError(f"{path}: unknown column(s) {', '.join(unknown)}; allowed: {', '.join(target.columns)}")
    missing = [name for name in target.required if name not in header]
    if missing:
        raise InputFormatError(f"{path}: missing required column(s) {', '.join(missing)}")


def iter_rows(path: Path, target: ImportTarget) -> Iterator[tuple[int, Mapping[str, Any] | str]]:
    """Stream ``(row_number, raw_row)``; a row that cannot be parsed comes as an error string.

    Call :func:`scan_file` first: it refuses what this function assumes away (bad encoding,
    rows wider than the header).

    Raises:
        InputFormatError: a CSV header with unknown, repeated or missing columns (checked first).
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
        _check_header(path, header, target)
        reader.fieldnames = header
        for number, row in enumerate(reader, start=1):
            if None in row:
                yield number, f"{len(row[None])} value(s) more than the header's {len(header)} CSV columns"
                continue
            yield number, row


def _decoded_lines(path: Path) -> Iterator[str]:
    """The file's lines as text, or :class:`InputFormatError` naming the first non-UTF-8 byte."""
    with path.open("rb") as handle:
        for line_number, raw in enumerate(handle, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputFormatError(
                    f"{path}: not UTF-8 text: line {line_number}, byte {exc.start + 1} of that line is "
                    f"0x{raw[exc.start]:02X}; save the file as UTF-8 (e.g. iconv -f cp1252 -t utf-8)"
                ) from None
            yield text.removeprefix("\ufeff") if line_number == 1 else text


def scan_file(path: Path, target: ImportTarget) -> int:
    """Read the whole file once and return its number of data rows.

    Raises:
        InputFormatError: not UTF-8 (line and byte named), a CSV header with unknown,
            repeated or missing columns, a CSV field over the csv module's size limit (most
            often an unclosed quote), a quote never closed before the end of the file, or a CSV
            row with more values than the header.
    """
    lines = _decoded_lines(path)
    if _is_jsonl(path):
        return sum(1 for line in lines if line.strip())
    # strict: a quote left open at the end of the file is an error, not one huge last field
    reader = csv.reader(lines, strict=True)
    row_start = 1
    try:
        header = [name.strip() for name in next(reader, [])]
        _check_header(path, header, target)
        count = 0
        row_start = reader.line_num + 1
        for values in reader:
            if values:
                count += 1
                if len(values) > len(header):
                    raise InputFormatError(
                        f"{path}: line {row_start} (row {count}) has {len(values)} values but the header has "
                        f"{len(header)} CSV columns; quote values that contain commas"
                    )
            row_start = reader.line_num + 1
    except csv.Error as exc:
        if "field limit" in str(exc):
            raise InputFormatError(
                f"{path}: the row starting on line {row_start} has a field longer than the csv module's limit "
                f"of {csv.field_size_limit()} characters (read up to line {reader.line_num}); most often an "
                'unclosed quote (") swallows the rest of the file: check the quotes on that line'
            ) from None
        if "unexpected end of data" in str(exc):
            raise InputFormatError(
                f'{path}: the row starting on line {row_start} opens a quote (") that is never closed, so it '
                "would swallow the rest of the file; close or remove that quote"
            ) from None
        raise InputFormatError(f"{path}: line {reader.line_num}: not valid CSV ({exc})") from None
    return count


def count_rows(path: Path) -> int:
    """Data rows in the file (streams it once; see :func:`scan_file` for the checks)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        if _is_jsonl(path):
            return sum(1 for line in handle if line.strip())
        return max(0, sum(1 for values in csv.reader(handle) if values) - 1)


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
    destination: Destination | None = None,
    shard: Shard | None = None,
    total: int | None = None,
) -> ImportReport:
    """Run one import (see the module docstring).

    Args:
        path: The input file.
        target: The API's columns and conversions.
        create_many: The SDK's bulk create.
        results_path: Per-row results CSV (rewritten).
        journal_path: The journal, or ``None`` for none.
        concurrency: Rows in flight at once.
        time_budget: Seconds after which no new row starts.
        progress: Show a progress bar on stderr when it is a terminal.
        out: Where the summary goes (default stdout).
        destination: Where the rows go: recorded in (and checked against) the journal, and
            named in the summary.
        shard: Process only this shard's rows.
        total: The file's data rows, when :func:`scan_file` already checked it (not read again).

    Raises:
        InputFormatError: the file cannot be read as a whole (nothing sent).
        JournalMismatchError: the journal belongs to another input, or (as
            :class:`~crm_core.JournalDestinationError`) to another destination.
    """
    out = out or sys.stdout
    total, journal, results_file = _open_job(path, target, results_path, journal_path, destination, shard, total)
    rows = iter_rows(path, target)
    writer = csv.writer(results_file)
    writer.writerow(["row", "status", target.id_label, "field", "error"])
    earlier = 0
    summary = BulkSummary()
    # On only when asked for and stderr is a terminal; off, tqdm is never called.
    bar = tqdm(total=total, unit="row", file=sys.stderr, dynamic_ncols=True) if progress and _tty() else None

    writerow = writer.writerow
    created = RowStatus.CREATED

    def on_result(result: RowResult[Any]) -> None:
        nonlocal earlier
        value = result.value
        if result.status is created and bar is None and value.__class__ is int:
            summary.created += 1  # the common line, written without the general path below
            writerow((result.row_number, "created", value, "", ""))
            return
        summary.add(result)
        record_id: Any = value
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
        if bar is not None:
            bar.update(1)
            bar.set_postfix(created=summary.created, failed=summary.failed, refresh=False)

    def typed_rows() -> Iterator[tuple[int, Mapping[str, Any]]]:
        # A plain generator: nothing here waits, and the bulk job reads a sync source
        # without an async-generator step per row.
        for number, raw in rows:
            if shard is not None and not shard.holds(None if isinstance(raw, str) else raw.get(target.shard_column)):
                continue
            try:
                if isinstance(raw, str):
                    raise ValidationError("row", raw, "a JSON object per line")
                row = target.convert(raw)
            except ValidationError as error:
                on_result(RowResult(row_number=number, status=RowStatus.FAILED, error=error))
                continue
            yield number, row

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
        summary.stopped = run.stopped
    finally:
        if bar is not None:
            bar.close()
        results_file.close()
        if journal is not None:
            journal.close()
    report = ImportReport(summary=summary, earlier=earlier, results_path=results_path, journal_path=journal_path)
    print(
        (f"Shard {shard}: " if shard else "")
        + f"{summary.total} rows: {summary.created} created, {summary.failed} failed, "
        f"{summary.skipped - earlier} skipped"
        + (f", {earlier} already created by an earlier run" if earlier else "")
        + f" in {summary.elapsed:.1f} s"
        + (f"; destination: {destination.describe()}." if destination is not None else "."),
        file=out,
    )
    if summary.stopped:
        print(f"Stopped: {summary.stopped}", file=out)
    print(f"Per-row results: {results_path}", file=out)
    return report


def _open_job(
    path: Path,
    target: ImportTarget,
    results_path: Path,
    journal_path: Path | None,
    destination: Destination | None,
    shard: Shard | None,
    total: int | None,
) -> tuple[int, Journal | None, TextIO]:
    """Check the whole file (format errors surface before any send), then open the outputs."""
    if total is None:
        total = scan_file(path, target)
    job = import_job_name(path, target, shard)
    journal = Journal(journal_path, job=job, destination=destination) if journal_path else None
    results_file = results_path.open("w", encoding="utf-8", newline="")
    return total, journal, results_file


def import_job_name(path: Path, target: ImportTarget, shard: Shard | None) -> str:
    """The job name a journal records: the API's job, the input's absolute path, the shard."""
    return f"{target.job}:{path.resolve()}" + (f":shard {shard}" if shard else "")


def _tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def remove_files(*paths: Path) -> None:
    """Delete files (and SQLite side files) if they exist."""
    for path in paths:
        for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            if candidate.exists():
                os.remove(candidate)
