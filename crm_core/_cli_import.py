"""``<prog> tasks import FILE``: options, checks, destination, and the job itself.

Everything a user can get wrong is checked before anything is sent and ends with exit
status 2 and one line (see :mod:`crm_core._cli_options`). Default file names put the
destination (and the shard) in the journal's name, so a sandbox run and a real run never
share outcomes:

* journal: ``FILE[.shard-I-of-N].sandbox.journal.sqlite`` in the sandbox,
  ``FILE[.shard-I-of-N].<host>[_<port>].journal.sqlite`` against a server;
* results: ``FILE[.shard-I-of-N].results.csv`` (rewritten by every run);
* sandbox state: ``FILE.sandbox-state.jsonl``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import glob
import os
import re
import signal
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import attrs
import click

from ._bulk import BulkPolicy, bulk_policy
from ._cli_options import check_credential, check_distinct_paths, check_output_path, parse_client_rate, parse_rate
from ._importjob import InputFormatError, Shard, import_job_name, remove_files, run_import, scan_file
from ._journal import Destination, Journal, JournalLockedError, JournalMismatchError, credential_digest
from ._journal import _lock as journal_lock
from ._reconcile import ReconcileSettings
from ._retry import RetryPolicy
from .emulator import FaultPlan

if TYPE_CHECKING:
    from ._cli import CLISpec

__all__ = ["ImportSettings", "default_journal_path", "import_command", "parse_shard"]


@attrs.frozen(kw_only=True)
class ImportSettings:
    """The ``tasks import`` options as given (see ``--help`` for each)."""

    file: Path
    sandbox: bool
    base_url: str
    results: str | None
    journal: str | None
    fresh: bool
    concurrency: int
    timeout: float | None
    retries: int
    time_budget: float | None
    client_rate: str | None
    sandbox_faults: str | None
    sandbox_rate_limit: str
    sandbox_state: str | None
    progress: bool
    shard: str | None
    redis_url: str | None
    max_auth_failures: int
    unreachable_wait: float


def parse_shard(text: str | None) -> Shard | None:
    """``"2/3"`` -> shard 2 of 3 (1-based).

    Raises:
        click.BadParameter: not ``I/N`` with ``1 <= I <= N``.
    """
    if text is None:
        return None
    match = re.fullmatch(r"\s*([0-9]+)\s*/\s*([0-9]+)\s*", text)
    if not match or not 1 <= int(match[1]) <= int(match[2]):
        raise click.BadParameter(f"{text!r}: expected I/N with 1 <= I <= N, such as 1/3", param_hint="--shard")
    return Shard(index=int(match[1]), count=int(match[2]))


def _destination_tag(sandbox: bool, base_url: str) -> str:
    if sandbox:
        return "sandbox"
    parts = urlsplit(base_url)
    host = parts.hostname or "api"
    return re.sub(r"[^A-Za-z0-9.-]", "_", host + (f"_{parts.port}" if parts.port else ""))


def other_layout_journals(file: Path, *, sandbox: bool, base_url: str, shard: Shard | None) -> list[Path]:
    """Default journals of ``file`` for the same destination under another ``--shard`` layout
    that record rows that were (or may have been) created: their rows would be sent again."""
    tag = _destination_tag(sandbox, base_url)
    layout = re.compile(re.escape(file.name) + r"(?:\.shard-\d+-of-(\d+))?" + re.escape(f".{tag}.journal.sqlite"))
    found = []
    for candidate in sorted(file.parent.glob(f"{glob.escape(file.name)}*.{glob.escape(tag)}.journal.sqlite")):
        match = layout.fullmatch(candidate.name)
        if match is None:
            continue  # another input's journal (a file name that starts with this one's)
        if (match[1] is None and shard is None) or (shard is not None and match[1] == str(shard.count)):
            continue  # this layout's own (this run's, or a sibling shard's)
        try:
            with contextlib.closing(sqlite3.connect(f"file:{candidate}?mode=ro", uri=True)) as db:
                sent = db.execute("SELECT 1 FROM rows WHERE state != 'failed' LIMIT 1").fetchone()
        except sqlite3.Error:
            continue
        if sent is not None:
            found.append(candidate)
    return found


def default_journal_path(file: Path, *, sandbox: bool, base_url: str, shard: Shard | None) -> Path:
    """``FILE[.shard-I-of-N].<sandbox|host[_port]>.journal.sqlite``."""
    shard_tag = f".{shard.tag}" if shard else ""
    return file.with_name(f"{file.name}{shard_tag}.{_destination_tag(sandbox, base_url)}.journal.sqlite")


def _credential(spec: CLISpec) -> tuple[str, str]:
    for variable in spec.credential_variables:
        value = os.environ.get(variable)
        if value is not None and value != "":
            return variable, check_credential(variable, value)
    raise click.UsageError(f"set {' or '.join(spec.credential_variables)}, or pass --sandbox to use the local emulator")


def _check_base_url(base_url: str) -> str:
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise click.BadParameter(
            f"{base_url!r}: expected an http(s) URL such as https://api.example.com", param_hint="--base-url"
        )
    return base_url.rstrip("/")


def _limiter(redis_url: str | None) -> Any:
    """A :class:`~crm_core.RedisRateLimiter` for ``--redis-url``; its key is bound by the client
    (the API plus a digest of the credential), so workers with one credential share one limit."""
    if not redis_url:
        return None
    from . import RedisRateLimiter  # the redis extra is optional: imported only when asked for

    try:
        return RedisRateLimiter.from_url(redis_url)
    except ImportError as exc:
        raise click.UsageError(f"--redis-url: {exc}") from None
    except ValueError as exc:  # the message never shows the password
        raise click.BadParameter(str(exc), param_hint="--redis-url") from None


def run_command(spec: CLISpec, s: ImportSettings) -> int:
    """Check every option, then run the import; return the exit status."""
    shard = parse_shard(s.shard)
    base_url = _check_base_url(s.base_url)
    shard_tag = f".{shard.tag}" if shard else ""
    results_path = check_output_path(
        Path(s.results) if s.results else s.file.with_name(f"{s.file.name}{shard_tag}.results.csv"), "--results"
    )
    journal_path = check_output_path(
        Path(s.journal)
        if s.journal
        else default_journal_path(s.file, sandbox=s.sandbox, base_url=base_url, shard=shard),
        "--journal",
    )
    if not s.journal and not s.fresh:
        others = other_layout_journals(s.file, sandbox=s.sandbox, base_url=base_url, shard=shard)
        if others:
            layout = f"--shard {shard}" if shard else "no --shard"
            click.echo(
                f"Error: {', '.join(str(o) for o in others)} record rows of {s.file} created at this destination "
                f"by a run with another --shard layout than this one ({layout}); this run would create them "
                "again. Run with that layout, or pass --journal (or --fresh) if those rows were not created "
                "where this run goes",
                err=True,
            )
            return 2
    state_path = Path(s.sandbox_state) if s.sandbox_state else s.file.with_name(s.file.name + ".sandbox-state.jsonl")
    if s.sandbox:
        check_output_path(state_path, "--sandbox-state")
    outputs = {"--results": results_path, "--journal": journal_path}
    if s.sandbox:
        outputs["--sandbox-state"] = state_path
    check_distinct_paths(s.file, outputs)
    try:
        faults = FaultPlan.parse(s.sandbox_faults) if s.sandbox_faults else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--sandbox-faults") from None
    if faults is not None and not s.sandbox:
        raise click.UsageError("--sandbox-faults needs --sandbox")
    rate = parse_rate(s.sandbox_rate_limit) if s.sandbox else None
    timeout = s.timeout if s.timeout is not None else (5.0 if s.sandbox else 30.0)
    if faults is not None and "slow=" not in (s.sandbox_faults or ""):
        faults.slow_seconds = timeout + 0.5  # a slow response outlasts the client's timeout
    options: dict[str, Any] = {
        "timeout": timeout,
        "max_concurrency": s.concurrency,
        "retry": RetryPolicy(max_retries=s.retries),
        # An ambiguous row does not hold its slot for the settle period: the job sets it aside
        # (journaled "maybe") and re-checks it at the settle period's end.
        "reconcile": ReconcileSettings(wait_to_settle=False),
    }
    if s.client_rate is not None:
        options["rate_limit"] = parse_client_rate(s.client_rate)
    variable, secret = spec.sandbox_credential if s.sandbox else _credential(spec)
    limiter = _limiter(s.redis_url)
    if limiter is not None:
        options["limiter"] = limiter
    destination = Destination(
        base_url=str(state_path.resolve()) if s.sandbox else base_url,
        sandbox=s.sandbox,
        credential=credential_digest(secret),
    )
    if s.fresh:
        try:  # a run of this job in progress keeps its journal: --fresh must not pull it away
            held = journal_lock(str(journal_path)) if journal_path.exists() else None
        except JournalLockedError as exc:
            click.echo(f"Error: {exc}", err=True)
            return 2
        remove_files(journal_path, *([state_path] if s.sandbox else []))
        if held is not None:
            os.close(held)
    try:  # file and journal problems end here, before a sandbox starts or anything is sent
        total = scan_file(s.file, spec.target)
        Journal(journal_path, job=import_job_name(s.file, spec.target, shard), destination=destination).close()
        with results_path.open("a", encoding="utf-8"):
            pass
    except (InputFormatError, JournalMismatchError) as exc:
        click.echo(f"Error: {exc}", err=True)
        return 2
    except sqlite3.Error as exc:
        click.echo(f"Error: {journal_path}: cannot use it as the journal ({exc}); pass another --journal", err=True)
        return 2
    except OSError as exc:
        click.echo(f"Error: cannot read {s.file} or write {results_path} ({exc.strerror or exc})", err=True)
        return 2
    policy = BulkPolicy(
        max_auth_failures=s.max_auth_failures,
        unreachable_wait=s.unreachable_wait,
        settle=max(1.0, 2 * timeout),  # a late write lands well within two attempt timeouts
        on_pause=lambda note: click.echo(note, err=True),
    )

    async def job() -> int:
        async with contextlib.AsyncExitStack() as stack:
            if s.sandbox:
                emulator = spec.make_emulator(state_path, faults, rate)
                url = await stack.enter_async_context(emulator.serve())
                click.echo(f"Sandbox {spec.api} emulator at {url} (state: {state_path})", err=True)
            else:
                url = base_url
            if limiter is not None:
                stack.push_async_callback(limiter.aclose)
            client = spec.make_client(url, variable, secret, options)
            stack.push_async_callback(client.aclose)
            with bulk_policy(policy), _long_lived_heap():
                report = await run_import(
                    path=s.file,
                    target=spec.target,
                    create_many=spec.create_many(client),
                    results_path=results_path,
                    journal_path=journal_path,
                    concurrency=s.concurrency,
                    time_budget=s.time_budget,
                    progress=s.progress,
                    destination=destination,
                    shard=shard,
                    total=total,
                )
            if faults is not None:
                injected = ", ".join(
                    f"{k.value}: {n}" for k, n in sorted(faults.injected.items(), key=lambda i: i[0].value)
                )
                click.echo(f"Faults injected by the sandbox: {injected or 'none'}")
            return report.exit_code

    async def until_sigterm() -> int:
        # SIGTERM (a service manager, `kill`) stops the job the way Ctrl-C does: the rows in
        # flight are journaled "maybe" (the re-run looks them up), the results file and the
        # journal are flushed and closed. Without this, Python dies at once and the results
        # file loses its buffered rows.
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        by_sigterm = False

        def on_sigterm() -> None:
            nonlocal by_sigterm
            by_sigterm = True
            if task is not None:
                task.cancel()

        try:
            if task is not None:
                loop.add_signal_handler(signal.SIGTERM, on_sigterm)
        except (ValueError, RuntimeError, NotImplementedError):  # not the main thread, or Windows
            task = None
        try:
            return await job()
        except asyncio.CancelledError:
            if task is None or not task.cancelling():
                raise
            # SIGTERM, or Ctrl-C (asyncio.run cancels the job on SIGINT): named as what it was.
            stopped_by, name = (signal.SIGTERM, "SIGTERM") if by_sigterm else (signal.SIGINT, "Ctrl-C")
            click.echo(
                f"Stopped by {name}: the rows in flight are journaled and looked up by the next run; "
                "run the same command again to finish",
                err=True,
            )
            return 128 + stopped_by
        finally:
            if task is not None:
                loop.remove_signal_handler(signal.SIGTERM)

    try:
        return asyncio.run(until_sigterm())
    except (InputFormatError, JournalMismatchError) as exc:
        click.echo(f"Error: {exc}", err=True)
        return 2


@contextlib.contextmanager
def _long_lived_heap() -> Iterator[None]:
    """The garbage collector tuned for a bulk job, for its duration (then restored).

    What exists when the job starts (modules, clients, the emulator) lives until it ends, so it
    is frozen out of collections (``gc.freeze``); a row's objects are freed by reference
    counting as soon as its result is written, so young collections run rarely (a threshold of
    20,000 container allocations instead of 700). Cyclic garbage still gets collected. Before,
    about 5 % of the import's CPU went to collections that found nothing to free.
    """
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(20_000, *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


def _options(spec: CLISpec) -> list[Any]:
    return [
        click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path)),
        click.option("--sandbox", is_flag=True, help="Run against the local emulator instead of the real API."),
        click.option("--base-url", default=spec.default_base_url, show_default=True, help="API root (real API)."),
        click.option("--results", help="Results CSV [default: FILE[.shard-I-of-N].results.csv]."),
        click.option(
            "--journal",
            help="Journal [default: FILE[.shard-I-of-N].<sandbox|host>.journal.sqlite]; it belongs to one destination.",
        ),
        click.option("--fresh", is_flag=True, help="Forget earlier runs (delete the journal and sandbox state)."),
        click.option("--concurrency", type=click.IntRange(1, 100), default=10, show_default=True),
        click.option(
            "--timeout",
            type=click.FloatRange(min=0.1),
            default=None,
            help="Per-attempt time limit, seconds [default: 30; 5 with --sandbox].",
        ),
        click.option(
            "--retries",
            type=click.IntRange(0, 20),
            default=6,
            show_default=True,
            help="Retries per request (bulk jobs retry more than interactive calls).",
        ),
        click.option(
            "--time-budget",
            type=click.FloatRange(min=0.1),
            default=None,
            help="Stop starting rows after this many seconds (the rest are skipped; re-run to finish).",
        ),
        click.option(
            "--rate-limit",
            "client_rate",
            default=None,
            help="Client-side rate REQUESTS/SECONDS, or off [default: the SDK's default].",
        ),
        click.option(
            "--shard",
            default=None,
            metavar="I/N",
            help="Process only the rows whose lead falls in shard I of N (stable hash of lead_id).",
        ),
        click.option(
            "--redis-url",
            envvar="REDIS_URL",
            default=None,
            help="Share the rate limit with other workers through Redis [env: REDIS_URL].",
        ),
        click.option(
            "--max-auth-failures",
            type=click.IntRange(1, 1000),
            default=3,
            show_default=True,
            help="Stop after this many consecutive rows refused with 401 (the rest stay pending).",
        ),
        click.option(
            "--unreachable-wait",
            type=click.FloatRange(min=0),
            default=60.0,
            show_default=True,
            help="Seconds to pause and back off while the API cannot be reached, before stopping.",
        ),
        click.option(
            "--sandbox-faults",
            default=None,
            help="Faults the sandbox injects, e.g. '10%' or '429=0.05,reset-after=0.03,seed=7'.",
        ),
        click.option(
            "--sandbox-rate-limit",
            default=spec.default_sandbox_rate,
            show_default=True,
            help="Sandbox rate limit REQUESTS/SECONDS, or off.",
        ),
        click.option("--sandbox-state", default=None, help="Sandbox state file [default: FILE.sandbox-state.jsonl]."),
        click.option("--progress/--no-progress", default=True, help="Show a progress bar on stderr (on a terminal)."),
    ]


def import_command(spec: CLISpec) -> click.Command:
    """The ``tasks import`` command for one SDK."""

    def command(**values: Any) -> None:
        sys.exit(run_command(spec, ImportSettings(**values)))

    for option in reversed(_options(spec)):
        command = option(command)
    return click.command(
        "import",
        help=(
            f"Create one {spec.api} task per row of FILE (CSV with a header, or JSONL). "
            f"Columns: {', '.join(spec.target.columns)}. Writes a per-row results CSV and a "
            "journal; run the same command again after a crash to finish the job without "
            "duplicates. Exit status 1 when any row failed or was not tried, 2 for a usage or "
            "file error (nothing sent)."
        ),
    )(command)
