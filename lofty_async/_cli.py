"""``lofty-async``: bulk task import and a local sandbox.

Credentials for the real API come from the environment: ``LOFTY_API_KEY`` (sent as
``Authorization: token <key>``) or ``LOFTY_ACCESS_TOKEN`` (``Bearer``). They are never printed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from crm_core._cli import CLISpec, make_cli
from crm_core._importjob import CreateMany, ImportTarget
from crm_core.emulator import FaultPlan, FixedWindowRateLimit

from ._client import DEFAULT_BASE_URL, LoftyClient
from ._tasks import CREATE_FIELDS
from .testing import SANDBOX_API_KEY, LoftyEmulator

__all__ = ["main"]

TARGET = ImportTarget(
    job="lofty tasks",
    columns=(*CREATE_FIELDS, "dedupe_key"),
    required=("type", "content", "lead_id"),
    integer_columns=frozenset({"lead_id"}),
    id_label="task_id",
)


def _client_from_env(base_url: str, options: dict[str, Any]) -> LoftyClient:
    api_key = os.environ.get("LOFTY_API_KEY")
    token = os.environ.get("LOFTY_ACCESS_TOKEN")
    if api_key:
        return LoftyClient(api_key=api_key, base_url=base_url, **options)
    if token:
        return LoftyClient(access_token=token, base_url=base_url, **options)
    raise click.UsageError("set LOFTY_API_KEY or LOFTY_ACCESS_TOKEN, or pass --sandbox to use the local emulator")


def _sandbox_client(url: str, options: dict[str, Any]) -> LoftyClient:
    return LoftyClient(api_key=SANDBOX_API_KEY, base_url=url, **options)


def _emulator(state: Path | None, faults: FaultPlan | None, rate: FixedWindowRateLimit | None) -> LoftyEmulator:
    emulator = LoftyEmulator(state_path=state, faults=faults, rate_limit=rate)
    if rate is None and emulator.core.rate_limit is not None:
        emulator.core.rate_limit.enabled = False
    return emulator


def _create_many(client: LoftyClient) -> CreateMany:
    return client.tasks.create_many


main = make_cli(
    CLISpec(
        prog="lofty-async",
        api="Lofty",
        target=TARGET,
        credentials_help="LOFTY_API_KEY or LOFTY_ACCESS_TOKEN",
        default_base_url=DEFAULT_BASE_URL,
        default_sandbox_rate="500/60",
        client_from_env=_client_from_env,
        sandbox_client=_sandbox_client,
        make_emulator=_emulator,
        create_many=_create_many,
        sandbox_credentials=f"API key: {SANDBOX_API_KEY}  (header 'Authorization: token {SANDBOX_API_KEY}')",
    )
)
