"""``lofty-async``: bulk task import and a local sandbox.

Credentials for the real API come from the environment: ``LOFTY_API_KEY`` (sent as
``Authorization: token <key>``) or ``LOFTY_ACCESS_TOKEN`` (``Bearer``). They are never printed;
surrounding whitespace is removed (with a note) and control characters are refused before
anything is sent.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

from crm_core._bulk import Lane
from crm_core._cli import CLISpec, make_cli
from crm_core._importjob import CreateMany, ImportTarget
from crm_core.emulator import FaultPlan, FixedWindowRateLimit

from ._client import DEFAULT_BASE_URL, LoftyClient
from ._tasks import CREATE_FIELDS
from .testing import SANDBOX_API_KEY, LoftyEmulator

__all__ = ["main"]


def _dedupe_lane(row: Mapping[str, Any]) -> Hashable | None:
    """Rows that share a ``dedupe_key`` run one after another, so the second finds the first's task."""
    key = row.get("dedupe_key")
    return None if key in (None, "") else Lane("dedupe_key", str(key))


TARGET = ImportTarget(
    job="lofty tasks",
    columns=(*CREATE_FIELDS, "dedupe_key"),
    required=("type", "content", "lead_id"),
    integer_columns=frozenset({"lead_id"}),
    id_label="task_id",
    key=_dedupe_lane,
)


def _client(base_url: str, variable: str, secret: str, options: dict[str, Any]) -> LoftyClient:
    if variable == "LOFTY_ACCESS_TOKEN":
        return LoftyClient(access_token=secret, base_url=base_url, **options)
    return LoftyClient(api_key=secret, base_url=base_url, **options)


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
        credential_variables=("LOFTY_API_KEY", "LOFTY_ACCESS_TOKEN"),
        default_base_url=DEFAULT_BASE_URL,
        default_sandbox_rate="500/60",
        make_client=_client,
        sandbox_credential=("LOFTY_API_KEY", SANDBOX_API_KEY),
        make_emulator=_emulator,
        create_many=_create_many,
        sandbox_credentials=f"API key: {SANDBOX_API_KEY}  (header 'Authorization: token {SANDBOX_API_KEY}')",
    )
)
