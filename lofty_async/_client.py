"""The Lofty client."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import aiohttp

from crm_core import (
    Auth,
    Clock,
    Dialect,
    EventHook,
    RateLimiter,
    RetryBudget,
    RetryPolicy,
    StaticAuth,
)
from crm_core._client import ClientCore, RateLimit
from crm_core._options import ClientViews, SessionView, Transport, raw_response_wrapper
from crm_core._reconcile import ReconcileSettings
from crm_core._validation import check_credential

from ._calendar import Calendar
from ._errors import error_class, parse_error
from ._lead_models import User
from ._leads import Leads, get_me
from ._oauth import OAuthAuth
from ._raw import (
    CalendarWithRawResponse,
    LeadsWithRawResponse,
    TasksWithRawResponse,
    V1WithRawResponse,
    WebhooksWithRawResponse,
)
from ._tasks import Tasks
from ._v1 import V1, AppointmentsV1, TasksV1
from ._version import __version__
from ._webhooks import Webhooks

__all__ = ["DEFAULT_BASE_URL", "LoftyClient", "LoftyClientWithRawResponse"]

DEFAULT_BASE_URL = "https://api.lofty.com"

DIALECT = Dialect(
    name="lofty_async",
    version=__version__,
    parse_error=parse_error,
    error_class=error_class,
    content_type_always=True,
)


class LoftyClient(ClientViews):
    """Async client for the Lofty Open API.

    Use it as ``async with LoftyClient(api_key=...) as lofty:`` or call :meth:`aclose`. One
    client serves many concurrent calls; create it inside the running event loop.

    Args:
        api_key: A personal API key, sent as ``Authorization: token <key>``.
        access_token: A static OAuth access token, sent as ``Authorization: Bearer <token>``.
        oauth: Self-renewing OAuth credentials (:class:`~lofty_async.OAuthAuth`): refreshed
            before expiry and once after a 401, one refresh shared by concurrent requests.
        base_url: API root (``https://api.lofty.com``; the emulator's URL in tests).
        retry: Retry policy (3 retries, full jitter 0.5 s to 8 s, server hints up to 120 s).
        timeout: Per-attempt time limit, seconds.
        connect_timeout: Connection time limit, seconds.
        max_concurrency: Requests in flight at once (default 10).
        rate_limit: Client-side token bucket, e.g. ``RateLimit(requests=100, window=60)``
            (Lofty's Development mode). Default none: the client paces itself from the
            ``X-RateLimit-*`` headers and pauses every request on a 429.
        limiter: Share one rate limiter between clients of the same app.
        retry_budget: Client-wide cap on retries during storms.
        reconcile: Look up ambiguous creates before re-sending (default on).
        session: Your ``aiohttp.ClientSession`` (e.g. from a web app's lifespan); never closed
            by the client.
        hooks: Callables receiving every :class:`~crm_core.Event` (metrics, tracing).
        clock: Time source (inject a :class:`~crm_core.FakeClock` in tests).
        seed: Seed for backoff jitter.
        strict_responses: Raise on unknown response keys (for tests).

    Raises:
        ValueError: not exactly one of ``api_key``, ``access_token`` and ``oauth``; or an empty
            credential, or one holding a control character (a newline, a tab): checked before
            anything is sent, and the message never repeats the value. Surrounding whitespace
            is removed.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        access_token: str | None = None,
        oauth: OAuthAuth | None = None,
        base_url: str = DEFAULT_BASE_URL,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
        max_concurrency: int = 10,
        rate_limit: RateLimit | None = None,
        limiter: RateLimiter | None = None,
        retry_budget: RetryBudget | None = None,
        reconcile: bool | ReconcileSettings = True,
        session: aiohttp.ClientSession | None = None,
        hooks: Sequence[EventHook] = (),
        clock: Clock | None = None,
        seed: int | None = None,
        strict_responses: bool = False,
    ) -> None:
        given = [
            name
            for name, value in (("api_key", api_key), ("access_token", access_token), ("oauth", oauth))
            if value is not None
        ]
        if len(given) != 1:
            raise ValueError(
                "pass exactly one of api_key= (a Lofty API key), access_token= or oauth= (OAuth 2.0); got "
                + (", ".join(given) or "none")
            )
        auth: StaticAuth | OAuthAuth
        if oauth is not None:
            auth = oauth
        elif api_key is not None:
            auth = StaticAuth({"Authorization": f"token {check_credential('api_key', api_key)}"})
        else:
            assert access_token is not None
            auth = StaticAuth({"Authorization": f"Bearer {check_credential('access_token', access_token)}"})
        self._auth_kind = given[0]
        self._core = ClientCore(
            base_url=base_url,
            auth=cast(Auth, auth),
            dialect=DIALECT,
            naming="camel",
            retry=retry,
            timeout=timeout,
            connect_timeout=connect_timeout,
            max_concurrency=max_concurrency,
            rate_limit=rate_limit,
            limiter=limiter,
            retry_budget=retry_budget,
            reconcile=reconcile,
            session=session,
            hooks=hooks,
            clock=clock,
            seed=seed,
            strict_responses=strict_responses,
        )
        self._view = SessionView(self._core.http)
        self._is_view = False
        self._bind(self._view)

    def _bind(self, session: Transport) -> None:
        """(Re)build the resources over ``session`` (the client's view or a ``with_options`` one)."""
        core = self._core
        converter, ledger, reconcile = core.converter, core.ledger, core.reconcile
        self.tasks = Tasks(session=session, converter=converter, ledger=ledger, reconcile=reconcile)
        """V2 tasks and appointments: ``/v2.0/tasks``."""
        self.calendar = Calendar(session=session, converter=converter, ledger=ledger, reconcile=reconcile)
        """Calendar V2: ``/v2.0/calendar``."""
        self.leads = Leads(session=session, converter=converter, ledger=ledger, reconcile=reconcile)
        """Leads: ``/v1.0/leads``."""
        self.webhooks = Webhooks(session=session, converter=converter, ledger=ledger, reconcile=reconcile)
        """Webhook subscriptions: ``/v1.0/webhook``."""
        self.v1 = V1(
            tasks=TasksV1(session=session, converter=converter, ledger=ledger, reconcile=reconcile),
            appointments=AppointmentsV1(session=session, converter=core.converter),
        )
        """Legacy V1 tasks and appointments (prefer ``tasks`` and ``calendar``)."""

    @property
    def with_raw_response(self) -> LoftyClientWithRawResponse:
        """This client's resources with every coroutine method returning a :class:`~crm_core.RawResponse`.

        ``raw = await lofty.with_raw_response.tasks.get(task_id)`` sends the one request
        ``lofty.tasks.get`` sends and returns ``raw.parsed`` (the :class:`Task`),
        ``raw.status``, ``raw.headers`` (e.g. ``raw.headers["X-RateLimit-Remaining"]``) and
        ``raw.http_response``. Typed per method; nested resources (``.v1.tasks``) and views
        (``lofty.with_options(...).with_raw_response``) work the same way. Async iterators
        are not wrapped.
        """
        return LoftyClientWithRawResponse(self)

    @property
    def base_url(self) -> str:
        """The API root this client talks to."""
        return self._core.http.base_url

    @property
    def http(self) -> ClientCore:
        """The shared core (session, limiter, concurrency, ledger) for advanced use."""
        return self._core

    async def me(self) -> User:
        """The authenticated team member (``id`` is the short team-member ID, ``member_user_id``
        the user ID other resources use).

        Source: GET /v1.0/me
        """
        return await get_me(self._view, self._core.converter)

    def __repr__(self) -> str:
        return f"LoftyClient(base_url={self.base_url!r}, auth={self._auth_kind!r})"


class LoftyClientWithRawResponse:
    """:class:`LoftyClient`'s resources, each method returning ``RawResponse[...]``
    (see :attr:`LoftyClient.with_raw_response`)."""

    def __init__(self, client: LoftyClient) -> None:
        self.tasks = TasksWithRawResponse(client.tasks)
        self.calendar = CalendarWithRawResponse(client.calendar)
        self.leads = LeadsWithRawResponse(client.leads)
        self.webhooks = WebhooksWithRawResponse(client.webhooks)
        self.v1 = V1WithRawResponse(client.v1)
        self.me = raw_response_wrapper(client.me)
