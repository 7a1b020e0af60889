"""The shared core of the Lofty and Superfone SDKs.

Session (aiohttp), retries (tenacity), rate limiting, concurrency, errors, converter, bulk
execution and the emulator base. It imports neither SDK.
"""

import logging

from ._bulk import BulkSummary, RowResult, RowStatus, run_bulk
from ._bulk_policy import BulkPolicy, bulk_policy
from ._client import RateLimit
from ._clock import Clock, FakeClock, SystemClock
from ._concurrency import ConcurrencyLimiter
from ._converter import (
    WireModel,
    format_datetime,
    format_epoch_ms,
    format_iso_offset,
    format_utc_z,
    make_converter,
    parse_datetime,
    parse_int,
    same_instant_at_precision,
    snake_to_camel,
)
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
from ._journal import Destination, Journal, JournalDestinationError, JournalMismatchError
from ._options import RawResponse, RequestOptions, SessionView, Transport, raw_response_wrapper
from ._pagination import CursorIterator, Page
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
from ._redis_limiter import RedisRateLimiter
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
    "BulkPolicy",
    "BulkSummary",
    "Clock",
    "ConcurrencyLimiter",
    "CreateLedger",
    "CursorIterator",
    "Destination",
    "Dialect",
    "Event",
    "EventHook",
    "EventKind",
    "FakeClock",
    "HTTPSession",
    "Journal",
    "JournalDestinationError",
    "JournalMismatchError",
    "LimiterSnapshot",
    "LimiterState",
    "LimiterWaitTooLong",
    "LocalRateLimiter",
    "NotFoundError",
    "Outcome",
    "Page",
    "PermissionDeniedError",
    "RateLimit",
    "RateLimitError",
    "RateLimiter",
    "RawResponse",
    "ReconcilePending",
    "ReconcileSettings",
    "ReconciliationError",
    "RedisRateLimiter",
    "Request",
    "RequestKind",
    "RequestOptions",
    "Response",
    "RetryBudget",
    "RetryPolicy",
    "RowResult",
    "RowStatus",
    "ServerError",
    "SessionView",
    "StaticAuth",
    "SystemClock",
    "Transport",
    "ValidationError",
    "WireModel",
    "bulk_policy",
    "error_class_for_status",
    "format_datetime",
    "format_epoch_ms",
    "format_iso_offset",
    "format_utc_z",
    "make_converter",
    "observe_response",
    "parse_datetime",
    "parse_int",
    "parse_rate_limit_reset",
    "parse_record_id",
    "parse_retry_after",
    "raw_response_wrapper",
    "reserve",
    "reserve_detail",
    "run_bulk",
    "same_instant_at_precision",
    "snake_to_camel",
]
