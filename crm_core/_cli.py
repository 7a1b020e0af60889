"""The command line both SDKs ship, built from one definition (click).

``<prog> tasks import FILE`` runs :func:`~crm_core._importjob.run_import` against the real API
(credentials from the environment) or, with ``--sandbox``, against the SDK's emulator served
in-process on loopback. ``<prog> sandbox`` serves the emulator until interrupted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any, Protocol

import attrs
import click

from ._client import RateLimit
from ._importjob import (
    CreateMany,
    ImportTarget,
    InputFormatError,
    default_paths,
    remove_files,
    run_import,
)
from ._journal import JournalMismatchError
from ._retry import RetryPolicy
from .emulator import FaultPlan, FixedWindowRateLimit

__all__ = ["CLISpec", "make_cli", "parse_rate"]


class Emulator(Protocol):
    def serve(self, *, port: int = 0) -> AbstractAsyncContextManager[str]: ...


class Client(Protocol):
    async def aclose(self) -> None: ...


@attrs.frozen(kw_only=True)
class CLISpec:
    """What differs between the two command lines.

    Attributes:
        prog: Command name (``"lofty-async"``).
        api: API name for messages (``"Lofty"``).
        target: The import's columns and conversions.
        credentials_help: Which environment variables hold credentials.
        default_base_url: The real API's root.
        default_sandbox_rate: ``REQUESTS/SECONDS`` rate limit of the sandbox.
        client_from_env: ``(base_url, options) -> client``; raises ``click.UsageError`` when
            no credentials are set.
        sandbox_client: ``(url, options) -> client`` for the emulator.
        make_emulator: ``(state_path, faults, rate_limit) -> emulator``.
        create_many: ``client -> its tasks' create_many``.
        sandbox_credentials: Printed by ``sandbox`` (never a real secret).
    """

    prog: str
    api: str
    target: ImportTarget
    credentials_help: str
    default_base_url: str
    default_sandbox_rate: str
    client_from_env: Callable[[str, dict[str, Any]], Client]
    sandbox_client: Callable[[str, dict[str, Any]], Client]
    make_emulator: Callable[[Path | None, FaultPlan | None, FixedWindowRateLimit | None], Emulator]
    create_many: Callable[[Any], CreateMany]
    sandbox_credentials: str


def _split_rate(text: str) -> tuple[float, float] | None:
    """``"100/60"`` -> ``(100.0, 60.0)``; ``"off"`` -> ``None``; the window defaults to 60 s."""
    if text.strip().lower() in ("off", "none", "0"):
        return None
    requests, _, window = text.partition("/")
    try:
        return float(requests), float(window or 60)
    except ValueError:
        raise click.BadParameter(f"{text!r}: expected REQUESTS/SECONDS such as 100/60, or off") from None


def parse_rate(text: str) -> FixedWindowRateLimit | None:
    """The emulator's limit: ``"100/60"`` -> 100 requests per 60 s window; ``"off"`` -> none."""
    rate = _split_rate(text)
    return None if rate is None else FixedWindowRateLimit(limit=int(rate[0]), window=rate[1])


def parse_client_rate(text: str) -> RateLimit | None:
    """The client's bucket: ``"5/1"`` -> 5 requests per second; ``"off"`` -> none."""
    rate = _split_rate(text)
    return None if rate is None else RateLimit(requests=rate[0], window=rate[1])


