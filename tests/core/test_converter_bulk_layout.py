"""Converter rules, the bulk executor, and the package layout rules."""

from __future__ import annotations

import ast
import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import attrs
import cattrs
import pytest

from crm_core import (
    APIError,
    RowResult,
    RowStatus,
    ValidationError,
    make_converter,
    parse_datetime,
    run_bulk,
)

SRC = Path(__file__).resolve().parents[2]


@attrs.frozen(kw_only=True)
class Sample:
    lead_id: int
    start_at: datetime | None = None
    note: str | None = None


def test_parse_datetime_forms() -> None:
    utc = datetime(2026, 3, 1, 15, 0, tzinfo=UTC)
    assert parse_datetime("2026-03-01T15:00:00GMT") == utc
    assert parse_datetime("2026-03-01T15:00:00Z") == utc
    assert parse_datetime("2026-03-01 15:00:00") == utc
    assert parse_datetime("2026-03-01T07:00:00-08:00") == utc
    assert parse_datetime(int(utc.timestamp() * 1000)) == utc
    assert parse_datetime("") is None


def test_converter_camel_case_and_int64_ids() -> None:
    converter = make_converter(naming="camel")
    sample = converter.structure({"leadId": 563172647619608, "startAt": "2026-03-01T15:00:00GMT"}, Sample)
    assert sample.lead_id == 563172647619608
    assert sample.start_at == datetime(2026, 3, 1, 15, tzinfo=UTC)
    assert converter.unstructure(sample) == {"leadId": 563172647619608, "startAt": "2026-03-01T15:00:00+00:00"}


def test_unknown_keys_ignored_in_production_and_forbidden_when_strict() -> None:
    data = {"leadId": 1, "brandNewField": True}
    assert make_converter().structure(data, Sample).lead_id == 1
    with pytest.raises(cattrs.BaseValidationError):
        make_converter(strict=True).structure(data, Sample)


def test_naive_datetime_is_a_value_error_naming_the_field() -> None:
    converter = make_converter()
    with pytest.raises(ValueError, match="start_at"):
        converter.unstructure(Sample(lead_id=1, start_at=datetime(2026, 3, 1, 15)))
    aware = Sample(lead_id=1, start_at=datetime(2026, 3, 1, 15, tzinfo=timezone(timedelta(hours=-8))))
    assert converter.unstructure(aware)["startAt"] == "2026-03-01T15:00:00-08:00"


async def test_run_bulk_keeps_per_key_order_and_reports_every_row() -> None:
    seen: dict[int, list[int]] = {}
    in_flight = 0
    peak = 0

    async def worker(number: int, row: Mapping[str, Any]) -> int:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.001 * (number % 3))
        in_flight -= 1
        if row["bad"]:
            raise ValidationError("value", row["bad"], "something else")
        seen.setdefault(row["key"], []).append(number)
        return number * 10

    rows = [(n, {"key": n % 4, "bad": "x" if n % 7 == 0 else None}) for n in range(1, 41)]
    results: list[RowResult[int]] = []
    summary = await run_bulk(rows, worker, concurrency=3, key=lambda r: r["key"], on_result=results.append)
    # Once a key's row fails, its later rows wait (skipped): 7, 14, 21 and 28 fail first.
    first_failure = {3: 7, 2: 14, 1: 21, 0: 28}
    waiting = {n for n in range(1, 41) if n > first_failure[n % 4]}
    assert summary.total == 40 and summary.failed == 4 and summary.skipped == len(waiting)
    assert summary.created == 40 - 4 - len(waiting)
    assert {r.row_number for r in results if r.status is RowStatus.SKIPPED} == waiting
    assert sorted(r.row_number for r in results) == list(range(1, 41))
    assert all(order == sorted(order) for order in seen.values())
    assert peak <= 3
    failed = [r for r in results if r.status is RowStatus.FAILED]
    assert {r.field for r in failed} == {"value"}


async def test_run_bulk_skips_rows_after_the_time_budget() -> None:
    async def worker(number: int, row: int) -> int:
        await asyncio.sleep(0.02)
        return row

    summary = await run_bulk([(n, n) for n in range(1, 11)], worker, concurrency=1, time_budget=0.05)
    assert summary.skipped > 0 and summary.created + summary.skipped == 10


async def test_run_bulk_api_errors_fail_the_row_only() -> None:
    async def worker(number: int, row: int) -> int:
        if number == 2:
            raise APIError("refused")
        return row

    summary = await run_bulk([(1, 1), (2, 2), (3, 3)], worker)
    assert (summary.created, summary.failed) == (2, 1)


def _imports(package: str) -> set[str]:
    found: set[str] = set()
    for path in (SRC / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return found


def test_core_imports_neither_sdk_and_sdks_do_not_import_each_other() -> None:
    assert not _imports("crm_core") & {"lofty_async", "superfone_async"}
    assert "superfone_async" not in _imports("lofty_async")
    assert "lofty_async" not in _imports("superfone_async")


def test_every_package_ships_py_typed() -> None:
    for package in ("crm_core", "lofty_async", "superfone_async"):
        assert (SRC / package / "py.typed").exists()
