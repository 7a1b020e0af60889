"""Async SDK for the Lofty Open API, on the shared ``crm_core``.

Resources on :class:`LoftyClient`: ``tasks`` (V2 tasks and appointments), ``calendar``
(Calendar V2), ``leads``, ``webhooks``, ``v1`` (legacy V1 tasks and appointments) and ``me()``.
Each resource is an attrs class holding the client's session; request bodies go out through
the client's cattrs converter.

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

from ._calendar import (
    CALENDAR_TYPES,
    TASK_WAYS,
    AvailableMeetings,
    Calendar,
    CalendarCreate,
    CalendarCreateResult,
    CalendarEvent,
    CalendarPage,
    CalendarUpdate,
    MeetingSlot,
)
from ._client import DEFAULT_BASE_URL, LoftyClient
from ._lead_models import (
    AgentInfo,
    Commission,
    Commissions,
    CustomAttribute,
    CustomFieldValue,
    CustomRole,
    CustomRoleAssignee,
    Lead,
    LeadCreate,
    LeadFamilyMember,
    LeadInquiry,
    LeadProperty,
    LeadTag,
    LeadTransaction,
    LeadUpdate,
    ListMetadata,
    Location,
    Office,
    RoutingPreview,
    User,
)
from ._leads import LEAD_SORTS, LEAD_TYPES, LeadAssignee, LeadPage, Leads, RoutingRequest
from ._models import Task
from ._oauth import (
    AUTHORIZE_URL,
    DEFAULT_TOKEN_URL,
    HELP_CENTER_TOKEN_URL,
    OAuthApp,
    OAuthAuth,
    OAuthTokens,
    make_pkce_pair,
)
from ._tasks import ASSIGNED_ROLES, TASK_TYPES, TaskCreate, Tasks, TaskUpdate
from ._v1 import V1, Appointment, AppointmentsV1, TasksV1, TaskV1, TaskV1Create, TaskV1Update
from ._version import __version__
from ._webhooks import (
    WEBHOOK_EVENTS,
    AppointmentEvent,
    LeadInfoEvent,
    OtherEvent,
    TaskEvent,
    UpdatedLead,
    Webhook,
    WebhookEvent,
    Webhooks,
    WebhookSubscribe,
    parse_event,
    webhook_handler,
)

logging.getLogger("lofty_async").addHandler(logging.NullHandler())

__all__ = [
    "ASSIGNED_ROLES",
    "AUTHORIZE_URL",
    "CALENDAR_TYPES",
    "DEFAULT_BASE_URL",
    "DEFAULT_TOKEN_URL",
    "HELP_CENTER_TOKEN_URL",
    "LEAD_SORTS",
    "LEAD_TYPES",
    "TASK_TYPES",
    "TASK_WAYS",
    "V1",
    "WEBHOOK_EVENTS",
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AgentInfo",
    "Appointment",
    "AppointmentEvent",
    "AppointmentsV1",
    "AuthenticationError",
    "AvailableMeetings",
    "BadRequestError",
    "Calendar",
    "CalendarCreate",
    "CalendarCreateResult",
    "CalendarEvent",
    "CalendarPage",
    "CalendarUpdate",
    "Commission",
    "Commissions",
    "CustomAttribute",
    "CustomFieldValue",
    "CustomRole",
    "CustomRoleAssignee",
    "Lead",
    "LeadAssignee",
    "LeadCreate",
    "LeadFamilyMember",
    "LeadInfoEvent",
    "LeadInquiry",
    "LeadPage",
    "LeadProperty",
    "LeadTag",
    "LeadTransaction",
    "LeadUpdate",
    "Leads",
    "ListMetadata",
    "Location",
    "LoftyClient",
    "MeetingSlot",
    "NotFoundError",
    "OAuthApp",
    "OAuthAuth",
    "OAuthTokens",
    "Office",
    "OtherEvent",
    "Outcome",
    "PermissionDeniedError",
    "RateLimit",
    "RateLimitError",
    "ReconciliationError",
    "RetryPolicy",
    "RoutingPreview",
    "RoutingRequest",
    "ServerError",
    "Task",
    "TaskCreate",
    "TaskEvent",
    "TaskUpdate",
    "TaskV1",
    "TaskV1Create",
    "TaskV1Update",
    "Tasks",
    "TasksV1",
    "UpdatedLead",
    "User",
    "ValidationError",
    "Webhook",
    "WebhookEvent",
    "WebhookSubscribe",
    "Webhooks",
    "__version__",
    "make_pkce_pair",
    "parse_event",
    "webhook_handler",
]