def make_cli(spec: CLISpec) -> click.Group:
    """Build the ``click`` group for one SDK."""

    @click.group(help=f"Bulk jobs and a local sandbox for the {spec.api} API.")
    @click.option("-v", "--verbose", count=True, help="Log retries (-v) or every request (-vv) to stderr.")
    def main(verbose: int) -> None:
        if verbose:
            logging.basicConfig(
                level=logging.DEBUG if verbose > 1 else logging.WARNING,
                format="%(asctime)s %(name)s %(levelname)s %(message)s",
            )

    @main.group(help="Task jobs.")
    def tasks() -> None:
        pass

    @tasks.command(
        "import",
        help=(
            f"Create one {spec.api} task per row of FILE (CSV with a header, or JSONL). "
            f"Columns: {', '.join(spec.target.columns)}. Writes a per-row results CSV and a "
            "journal; run the same command again after a crash to finish the job without "
            "duplicates. Exit status 1 when any row failed."
        ),
    )
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--sandbox", is_flag=True, help="Run against the local emulator instead of the real API.")
    @click.option("--base-url", default=spec.default_base_url, show_default=True, help="API root (real API).")
    @click.option("--results", type=click.Path(dir_okay=False), help="Results CSV [default: FILE.results.csv].")
    @click.option("--journal", type=click.Path(dir_okay=False), help="Journal [default: FILE.journal.sqlite].")
    @click.option("--fresh", is_flag=True, help="Forget earlier runs (delete the journal and sandbox state).")
    @click.option("--concurrency", type=click.IntRange(1, 100), default=10, show_default=True)
    @click.option(
        "--timeout",
        type=click.FloatRange(min=0.1),
        default=None,
        help="Per-attempt time limit, seconds [default: 30; 5 with --sandbox].",
    )
    @click.option(
        "--retries",
        type=click.IntRange(0, 20),
        default=6,
        show_default=True,
        help="Retries per request (bulk jobs retry more than interactive calls).",
    )
    @click.option(
        "--time-budget",
        type=click.FloatRange(min=0.1),
        default=None,
        help="Stop starting rows after this many seconds (the rest are skipped; re-run to finish).",
    )
    @click.option(
        "--rate-limit",
        "client_rate",
        default=None,
        help="Client-side rate REQUESTS/SECONDS, or off [default: the SDK's default].",
    )
    @click.option(
        "--sandbox-faults",
        default=None,
        help="Faults the sandbox injects, e.g. '10%' or '429=0.05,reset-after=0.03,seed=7'.",
    )
    @click.option(
        "--sandbox-rate-limit",
        default=spec.default_sandbox_rate,
        show_default=True,
        help="Sandbox rate limit REQUESTS/SECONDS, or off.",
    )
    @click.option(
        "--sandbox-state",
        type=click.Path(dir_okay=False),
        default=None,
        help="Sandbox state file [default: FILE.sandbox-state.jsonl].",
    )
    @click.option("--progress/--no-progress", default=True, help="Show a progress bar on stderr.")
    def import_command(
        file: Path,
        sandbox: bool,
        base_url: str,
        results: str | None,
        journal: str | None,
        fresh: bool,
        concurrency: int,
        timeout: float | None,
        retries: int,
        time_budget: float | None,
        client_rate: str | None,
        sandbox_faults: str | None,
        sandbox_rate_limit: str,
        sandbox_state: str | None,
        progress: bool,
    ) -> None:
        results_path, journal_path = default_paths(file, results, journal)
        state_path = Path(sandbox_state) if sandbox_state else file.with_name(file.name + ".sandbox-state.jsonl")
        try:
            faults = FaultPlan.parse(sandbox_faults) if sandbox_faults else None
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--sandbox-faults") from None
        if faults is not None and not sandbox:
            raise click.UsageError("--sandbox-faults needs --sandbox")
        rate = parse_rate(sandbox_rate_limit)
        if fresh:
            remove_files(journal_path, *([state_path] if sandbox else []))
        if timeout is None:
            timeout = 5.0 if sandbox else 30.0
        if faults is not None and "slow=" not in (sandbox_faults or ""):
            faults.slow_seconds = timeout + 0.5  # a slow response outlasts the client's timeout
        options: dict[str, Any] = {
            "timeout": timeout,
            "max_concurrency": concurrency,
            "retry": RetryPolicy(max_retries=retries),
        }
        if client_rate is not None:
            options["rate_limit"] = parse_client_rate(client_rate)
        client = None if sandbox else spec.client_from_env(base_url, options)

        async def job() -> int:
            async with contextlib.AsyncExitStack() as stack:
                if sandbox:
                    emulator = spec.make_emulator(state_path, faults, rate)
                    url = await stack.enter_async_context(emulator.serve())
                    active = spec.sandbox_client(url, options)
                    click.echo(f"Sandbox {spec.api} emulator at {url} (state: {state_path})", err=True)
                else:
                    assert client is not None
                    active = client
                stack.push_async_callback(active.aclose)
                report = await run_import(
                    path=file,
                    target=spec.target,
                    create_many=spec.create_many(active),
                    results_path=results_path,
                    journal_path=journal_path,
                    concurrency=concurrency,
                    time_budget=time_budget,
                    progress=progress,
                )
                if faults is not None:
                    injected = ", ".join(
                        f"{k.value}: {n}" for k, n in sorted(faults.injected.items(), key=lambda i: i[0].value)
                    )
                    click.echo(f"Faults injected by the sandbox: {injected or 'none'}")
                return report.exit_code

        try:
            code = asyncio.run(job())
        except (InputFormatError, JournalMismatchError) as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(2)
        sys.exit(code)

    @main.command(help=f"Serve the {spec.api} emulator on loopback until interrupted (Ctrl-C).")
    @click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
    @click.option("--faults", default=None, help="Fault spec, as for --sandbox-faults.")
    @click.option(
        "--rate-limit", default=spec.default_sandbox_rate, show_default=True, help="REQUESTS/SECONDS, or off."
    )
    @click.option("--state", type=click.Path(dir_okay=False), default=None, help="Persist state to this file.")
    def sandbox(port: int, faults: str | None, rate_limit: str, state: str | None) -> None:
        try:
            plan = FaultPlan.parse(faults) if faults else None
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--faults") from None
        emulator = spec.make_emulator(Path(state) if state else None, plan, parse_rate(rate_limit))

        async def run() -> None:
            async with emulator.serve(port=port) as url:
                click.echo(f"{spec.api} emulator serving at {url}")
                click.echo(spec.sandbox_credentials)
                await asyncio.Event().wait()

        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run())

    return main
