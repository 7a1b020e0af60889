"""Bulk scenarios: the import command against a naive loop, memory, pacing and faults.

The SDK side is the installed ``lofty-async tasks import`` command (journal and results file on,
as a user runs it), called in a child process that times only the import (not the interpreter's
start). The baseline is :func:`benchmarks._child.naive_import` in a child process of its own.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from lofty_async.testing import SANDBOX_API_KEY

from .._harness import Context, Row, Server, Target, interleave, median, run_child, scenario, us, write_task_rows

CONSOLE = "lofty-async"


def cli_job(ctx: Context, file: Path, tag: str, *args: str) -> dict[str, Any]:
    """A child job running ``lofty-async tasks import FILE`` with fresh journal/results files."""
    journal, results = ctx.tmp / f"{tag}.journal.sqlite", ctx.tmp / f"{tag}.results.csv"
    for path in (journal, results):
        path.unlink(missing_ok=True)
    return {
        "kind": "cli",
        "console": CONSOLE,
        "args": [
            "tasks",
            "import",
            str(file),
            "--journal",
            str(journal),
            "--results",
            str(results),
            "--no-progress",
            *args,
        ],
        "env": {"LOFTY_API_KEY": SANDBOX_API_KEY},
    }


def naive_job(file: Path, url: str, concurrency: int, *, retry: bool = False, timeout: float = 30.0) -> dict[str, Any]:
    return {
        "kind": "naive",
        "file": str(file),
        "url": url,
        "api_key": SANDBOX_API_KEY,
        "concurrency": concurrency,
        "retry": retry,
        "timeout": timeout,
    }


def _checked(report: dict[str, Any], what: str) -> dict[str, Any]:
    if report["exit"] != 0:
        raise RuntimeError(f"{what} exited with {report['exit']}: {report}")
    return report


# -- 2. import vs a naive loop --------------------------------------------------------------------


@scenario(
    "import",
    "lofty-async tasks import (journal on) vs a naive aiohttp loop, concurrency 1/10/64",
    order=40,
)
def import_vs_naive(ctx: Context) -> list[Row]:
    rows_count = 400 if ctx.quick else 3000
    file = ctx.tmp / "import.csv"
    write_task_rows(file, rows_count)
    out: list[Row] = []
    with Server(api="lofty", rate_limit=None) as server:
        for concurrency in (1, 10, 64):
            reports: dict[str, list[dict[str, Any]]] = {"sdk": [], "naive": []}
            for number, name in interleave(ctx.rounds, ["sdk", "naive"]):
                server.reset()
                if name == "sdk":
                    job = cli_job(
                        ctx,
                        file,
                        f"import-{concurrency}-{number}",
                        "--base-url",
                        server.url,
                        "--concurrency",
                        str(concurrency),
                        "--rate-limit",
                        "off",
                    )
                else:
                    job = naive_job(file, server.url, concurrency)
                reports[name].append(_checked(run_child(job), f"{name} import"))
                ctx.log(f"import c={concurrency} {name}: {reports[name][-1]['wall']:.2f} s")
            sdk, naive = reports["sdk"], reports["naive"]
            cpu_ratios = [s["cpu"] / n["cpu"] for s, n in zip(sdk, naive, strict=True)]
            rate_ratios = [n["wall"] / s["wall"] for s, n in zip(sdk, naive, strict=True)]
            out.append(
                Row(
                    "import",
                    f"{rows_count:,} rows, concurrency {concurrency}: client CPU/row vs naive loop",
                    us(median([r["cpu"] for r in sdk]) / rows_count),
                    us(median([r["cpu"] for r in naive]) / rows_count),
                    cpu_ratios,
                    Target(1.5),
                )
            )
            out.append(
                Row(
                    "import",
                    f"{rows_count:,} rows, concurrency {concurrency}: rows/s vs naive loop",
                    f"{rows_count / median([r['wall'] for r in sdk]):,.0f}/s",
                    f"{rows_count / median([r['wall'] for r in naive]):,.0f}/s",
                    rate_ratios,
                    Target(0.9, at_most=False),
                )
            )
    return out


# -- 3. peak RSS against rows ---------------------------------------------------------------------

MIB = 1024.0  # KiB per MiB (ru_maxrss is in KiB on Linux)
SANDBOX_BUDGET_MIB = 300e6 / 2**20  # the 300 MB


@scenario(
    "memory",
    "peak RSS of the import: client alone (server elsewhere) and in-process sandbox, by rows",
    order=50,
)
def memory(ctx: Context) -> list[Row]:
    sizes = [1_000, 10_000] if ctx.quick else [10_000, 100_000]
    if ctx.million:
        sizes.append(1_000_000)
    client: dict[int, float] = {}
    naive: dict[int, float] = {}
    sandbox: dict[int, float] = {}
    with Server(api="lofty", rate_limit=None, forget=True) as server:
        for size in sizes:
            file = ctx.tmp / f"memory-{size}.csv"
            write_task_rows(file, size)
            job = cli_job(ctx, file, f"mem-{size}", "--base-url", server.url, "--rate-limit", "off")
            client[size] = _checked(run_child(job), "client import")["maxrss_kib"] / MIB
            naive[size] = _checked(run_child(naive_job(file, server.url, 10)), "naive import")["maxrss_kib"] / MIB
            state = ctx.tmp / f"mem-{size}.state.jsonl"
            job = cli_job(
                ctx,
                file,
                f"sandbox-{size}",
                "--sandbox",
                "--fresh",
                "--sandbox-state",
                str(state),
                "--sandbox-rate-limit",
                "off",
                "--rate-limit",
                "off",
            )
            sandbox[size] = _checked(run_child(job), "sandbox import")["maxrss_kib"] / MIB
            state.unlink(missing_ok=True)
            file.unlink()
            ctx.log(f"memory {size:,} rows: client {client[size]:.1f} MiB, sandbox {sandbox[size]:.1f} MiB")
    _plot_memory(ctx, client, naive, sandbox)
    low, high = sizes[0], sizes[-1]
    growth = client[high] - client[low]
    out = [
        Row(
            "memory",
            f"client peak RSS, {low:,} → {high:,} rows (server in its own process)",
            f"{client[low]:.1f} → {client[high]:.1f} MiB",
            f"naive loop: {naive[low]:.1f} → {naive[high]:.1f} MiB",
            verdict="met" if growth <= 5.0 else "missed",
            target_text="growth ≤ 5 MiB",
        )
    ]
    million = 1_000_000
    if million in sandbox:
        peak, how = sandbox[million], "measured"
    else:  # linear in rows between the two largest sizes (memory that grows per row)
        per_row = (sandbox[high] - sandbox[low]) / (high - low)
        peak, how = sandbox[high] + per_row * (million - high), "projected linearly (run with --million to measure)"
    out.append(
        Row(
            "memory",
            f"in-process sandbox peak RSS at 1,000,000 rows, {how}",
            f"{peak:,.0f} MiB ({low:,}: {sandbox[low]:.0f}, {high:,}: {sandbox[high]:.0f} MiB)",
            "",
            verdict="met" if peak <= SANDBOX_BUDGET_MIB else "missed",
            target_text="≤ 300 MB",
        )
    )
    return out


def _plot_memory(ctx: Context, client: dict[int, float], naive: dict[int, float], sandbox: dict[int, float]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.5))
    for label, series in (("client (SDK CLI)", client), ("naive loop", naive), ("in-process sandbox", sandbox)):
        sizes = sorted(series)
        axes.plot(sizes, [series[s] for s in sizes], marker="o", label=label)
    axes.axhline(SANDBOX_BUDGET_MIB, color="red", linestyle="--", linewidth=1, label="sandbox budget (300 MB)")
    axes.set_xscale("log")
    axes.set_xlabel("rows imported")
    axes.set_ylabel("peak RSS (MiB)")
    axes.set_title("Peak RSS against rows")
    axes.legend()
    axes.grid(True, alpha=0.3)
    path = ctx.out / "memory.png"
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    ctx.plots.append(path)


# -- 4. pacing against a short window -------------------------------------------------------------

LIMIT, WINDOW = 20, 2.0


@scenario(
    "pacing",
    f"{LIMIT} requests / {WINDOW:g} s window (X-RateLimit-*): 429s and wall time vs ideal",
    order=60,
)
def pacing(ctx: Context) -> list[Row]:
    rows_count = 60 if ctx.quick else 200
    rounds = 1 if ctx.quick else 3
    file = ctx.tmp / "pacing.csv"
    write_task_rows(file, rows_count, tag="Paced task")
    ideal = (math.ceil(rows_count / LIMIT) - 1) * WINDOW
    expected = {f"Paced task {i}" for i in range(rows_count)}
    results: dict[str, list[tuple[float, int, int]]] = {"sdk": [], "naive": []}
    timelines: dict[str, list[tuple[float, int]]] = {}
    with Server(api="lofty", rate_limit=[LIMIT, WINDOW]) as server:
        for number, name in interleave(rounds, ["sdk", "naive"]):
            server.reset()
            if name == "sdk":
                job = cli_job(ctx, file, f"pacing-{number}", "--base-url", server.url, "--concurrency", "10")
            else:
                job = naive_job(file, server.url, 10, retry=True)
            report = run_child(job)  # a row given up is a finding (counted below), not a broken run
            timeline = server.timeline()
            throttled = sum(1 for _, status in timeline if status == 429)
            lost = len(expected - set(server.contents()))
            results[name].append((report["wall"], throttled, lost))
            timelines.setdefault(name, timeline)
            ctx.log(f"pacing {name}: {report['wall']:.1f} s, {throttled} 429s, {lost} rows not created")
    _plot_pacing(ctx, timelines)
    sdk_walls = [w for w, _, _ in results["sdk"]]
    naive_walls = [w for w, _, _ in results["naive"]]
    sdk_429 = max(t for _, t, _ in results["sdk"])
    sdk_lost = max(lost for _, _, lost in results["sdk"])
    naive_lost = max(lost for _, _, lost in results["naive"])
    budget = 1.15 * ideal + 2 * WINDOW
    return [
        Row(
            "pacing",
            f"{rows_count} creates at {LIMIT}/{WINDOW:g} s: 429s (worst round)",
            str(sdk_429) + (f"; {sdk_lost} row(s) not created" if sdk_lost else ""),
            f"naive tenacity loop: {max(t for _, t, _ in results['naive'])}"
            + (f"; {naive_lost} row(s) given up" if naive_lost else ""),
            verdict="met" if sdk_429 <= LIMIT and not sdk_lost else "missed",
            target_text=f"≤ one window ({LIMIT}), every row created",
        ),
        Row(
            "pacing",
            f"{rows_count} creates at {LIMIT}/{WINDOW:g} s: wall time (ideal {ideal:.0f} s)",
            f"{median(sdk_walls):.1f} s",
            f"{median(naive_walls):.1f} s",
            [s / n for s, n in zip(sdk_walls, naive_walls, strict=True)],
            verdict="met" if max(sdk_walls) <= budget else "missed",
            target_text=f"SDK ≤ 1.15× ideal + 2 windows ({budget:.0f} s)",
        ),
    ]


def _plot_pacing(ctx: Context, timelines: dict[str, list[tuple[float, int]]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 4.5))
    for name, label in (("sdk", "SDK (lofty-async tasks import)"), ("naive", "naive aiohttp + tenacity")):
        timeline = timelines.get(name) or []
        if not timeline:
            continue
        start = timeline[0][0]
        seconds = math.ceil(timeline[-1][0] - start) + 1
        sent = [0] * seconds
        refused = [0] * seconds
        for moment, status in timeline:
            bucket = int(moment - start)
            sent[bucket] += 1
            refused[bucket] += status == 429
        line = axes.step(range(seconds), sent, where="post", label=f"{label}: requests/s")[0]
        axes.step(range(seconds), refused, where="post", linestyle=":", color=line.get_color(), label=f"{label}: 429/s")
    axes.axhline(LIMIT / WINDOW, color="red", linestyle="--", linewidth=1, label=f"limit ({LIMIT}/{WINDOW:g} s)")
    axes.set_xlabel("seconds since the first request")
    axes.set_ylabel("requests per second")
    axes.set_title("Requests per second against the limit")
    axes.legend(fontsize=8)
    axes.grid(True, alpha=0.3)
    path = ctx.out / "pacing.png"
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    ctx.plots.append(path)


# -- 5. faults ------------------------------------------------------------------------------------

FAULTS = "10%,seed=7,slow=2"


@scenario(
    "faults",
    f"server faults ({FAULTS}): wall time, duplicates and lost rows, SDK vs naive tenacity loop",
    order=70,
)
def faults(ctx: Context) -> list[Row]:
    rows_count = 100 if ctx.quick else 500
    rounds = 1 if ctx.quick else 3
    file = ctx.tmp / "faults.csv"
    write_task_rows(file, rows_count, tag="Faulted task")
    expected = {f"Faulted task {i}" for i in range(rows_count)}
    seen: dict[str, list[tuple[float, int, int]]] = {"sdk": [], "naive": []}
    with Server(api="lofty", rate_limit=None, faults=FAULTS) as server:
        for number, name in interleave(rounds, ["sdk", "naive"]):
            server.reset()
            if name == "sdk":
                args = ("--base-url", server.url, "--rate-limit", "off", "--timeout", "1.5")
                job = cli_job(ctx, file, f"faults-{number}", *args)
            else:
                job = naive_job(file, server.url, 10, retry=True, timeout=1.5)
            report = run_child(job)
            contents = server.contents()
            duplicates = sum(count - 1 for text, count in contents.items() if text in expected)
            lost = len(expected - set(contents))
            seen[name].append((report["wall"], duplicates, lost))
            ctx.log(f"faults {name}: {report['wall']:.1f} s, {duplicates} duplicates, {lost} lost")
    sdk, naive = seen["sdk"], seen["naive"]
    sdk_bad = max(d + lost for _, d, lost in sdk)

    def worst(samples: list[tuple[float, int, int]]) -> str:
        return f"{max(d for _, d, _ in samples)} dup, {max(lost for _, _, lost in samples)} lost"

    return [
        Row(
            "faults",
            f"{rows_count} creates, {FAULTS}: duplicates and lost rows (worst round)",
            worst(sdk),
            f"naive tenacity loop: {worst(naive)}",
            verdict="met" if sdk_bad == 0 else "missed",
            target_text="SDK: 0 duplicates, 0 lost",
        ),
        Row(
            "faults",
            f"{rows_count} creates, {FAULTS}: wall time",
            f"{median([w for w, _, _ in sdk]):.1f} s",
            f"{median([w for w, _, _ in naive]):.1f} s",
            [s[0] / n[0] for s, n in zip(sdk, naive, strict=True)],
        ),
    ]
