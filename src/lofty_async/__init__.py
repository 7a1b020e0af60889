"""Async SDK for the Lofty Open API (tasks V2), on the shared ``crm_core``.

Quick start::

    async with LoftyClient(api_key=os.environ["LOFTY_API_KEY"]) as lofty:
        task_id = await lofty.tasks.create(type="Call", content="Call back", lead_id=563172647619608,
                                           assigned_role="Agent", end_at="2026-03-01T16:00:00-08:00")
"""

import logging

from crm_core import (
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

from ._client import DEFAULT_BASE_URL, LoftyClient
from ._models import Task
from ._tasks import ASSIGNED_ROLES, TASK_TYPES, TaskCreate, Tasks, TaskUpdate
from ._version import __version__

logging.getLogger("lofty_async").addHandler(logging.NullHandler())

__all__ = [
    "ASSIGNED_ROLES",
    "DEFAULT_BASE_URL",
    "TASK_TYPES",
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "LoftyClient",
    "NotFoundError",
    "Outcome",
    "PermissionDeniedError",
    "RateLimit",
    "RateLimitError",
    "ReconciliationError",
    "RetryPolicy",
    "ServerError",
    "Task",
    "TaskCreate",
    "TaskUpdate",
    "Tasks",
    "ValidationError",
    "__version__",
]
