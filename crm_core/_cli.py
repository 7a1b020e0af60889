"""The command line both SDKs ship, built from one definition (click).

``<prog> tasks import FILE`` runs :func:`~crm_core._importjob.run_import` against the real API
(credentials from the environment) or, with ``--sandbox``, against the SDK's emulator served
in-process on loopback (see :mod:`crm_core._cli_import`). ``<prog> sandbox`` serves the
emulator until interrupted (see :mod:`crm_core._cli_sandbox`). Values are checked by
:mod:`crm_core._cli_options` before anything is sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any, Protocol

import attrs
import click

from ._cli_options import parse_client_rate, parse_rate
from ._importjob import CreateMany, ImportTarget
from .emulator import FaultPlan, FixedWindowRateLimit

__all__ = ["CLISpec", "make_cli", "parse_client_rate", "parse_rate"]


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
        credential_variables: Environment variables that may hold the credential, in order of
            preference (``("LOFTY_API_KEY", "LOFTY_ACCESS_TOKEN")``).
        default_base_url: The real API's root.
        default_sandbox_rate: ``REQUESTS/SECONDS`` rate limit of the sandbox.
        make_client: ``(base_url, variable, secret, options) -> client``; ``variable`` says
            which of ``credential_variables`` held ``secret`` (already checked and stripped).
        sandbox_credential: ``(variable, secret)`` the sandbox accepts (not a real secret).
        make_emulator: ``(state_path, faults, rate_limit) -> emulator``.
        create_many: ``client -> its tasks' create_many``.
        sandbox_credentials: Printed by ``sandbox`` (never a real secret).
    """

    prog: str
    api: str
    target: ImportTarget
    credential_variables: tuple[str, ...]
    default_base_url: str
    default_sandbox_rate: str
    make_client: Callable[[str, str, str, dict[str, Any]], Client]
    sandbox_credential: tuple[str, str]
    make_emulator: Callable[[Path | None, FaultPlan | None, FixedWindowRateLimit | None], Emulator]
    create_many: Callable[[Any], CreateMany]
    sandbox_credentials: str


def make_cli(spec: CLISpec) -> click.Group:
    """Build the ``click`` group for one SDK: ``tasks import`` and ``sandbox``."""
    from ._cli_import import import_command
    from ._cli_sandbox import sandbox_command

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

    tasks.add_command(import_command(spec))
    main.add_command(sandbox_command(spec))
    return main
