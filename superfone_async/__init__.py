"""Async SDK for the Superfone Enterprise (CRM) API, on the shared ``crm_core``.

Quick start::

    async with SuperfoneClient(api_key=os.environ["SUPERFONE_API_KEY"]) as sf:
        lead = await sf.leads.get(phone="+918000000001")
        task = await sf.tasks.create(lead.id, type="FOLLOW_UP_CALL", due_date="2026-05-20T15:00:00Z")
"""

import logging

from crm_core import (
    AIMDConfig,
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    Outcome,
    PermissionDeniedError,
    RateLimitError,
    ReconciliationError,
    RetryPolicy,
    ServerError,
    ValidationError,
)
from crm_core._client import RateLimit

from ._client import DEFAULT_BASE_URL, DEFAULT_RATE_LIMIT, SuperfoneClient
from ._leads import UNSET, Catalog, Leads, LeadUpsert, build_lead_upsert
from ._models import (
    Address,
    AssigneeUser,
    Label,
    Lead,
    LeadGroup,
    LeadGroupRef,
    LeadLabel,
    LeadStage,
    LeadStageRef,
    Page,
    Phone,
    Product,
    SourceType,
    Task,
)
from ._paging import PageIterator
from ._tasks import TASK_TYPES, TaskCreate, Tasks, build_task_create, check_task_type, matches_create
from ._version import __version__

logging.getLogger("superfone_async").addHandler(logging.NullHandler())

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_RATE_LIMIT",
    "TASK_TYPES",
    "UNSET",
    "AIMDConfig",
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "Address",
    "AssigneeUser",
    "AuthenticationError",
    "BadRequestError",
    "Catalog",
    "Label",
    "Lead",
    "LeadGroup",
    "LeadGroupRef",
    "LeadLabel",
    "LeadStage",
    "LeadStageRef",
    "LeadUpsert",
    "Leads",
    "NotFoundError",
    "Outcome",
    "Page",
    "PageIterator",
    "PermissionDeniedError",
    "Phone",
    "Product",
    "RateLimit",
    "RateLimitError",
    "ReconciliationError",
    "RetryPolicy",
    "ServerError",
    "SourceType",
    "SuperfoneClient",
    "Task",
    "TaskCreate",
    "Tasks",
    "ValidationError",
    "__version__",
    "build_lead_upsert",
    "build_task_create",
    "check_task_type",
    "matches_create",
]
