"""OAuth 2.0 for Lofty (lofty_api.md §3): authorization code (+ PKCE), client credentials
with ``customer_key``, and refresh tokens.

Two token endpoints are documented and both are supported through ``token_url``:

* ``https://api.lofty.com/oauth/token`` (developer portal): form body with ``client_id`` and
  ``client_secret`` (``client_auth="body"``, the default);
* ``https://crm.lofty.com/api/user-web/oauth/token`` (help center): HTTP Basic client
  authentication (``client_auth="basic"``).

Client credentials are sent as a JSON body, as working third-party code does (the docs show no
wire format); ``client_credentials_format="form"`` switches to a form body.

:class:`OAuthAuth` plugs into :class:`~lofty_async.LoftyClient` (``oauth=``): it refreshes the
access token shortly before it expires and once after a 401, and concurrent requests share a
single refresh. Tokens never appear in logs, reprs or error messages.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import inspect
import json
import secrets
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Literal

import aiohttp
import attrs

from crm_core import AuthenticationError, Clock, Dialect, HTTPSession, Request, RequestKind, RetryPolicy, SystemClock
from crm_core._errors import APIStatusError, body_preview

from ._version import __version__

__all__ = [
    "AUTHORIZE_URL",
    "DEFAULT_TOKEN_URL",
    "HELP_CENTER_TOKEN_URL",
    "OAuthApp",
    "OAuthAuth",
    "OAuthTokens",
    "make_pkce_pair",
]

DEFAULT_TOKEN_URL = "https://api.lofty.com/oauth/token"
"""Token endpoint of the developer portal docs (form body client authentication)."""
HELP_CENTER_TOKEN_URL = "https://crm.lofty.com/api/user-web/oauth/token"
"""Token endpoint of the help-center docs (HTTP Basic client authentication)."""
AUTHORIZE_URL = "https://lofty.com/page/vendor-auth.html"
"""Where the user grants access (``?clientId=...``)."""


@attrs.frozen(kw_only=True)
class OAuthTokens:
    """Tokens from the token endpoint. ``repr`` never shows them.

    Attributes:
        access_token: Sent as ``Authorization: Bearer <token>``.
        refresh_token: For :meth:`OAuthApp.refresh` (valid up to 180 days), or ``None``.
        expires_at: When the access token expires (aware, UTC), or ``None`` if not said.
        token_type: ``Bearer``.
        scope: ``openApi``.
    """

    access_token: str = attrs.field(repr=False)
    refresh_token: str | None = attrs.field(default=None, repr=False)
    expires_at: datetime | None = None
    token_type: str = "Bearer"
    scope: str | None = None


def make_pkce_pair(length: int = 64) -> tuple[str, str]:
    """A PKCE ``(code_verifier, code_challenge)`` pair, challenge method ``S256``.

    Args:
        length: Verifier length, 43..128 characters.
    """
    if not 43 <= length <= 128:
        raise ValueError(f"length={length!r} is not valid: expected 43..128")
    verifier = secrets.token_urlsafe(96)[:length]
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    return verifier, challenge


class OAuthApp:
    """A registered Lofty application: builds the authorize URL and talks to the token endpoint.

    Args:
        client_id: The app's client ID.
        client_secret: The app's secret (``None`` for a PKCE public client).
        redirect_uri: Your redirect URI (authorization code flow).
        token_url: Token endpoint (:data:`DEFAULT_TOKEN_URL` or :data:`HELP_CENTER_TOKEN_URL`).
        client_auth: ``"body"`` (client_id/secret in the form) or ``"basic"`` (HTTP Basic).
        client_credentials_format: ``"json"`` (default, as observed) or ``"form"``.
        authorize_url: The consent page.
        session: An ``aiohttp.ClientSession`` to use (never closed by us). Without one, each
            token request (about one per hour) opens and closes its own short-lived session,
            so there is nothing to close.
        timeout: Token request time limit per attempt, seconds.
        clock: Time source, for ``expires_at`` and retry pauses.
        retry: Retry policy for token requests (default :class:`~crm_core.RetryPolicy`):
            connection failures and 408/429/503 are retried with backoff; see
            :meth:`client_credentials` for 5xx.
    """

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str | None = None,
        redirect_uri: str | None = None,
        token_url: str = DEFAULT_TOKEN_URL,
        client_auth: Literal["body", "basic"] = "body",
        client_credentials_format: Literal["json", "form"] = "json",
        authorize_url: str = AUTHORIZE_URL,
        session: aiohttp.ClientSession | None = None,
        timeout: float = 30.0,
        clock: Clock | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        if not client_id:
            raise ValueError("client_id is empty")
        self.client_id = client_id
        self._client_secret = client_secret
        self.redirect_uri = redirect_uri
        self.token_url = token_url
        self.client_auth = client_auth
        self.client_credentials_format = client_credentials_format
        self.authorize_url_base = authorize_url
        self._session = session
        self._timeout = timeout
        self.clock = clock or SystemClock()
        self.retry = retry

    def __repr__(self) -> str:
        return f"OAuthApp(client_id={self.client_id!r}, token_url={self.token_url!r})"

    def authorization_url(self, *, state: str | None = None, code_challenge: str | None = None) -> str:
        """The page to send the user to; Lofty redirects back with ``?code=...``.

        Args:
            state: Your CSRF token, echoed back (standard OAuth; Lofty's docs do not mention it).
            code_challenge: PKCE challenge from :func:`make_pkce_pair` (sent with
                ``code_challenge_method=S256``).
        """
        params = {"clientId": self.client_id}
        if self.redirect_uri:
            params["redirectUri"] = self.redirect_uri
        if state:
            params["state"] = state
        if code_challenge:
            params["code_challenge"] = code_challenge
            params["code_challenge_method"] = "S256"
        return f"{self.authorize_url_base}?{urllib.parse.urlencode(params)}"

    async def exchange_code(self, code: str, *, code_verifier: str | None = None) -> OAuthTokens:
        """Trade an authorization code for tokens.

        Source: POST {token_url} ``grant_type=authorization_code``

        Raises:
            AuthenticationError: the endpoint refused (bad code, client, or verifier).
            APIConnectionError: no response (retried first while the grant surely did not land).
            ServerError: the token endpoint kept failing (5xx).
        """
        form = {"grant_type": "authorization_code", "code": code}
        if self.redirect_uri:
            form["redirect_uri"] = self.redirect_uri
        if code_verifier:
            form["code_verifier"] = code_verifier
        return await self._token_request(form)

    async def refresh(self, refresh_token: str) -> OAuthTokens:
        """New tokens from a refresh token. Retried only while the request surely did not
        reach the server (connection refused, 408, 429, 503): a refresh token may rotate.

        Source: POST {token_url} ``grant_type=refresh_token``

        Raises:
            AuthenticationError: the refresh token is invalid, revoked or expired.
            APIConnectionError: no response.
            ServerError: the token endpoint kept failing (5xx).
        """
        return await self._token_request({"grant_type": "refresh_token", "refresh_token": refresh_token})

    async def client_credentials(self, customer_key: str) -> OAuthTokens:
        """Server-to-server tokens for the account whose API key is ``customer_key``.

        Safe to repeat, so every transient failure (connection errors, 408, 429, 5xx) is
        retried with backoff.

        Source: POST {token_url} ``grant_type=client_credentials`` with ``customer_key``

        Raises:
            AuthenticationError: bad client or customer key.
            APIConnectionError: no response.
            ServerError: the token endpoint kept failing (5xx).
        """
        return await self._token_request(
            {"grant_type": "client_credentials", "customer_key": customer_key},
            as_json=self.client_credentials_format == "json",
        )

    async def _token_request(self, form: dict[str, str], *, as_json: bool = False) -> OAuthTokens:
        """POST the token endpoint through a :class:`~crm_core.HTTPSession`.

        Connection failures and 408/429/503 are retried with backoff (the grant did not reach
        the server); 500/502/504 are retried only for client credentials (a code or refresh
        token may have been used up). A 4xx refusal is an ``AuthenticationError``; a 5xx that
        outlasts the retries stays a ``ServerError`` (the server failed, not the credentials).
        """
        headers: dict[str, str] = {}
        body = dict(form)
        if self.client_auth == "basic":
            pair = f"{self.client_id}:{self._client_secret or ''}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        else:
            body["client_id"] = self.client_id
            if self._client_secret:
                body["client_secret"] = self._client_secret
        parts = urllib.parse.urlsplit(self.token_url)
        kind = RequestKind.IDEMPOTENT if form["grant_type"] == "client_credentials" else RequestKind.CREATE
        request = Request(
            method="POST",
            path=parts.path or "/",
            operation="oauth.token",
            kind=kind,
            json=body if as_json else None,
            form=None if as_json else body,
        )
        http = HTTPSession(
            base_url=f"{parts.scheme}://{parts.netloc}",
            auth=_Secret(headers),
            dialect=_TOKEN_DIALECT,
            retry=self.retry,
            timeout=self._timeout,
            session=self._session,
            clock=self.clock,
        )
        try:
            response = await http.send(request)
        except APIStatusError as exc:
            if exc.status is not None and 400 <= exc.status < 500 and exc.status not in (408, 429):
                raise AuthenticationError(
                    f"The token endpoint refused the {form['grant_type']} grant: {exc.message}",
                    method="POST",
                    url=self.token_url,
                    status=exc.status,
                    code=exc.code,
                    operation="oauth.token",
                ) from None
            raise
        finally:
            await http.aclose()
        data = response.data
        if not isinstance(data, dict) or not data.get("access_token"):
            raise AuthenticationError(
                f"The token endpoint answered {response.status} without an access_token",
                method="POST",
                url=self.token_url,
                status=response.status,
                operation="oauth.token",
            )
        expires_in = data.get("expires_in")
        expires_at = None
        if isinstance(expires_in, int | float) and not isinstance(expires_in, bool):
            expires_at = datetime.fromtimestamp(self.clock.time(), UTC) + timedelta(seconds=float(expires_in))
        return OAuthTokens(
            access_token=str(data["access_token"]),
            refresh_token=None if data.get("refresh_token") is None else str(data["refresh_token"]),
            expires_at=expires_at,
            token_type=str(data.get("token_type") or "Bearer"),
            scope=None if data.get("scope") is None else str(data["scope"]),
        )


class _Secret:
    """Client-authentication headers for the token endpoint; kept out of ``repr``."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        self._headers = dict(headers)

    async def headers(self) -> Mapping[str, str]:
        return self._headers

    async def on_unauthorized(self, sent: Mapping[str, str]) -> bool:
        return False

    def __repr__(self) -> str:
        return "_Secret(...)"


def _parse_token_error(status: int, text: str) -> tuple[int | str | None, str]:
    """``(error, error_description)`` of an OAuth error body (RFC 6749 §5.2)."""
    try:
        data = json.loads(text) if text.strip() else None
    except ValueError:
        data = None
    if isinstance(data, dict):
        reason = str(data.get("error_description") or data.get("message") or data.get("error") or "")
        code = data.get("error")
        return (code if isinstance(code, int | str) else None), reason or f"HTTP {status}"
    return None, body_preview(text) or f"HTTP {status}"


_TOKEN_DIALECT = Dialect(name="lofty_async.oauth", version=__version__, parse_error=_parse_token_error)


class OAuthAuth:
    """Bearer credentials that renew themselves (pass as ``LoftyClient(oauth=...)``).

    Renewal uses the refresh token when there is one, else client credentials when a
    ``customer_key`` was given. It happens ``refresh_margin`` seconds before ``expires_at`` and
    once after a 401; concurrent callers wait for the same renewal.

    Args:
        app: The application.
        tokens: Current tokens (``None`` with ``customer_key``: fetched on first use).
        customer_key: The target account's API key, for client-credentials renewal.
        refresh_margin: Seconds before expiry at which to renew.
        on_tokens: Called with every new :class:`OAuthTokens` (sync or async), to persist them.

    Raises:
        ValueError: neither ``tokens`` nor ``customer_key``.
    """

    def __init__(
        self,
        app: OAuthApp,
        tokens: OAuthTokens | None = None,
        *,
        customer_key: str | None = None,
        refresh_margin: float = 60.0,
        on_tokens: Callable[[OAuthTokens], Awaitable[None] | None] | None = None,
    ) -> None:
        if tokens is None and customer_key is None:
            raise ValueError("pass tokens= (from exchange_code) or customer_key= (client credentials)")
        self.app = app
        self._tokens = tokens
        self._customer_key = customer_key
        self.refresh_margin = refresh_margin
        self._on_tokens = on_tokens
        self._lock = asyncio.Lock()
        self.renewals = 0

    def __repr__(self) -> str:
        return f"OAuthAuth(app={self.app!r}, renewals={self.renewals})"

    @property
    def tokens(self) -> OAuthTokens | None:
        """The current tokens."""
        return self._tokens

    def identity(self) -> str:
        """A stable digest of the app and account (for sharing a rate limiter)."""
        account = self._customer_key or (self._tokens.refresh_token if self._tokens else "") or ""
        return hashlib.sha256(f"{self.app.client_id}\n{account}".encode()).hexdigest()

    def _expiring(self, tokens: OAuthTokens | None) -> bool:
        if tokens is None:
            return True
        if tokens.expires_at is None:
            return False
        now = datetime.fromtimestamp(self.app.clock.time(), UTC)
        return tokens.expires_at - now <= timedelta(seconds=self.refresh_margin)

    async def headers(self) -> Mapping[str, str]:
        tokens = self._tokens
        if self._expiring(tokens):
            tokens = await self._renew(stale=None if tokens is None else tokens.access_token)
        assert tokens is not None
        return {"Authorization": f"Bearer {tokens.access_token}"}

    async def on_unauthorized(self, sent: Mapping[str, str]) -> bool:
        used = sent.get("Authorization", "").removeprefix("Bearer ").strip()
        if self._tokens is not None and self._tokens.access_token != used:
            return True  # someone else already renewed: retry with the new token
        try:
            await self._renew(stale=used)
        except AuthenticationError:
            return False
        return True

    async def _renew(self, *, stale: str | None) -> OAuthTokens:
        async with self._lock:
            current = self._tokens
            if current is not None and current.access_token != stale and not self._expiring(current):
                return current  # renewed by a concurrent caller while we waited
            if current is not None and current.refresh_token:
                fresh = await self.app.refresh(current.refresh_token)
                if fresh.refresh_token is None:
                    fresh = attrs.evolve(fresh, refresh_token=current.refresh_token)
            elif self._customer_key is not None:
                fresh = await self.app.client_credentials(self._customer_key)
            else:
                raise AuthenticationError(
                    "The access token expired and there is no refresh token or customer key to renew it",
                    operation="oauth.renew",
                )
            self._tokens = fresh
            self.renewals += 1
            if self._on_tokens is not None:
                maybe = self._on_tokens(fresh)
                if inspect.isawaitable(maybe):
                    await maybe
            return fresh
