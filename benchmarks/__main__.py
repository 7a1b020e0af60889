"""``python -m benchmarks [--quick] [--scenario NAME ...] [--million] [--rounds N] [--out DIR]``.

Prints one markdown table (SDK vs baseline, min and median ratio over interleaved rounds, target,
met/missed) and writes it, with the PNG plots, to ``benchmarks/results/`` (quick mode:
``benchmarks/results/quick/``). The exit status is 0 when every scenario ran, whatever the verdicts
(a missed target is a finding, not a broken benchmark); 1 when a scenario broke (the others still
report).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
import traceback
from pathlib import Path

from . import scenarios as _registered  # noqa: F401  (importing it registers the scenarios)
from ._harness import REPO, Context, Row, markdown_table, scenarios

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    available = scenarios()
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="The SDK against raw aiohttp, raw httpx and a naive loop, side by side.",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, fewer rounds (CI; under 2 minutes)")
    parser.add_argument(
        "--scenario",
        action="append",
        choices=list(available),
        metavar="NAME",
        help="run only this scenario (repeatable): " + ", ".join(available),
    )
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds [default: 5; quick: 2]")
    parser.add_argument(
        "--million", action="store_true", help="add the 1,000,000-row memory case (tens of minutes on 2 cores)"
    )
    parser.add_argument("--out", type=Path, default=None, help="results directory [default: benchmarks/results]")
    args = parser.parse_args(argv)
    out: Path = args.out or (REPO / "benchmarks" / "results" / ("quick" if args.quick else ""))
    out.mkdir(parents=True, exist_ok=True)
    names = args.scenario or list(available)
    rows: list[Row] = []
    broken: list[str] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="crm-bench-") as tmp:
        ctx = Context(
            quick=args.quick,
            rounds=args.rounds or (2 if args.quick else 5),
            tmp=Path(tmp),
            out=out,
            million=args.million,
        )
        for name in names:
            function, description = available[name]
            ctx.log(f"scenario {name}: {description}")
            begun = time.perf_counter()
            try:
                rows.extend(function(ctx))
            except Exception as exc:  # report it, keep the other scenarios' numbers, fail at the end
                traceback.print_exc()
                broken.append(name)
                rows.append(Row(name, f"BROKEN: {type(exc).__name__}: {exc}"[:300], "", "", verdict="error"))
            ctx.log(f"scenario {name}: done in {time.perf_counter() - begun:.0f} s")
    elapsed = time.perf_counter() - started
    table = markdown_table(rows)
    mode = "quick" if args.quick else "full"
    note = (
        f"Mode: {mode}; {ctx.rounds} interleaved rounds; {elapsed:.0f} s in all; "
        f"Python {platform.python_version()} on {platform.machine()}, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. "
        "Ratios are SDK/baseline per round; verdicts judge the median."
    )
    print(table)
    print()
    print(note)
    plots = "".join(f"\n![{path.stem}]({path.name})" for path in ctx.plots)
    (out / "results.md").write_text(f"# Benchmark results\n\n{table}\n\n{note}\n{plots}\n", encoding="utf-8")
    (out / "results.json").write_text(
        json.dumps(
            [
                dict(zip(["scenario", "measure", "sdk", "baseline"], r.cells()[:4], strict=True))
                | {
                    "ratios": r.ratios,
                    "verdict": r.status,
                }
                for r in rows
            ],
            indent=1,
        ),
        encoding="utf-8",
    )
    print(f"\nWritten: {out / 'results.md'}" + "".join(f", {p}" for p in ctx.plots), file=sys.stderr)
    if broken:
        print(f"benchmark scenarios broken: {', '.join(broken)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
