"""``superfone-async``: order-preserving bulk task import and a local sandbox.

The real API's key comes from ``SUPERFONE_API_KEY`` (sent as ``x-api-key``); it is never printed,
surrounding whitespace is removed (with a note) and control characters are refused before
anything is sent.
Rows of the same lead are created in file order (creating a non-reminder task completes the
lead's open one), while different leads run in parallel.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

from crm_core._cli import CLISpec, make_cli
from crm_core._importjob import CreateMany, ImportTarget
from crm_core.emulator import FaultPlan, FixedWindowRateLimit

from ._client import DEFAULT_BASE_URL, SuperfoneClient
from ._tasks import CREATE_FIELDS
from .testing import SANDBOX_API_KEY, SuperfoneEmulator

__all__ = ["main"]


def _lead(row: Mapping[str, Any]) -> Hashable | None:
    lead = row.get("lead_id")
    return lead if isinstance(lead, Hashable) else None


TARGET = ImportTarget(
    job="superfone tasks",
    columns=(*CREATE_FIELDS, "dedupe_key"),
    required=("lead_id", "type", "due_date"),
    integer_columns=frozenset({"lead_id"}),
    id_label="task_id",
    key=_lead,
)


def _client(base_url: str, variable: str, secret: str, options: dict[str, Any]) -> SuperfoneClient:
    return SuperfoneClient(api_key=secret, base_url=base_url, **options)


def _emulator(state: Path | None, faults: FaultPlan | None, rate: FixedWindowRateLimit | None) -> SuperfoneEmulator:
    if rate is not None:
        rate.headers = False  # Superfone documents no rate-limit headers
    return SuperfoneEmulator(state_path=state, faults=faults, rate_limit=rate)


def _create_many(client: SuperfoneClient) -> CreateMany:
    return client.tasks.create_many


main = make_cli(
    CLISpec(
        prog="superfone-async",
        api="Superfone",
        target=TARGET,
        credential_variables=("SUPERFONE_API_KEY",),
        default_base_url=DEFAULT_BASE_URL,
        default_sandbox_rate="off",
        make_client=_client,
        sandbox_credential=("SUPERFONE_API_KEY", SANDBOX_API_KEY),
        make_emulator=_emulator,
        create_many=_create_many,
        sandbox_credentials=f"API key: {SANDBOX_API_KEY}  (header 'x-api-key: {SANDBOX_API_KEY}')",
    )
)
