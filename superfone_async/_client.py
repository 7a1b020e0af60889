"""The Superfone Enterprise client."""

from __future__ import annotations

from collections.abc import Sequence

import aiohttp

from crm_core import AIMDConfig, Clock, Dialect, EventHook, RateLimiter, RetryBudget, RetryPolicy, StaticAuth
from crm_core._client import ClientCore, RateLimit
from crm_core._options import ClientViews, SessionView, Transport
from crm_core._reconcile import ReconcileSettings
from crm_core._validation import check_credential

from ._errors import parse_error, unwrap
from ._leads import Catalog, Leads
from ._models import Label, LeadGroup, LeadStage, Product, SourceType
from ._raw import CatalogWithRawResponse, LeadsWithRawResponse, TasksWithRawResponse
from ._tasks import Tasks
from ._version import __version__
from ._wire import install_hooks

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_RATE_LIMIT", "SuperfoneClient", "SuperfoneClientWithRawResponse"]

DEFAULT_BASE_URL = "https://prod-api.superfone.co.in/superfone"

DEFAULT_RATE_LIMIT = RateLimit(
    requests=5,
    window=1.0,
    burst=5,
    adaptive=AIMDConfig(
        min_rate=0.5, max_rate=20.0, increase=0.05, decrease=0.5, min_concurrency=1, max_concurrency=16
    ),
)
"""Superfone publishes no limits: start at 5 requests/s (bursts of 5), halve the rate and the
concurrency on 429, 503 or a latency spike, and grow back by 0.05 requests/s per success."""

DIALECT = Dialect(name="superfone_async", version=__version__, parse_error=parse_error, unwrap=unwrap)


class SuperfoneClient(ClientViews):
    """Async client for the Superfone Enterprise (CRM) API.

    Use it as ``async with SuperfoneClient(api_key=...) as sf:``; create it inside the running
    event loop. Success envelopes ``{"data": ..., "message": "success"}`` are unwrapped; error
    bodies ``{"message": ...}`` become typed errors with the server's message word for word.

    Args:
        api_key: The key Superfone issued (sent as ``x-api-key``).
        base_url: API root (``https://prod-api.superfone.co.in/superfone``).
        retry: Retry policy (3 retries, full jitter 0.5 s to 8 s, server hints up to 120 s).
        timeout: Per-attempt time limit, seconds.
        connect_timeout: Connection time limit, seconds.
        max_concurrency: Starting concurrency limit (AIMD may lower it, then raise it back).
        rate_limit: Client-side rate; default :data:`DEFAULT_RATE_LIMIT` (adaptive, because
            Superfone documents no limits); ``RateLimit(requests=..., window=...)`` for a fixed one.
        limiter: Share one rate limiter between clients of the same key.
        retry_budget: Client-wide cap on retries during storms.
        reconcile: Look up ambiguous creates before re-sending (default on).
        session: Your ``aiohttp.ClientSession``; never closed by the client.
        hooks: Event hooks.
        clock: Time source (also the "now" of the ``notify_at`` check).
        seed: Seed for backoff jitter.
        strict_responses: Raise on unknown response keys (for tests).

    Raises:
        ValueError: an empty ``api_key``, or one holding a control character (a newline, a
            tab): checked before anything is sent; the message never repeats the value.
            Surrounding whitespace is removed.
    """

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
        max_concurrency: int = 4,
        rate_limit: RateLimit | None = DEFAULT_RATE_LIMIT,
        limiter: RateLimiter | None = None,
        retry_budget: RetryBudget | None = None,
        reconcile: bool | ReconcileSettings = True,
        session: aiohttp.ClientSession | None = None,
        hooks: Sequence[EventHook] = (),
        clock: Clock | None = None,
        seed: int | None = None,
        strict_responses: bool = False,
    ) -> None:
        key = check_credential("api_key", api_key)
        self._core = ClientCore(
            base_url=base_url,
            auth=StaticAuth({"x-api-key": key}),
            dialect=DIALECT,
            naming="snake",
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
        install_hooks(self._core.converter)
        self._view = SessionView(self._core.http)
        self._is_view = False
        self._bind(self._view)

    def _bind(self, session: Transport) -> None:
        """(Re)build the resources over ``session`` (the client's view or a ``with_options`` one)."""
        core = self._core
        converter = core.converter
        self.tasks = Tasks(session=session, converter=converter, ledger=core.ledger, reconcile=core.reconcile)
        """Tasks on a lead: ``/enterprise/api/lead/{lead_id}/task``."""
        self.leads = Leads(session=session, converter=converter)
        """Leads: ``/enterprise/api/lead``."""
        self.source_types: Catalog[SourceType] = Catalog(
            session=session,
            converter=converter,
            path="/enterprise/api/source-type",
            model=SourceType,
            name="source_types",
        )
        """GET /enterprise/api/source-type."""
        self.labels: Catalog[Label] = Catalog(
            session=session, converter=converter, path="/enterprise/api/label", model=Label, name="labels"
        )
        """GET /enterprise/api/label."""
        self.lead_stages: Catalog[LeadStage] = Catalog(
            session=session, converter=converter, path="/enterprise/api/lead-stage", model=LeadStage, name="lead_stages"
        )
        """GET /enterprise/api/lead-stage."""
        self.lead_groups: Catalog[LeadGroup] = Catalog(
            session=session, converter=converter, path="/enterprise/api/lead-group", model=LeadGroup, name="lead_groups"
        )
        """GET /enterprise/api/lead-group."""
        self.products: Catalog[Product] = Catalog(
            session=session, converter=converter, path="/enterprise/api/product", model=Product, name="products"
        )
        """GET /enterprise/api/product."""

    @property
    def with_raw_response(self) -> SuperfoneClientWithRawResponse:
        """This client, with every coroutine method returning a :class:`~crm_core.RawResponse`.

        ``raw = await sf.with_raw_response.leads.get(phone="+918000000001")`` sends the one
        request ``sf.leads.get`` sends and returns ``raw.parsed`` (the :class:`Lead`),
        ``raw.status``, ``raw.headers`` and ``raw.http_response``. Works on views
        (``sf.with_options(...).with_raw_response``). Iterators (``tasks.iter``, catalog
        ``iter``) are passed through unchanged.
        """
        return SuperfoneClientWithRawResponse(self)

    @property
    def base_url(self) -> str:
        """The API root this client talks to."""
        return self._core.http.base_url

    @property
    def http(self) -> ClientCore:
        """The shared core (session, limiter, concurrency, ledger) for advanced use."""
        return self._core

    def __repr__(self) -> str:
        return f"SuperfoneClient(base_url={self.base_url!r})"


class SuperfoneClientWithRawResponse:
    """:class:`SuperfoneClient`'s resources, each coroutine method returning ``RawResponse[...]``
    (see :attr:`SuperfoneClient.with_raw_response`)."""

    def __init__(self, client: SuperfoneClient) -> None:
        self.tasks = TasksWithRawResponse(client.tasks)
        self.leads = LeadsWithRawResponse(client.leads)
        self.source_types = CatalogWithRawResponse(client.source_types)
        self.labels = CatalogWithRawResponse(client.labels)
        self.lead_stages = CatalogWithRawResponse(client.lead_stages)
        self.lead_groups = CatalogWithRawResponse(client.lead_groups)
        self.products = CatalogWithRawResponse(client.products)
