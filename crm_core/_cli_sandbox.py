"""``<prog> sandbox``: serve the SDK's emulator on loopback until interrupted."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ._cli_options import check_output_path, parse_rate
from .emulator import FaultPlan

if TYPE_CHECKING:
    from ._cli import CLISpec

__all__ = ["sandbox_command"]


def sandbox_command(spec: CLISpec) -> click.Command:
    """The ``sandbox`` command for one SDK."""

    @click.command("sandbox", help=f"Serve the {spec.api} emulator on loopback until interrupted (Ctrl-C).")
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
        state_path = check_output_path(Path(state), "--state") if state else None
        emulator = spec.make_emulator(state_path, plan, parse_rate(rate_limit, "--rate-limit"))

        async def run() -> None:
            async with emulator.serve(port=port) as url:
                click.echo(f"{spec.api} emulator serving at {url}")
                click.echo(spec.sandbox_credentials)
                await asyncio.Event().wait()

        try:
            with contextlib.suppress(KeyboardInterrupt):
                asyncio.run(run())
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                why = "is already in use" if exc.errno == errno.EADDRINUSE else "may not be used by this user"
                click.echo(f"Error: port {port} on 127.0.0.1 {why}; pass another --port (0 picks a free one)", err=True)
                sys.exit(2)
            raise

    return sandbox
