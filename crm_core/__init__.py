"""The shared core of the Lofty and Superfone SDKs.

Session (aiohttp), retries (tenacity), rate limiting, concurrency, errors, converter, bulk
execution and the emulator base. It imports neither SDK.
"""

import logging

from ._bulk import BulkSummary, RowResult, RowStatus, run_bulk
from ._client import RateLimit
from ._clock import Clock, FakeClock, SystemClock
from ._concurrency import ConcurrencyLimiter
from ._converter import format_datetime, make_converter, parse_datetime, snake_to_camel
from ._decode import parse_record_id
from ._errors import (
    STATUS_ERRORS,
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
    ReconcilePending,
    ReconciliationError,
    ServerError,
    ValidationError,
    error_class_for_status,
)
from ._events import Event, EventHook, EventKind
from ._journal import Journal, JournalMismatchError
from ._ratelimit import (
    AIMDConfig,
    LimiterSnapshot,
    LimiterState,
    LimiterWaitTooLong,
    LocalRateLimiter,
    RateLimiter,
    observe_response,
    parse_rate_limit_reset,
    parse_retry_after,
    reserve,
    reserve_detail,
)
from ._reconcile import CreateLedger, ReconcileSettings
from ._retry import RequestKind, RetryBudget, RetryPolicy
from ._session import Auth, Dialect, HTTPSession, Request, Response, StaticAuth

logging.getLogger("crm_core").addHandler(logging.NullHandler())

__all__ = [
    "STATUS_ERRORS",
    "AIMDConfig",
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "Auth",
    "AuthenticationError",
    "BadRequestError",
    "BulkSummary",
    "Clock",
    "ConcurrencyLimiter",
    "CreateLedger",
    "Dialect",
    "Event",
    "EventHook",
    "EventKind",
    "FakeClock",
    "HTTPSession",
    "Journal",
    "JournalMismatchError",
    "LimiterSnapshot",
    "LimiterState",
    "LimiterWaitTooLong",
    "LocalRateLimiter",
    "NotFoundError",
    "Outcome",
    "PermissionDeniedError",
    "RateLimit",
    "RateLimitError",
    "RateLimiter",
    "ReconcilePending",
    "ReconcileSettings",
    "ReconciliationError",
    "Request",
    "RequestKind",
    "Response",
    "RetryBudget",
    "RetryPolicy",
    "RowResult",
    "RowStatus",
    "ServerError",
    "StaticAuth",
    "SystemClock",
    "ValidationError",
    "error_class_for_status",
    "format_datetime",
    "make_converter",
    "observe_response",
    "parse_datetime",
    "parse_rate_limit_reset",
    "parse_record_id",
    "parse_retry_after",
    "reserve",
    "reserve_detail",
    "run_bulk",
    "snake_to_camel",
]
