"""Shared machinery: server processes, child processes, interleaved rounds, rows of the table.

A scenario is a function ``(Context) -> list[Row]`` registered with :func:`scenario`; see
``benchmarks/README.md`` ("Adding a scenario").
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent

# The wire values every generated row uses (valid for the Lofty emulator and the real API).
LOFTY_END_AT = "2027-03-01T16:00:00-08:00"
LOFTY_ZONE = "America/Los_Angeles"


@dataclass(frozen=True)
class Target:
    """A budget for the SDK/baseline ratio (judged on the median of the rounds).

    Attributes:
        limit: The bound, e.g. ``1.15``.
        at_most: ``True``: the ratio must be <= ``limit`` (CPU); ``False``: >= (throughput).
    """

    limit: float
    at_most: bool = True

    def met(self, value: float) -> bool:
        return value <= self.limit if self.at_most else value >= self.limit

    def __str__(self) -> str:
        return f"{'≤' if self.at_most else '≥'} {self.limit:g}×"


@dataclass
class Row:
    """One line of the results table.

    Attributes:
        scenario: Scenario name.
        measure: What is compared (``"tasks.get CPU/request vs raw aiohttp"``).
        sdk: The SDK's value, formatted (median of the rounds).
        baseline: The baseline's value, formatted.
        ratios: SDK/baseline per round (empty for rows without a ratio).
        target: The budget (``None``: informational).
        verdict: ``"met"``/``"missed"`` override for targets that are not ratios.
        target_text: How to print a non-ratio target.
    """

    scenario: str
    measure: str
    sdk: str
    baseline: str
    ratios: list[float] = field(default_factory=list)
    target: Target | None = None
    verdict: str | None = None
    target_text: str = ""

    @property
    def status(self) -> str:
        if self.verdict is not None:
            return self.verdict
        if self.target is None or not self.ratios:
            return "info"
        return "met" if self.target.met(statistics.median(self.ratios)) else "missed"

    def cells(self) -> list[str]:
        low = f"{min(self.ratios):.2f}" if self.ratios else ""
        mid = f"{statistics.median(self.ratios):.2f}" if self.ratios else ""
        target = str(self.target) if self.target is not None else self.target_text
        return [self.scenario, self.measure, self.sdk, self.baseline, low, mid, target, self.status]


HEADER = ["scenario", "measure", "SDK", "baseline", "ratio min", "ratio median", "target", "verdict"]


def markdown_table(rows: Sequence[Row]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "|".join("---" for _ in HEADER) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in row.cells()) + " |")
    return "\n".join(lines)


@dataclass
class Context:
    """What a scenario gets.

    Attributes:
        quick: Quick mode (small sizes; CI).
        rounds: Interleaved rounds per comparison.
        tmp: A scratch directory (removed afterwards).
        out: Where plots go.
        million: Include the 1,000,000-row memory case.
        plots: Files written, for the report.
        log: Progress lines go here (stderr).
    """

    quick: bool
    rounds: int
    tmp: Path
    out: Path
    million: bool = False
    plots: list[Path] = field(default_factory=list)

    def log(self, message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


Scenario = Callable[[Context], list[Row]]
_REGISTRY: dict[str, tuple[int, Scenario, str]] = {}


def scenario(name: str, description: str, *, order: int) -> Callable[[Scenario], Scenario]:
    """Register a scenario under ``name``; scenarios run (and print) by ascending ``order``."""

    def register(function: Scenario) -> Scenario:
        if name in _REGISTRY:
            raise ValueError(f"benchmark scenario {name!r} is registered twice")
        _REGISTRY[name] = (order, function, description)
        return function

    return register


def scenarios() -> dict[str, tuple[Scenario, str]]:
    """Registered scenarios in run order: ``name -> (function, description)``."""
    ordered = sorted(_REGISTRY.items(), key=lambda item: item[1][0])
    return {name: (function, description) for name, (_, function, description) in ordered}


# -- processes ---------------------------------------------------------------------------------


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    return env


class Server:
    """A server in its own process (``benchmarks._server``); see that module for ``options``."""

    def __init__(self, **options: Any) -> None:
        self.options = options
        self.url = ""
        self._process: subprocess.Popen[str] | None = None

    def __enter__(self) -> Server:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks._server", json.dumps(self.options)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env=_child_env(),
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline().strip()
        if not line.startswith("http"):
            self.__exit__()
            raise RuntimeError(f"benchmark server did not start (options {self.options}): {line!r}")
        self.url = line
        return self

    def __exit__(self, *exc: object) -> None:
        process = self._process
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        self._process = None

    def _call(self, method: str, path: str) -> Any:
        request = urllib.request.Request(self.url + path, method=method, data=b"" if method == "POST" else None)
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())

    def reset(self) -> None:
        """Forget the timeline and the stored tasks."""
        self._call("POST", "/_bench/reset")

    def timeline(self) -> list[tuple[float, int]]:
        """``(epoch seconds, status)`` of each API request since the last reset."""
        return [(float(t), int(s)) for t, s in self._call("GET", "/_bench/timeline")]

    def contents(self) -> dict[str, int]:
        """How many stored tasks carry each content."""
        return {str(k): int(v) for k, v in self._call("GET", "/_bench/contents").items()}


def run_child(job: dict[str, Any], *, timeout: float = 3600) -> dict[str, Any]:
    """Run ``benchmarks._child`` with ``job``; return its JSON report (cpu, wall, maxrss_kib, ...)."""
    return run_children([job], timeout=timeout)[0]


def run_children(jobs: Sequence[dict[str, Any]], *, timeout: float = 3600) -> list[dict[str, Any]]:
    """Run several ``benchmarks._child`` jobs at once, each in its own process; their reports in order.

    For scenarios about several workers sharing one server (e.g. one rate limit across processes).

    Raises:
        RuntimeError: a child failed or printed no report (its stderr tail is in the message).
    """
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "benchmarks._child", json.dumps(job)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env=_child_env(),
        )
        for job in jobs
    ]
    reports = []
    for job, process in zip(jobs, processes, strict=True):
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
        lines = stdout.strip().splitlines()
        if process.returncode != 0 or not lines:
            raise RuntimeError(f"benchmark child failed ({process.returncode}) for {job['kind']}:\n{stderr[-3000:]}")
        reports.append(json.loads(lines[-1]))
    return reports


# -- measuring ----------------------------------------------------------------------------------


@dataclass
class Sample:
    """One measured run: client CPU seconds, wall seconds, operations done, requests the server saw."""

    cpu: float
    wall: float
    count: int
    requests: int = 0

    @property
    def cpu_per_op(self) -> float:
        return self.cpu / self.count

    @property
    def rate(self) -> float:
        return self.count / self.wall


async def drive(operation: Callable[[int], Awaitable[Any]], count: int, concurrency: int) -> Sample:
    """Call ``operation(i)`` for ``i`` in ``range(count)`` with ``concurrency`` in flight; measure."""
    numbers = iter(range(count))

    async def worker() -> None:
        for number in numbers:
            await operation(number)

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Sample(time.process_time() - cpu, time.perf_counter() - wall, count)


def interleave(rounds: int, contenders: Sequence[str]) -> Iterator[tuple[int, str]]:
    """``(round, name)`` in an order that rotates each round, so drift hits every contender."""
    for number in range(rounds):
        shift = number % len(contenders)
        for name in [*contenders[shift:], *contenders[:shift]]:
            yield number, name


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def write_task_rows(path: Path, count: int, *, tag: str = "Benchmark task") -> None:
    """Write ``count`` Lofty task rows (CSV with a header) to ``path``, streamed."""
    from lofty_async.testing import sandbox_lead_ids

    leads = sandbox_lead_ids()
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["type", "content", "lead_id", "assigned_role", "end_at", "time_zone_code"])
        for i in range(count):
            writer.writerow(["Call", f"{tag} {i}", leads[i % len(leads)], "Agent", LOFTY_END_AT, LOFTY_ZONE])


def us(seconds: float) -> str:
    """Seconds as microseconds, for per-request CPU."""
    return f"{seconds * 1e6:,.0f} µs"
