"""OAuth 2.0: code exchange (both endpoints), PKCE, client credentials, refresh on expiry and on
401 with concurrent callers sharing one refresh, and tokens kept out of reprs and errors."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import pytest

from crm_core.emulator import FixedWindowRateLimit
from lofty_async import AuthenticationError, LoftyClient, OAuthApp, OAuthAuth, OAuthTokens, make_pkce_pair
from lofty_async.testing import SANDBOX_API_KEY, LoftyEmulator, sandbox_lead_ids

LEAD = sandbox_lead_ids()[0]


@pytest.fixture
async def served() -> AsyncIterator[tuple[LoftyEmulator, str]]:
    emulator = LoftyEmulator(rate_limit=FixedWindowRateLimit(limit=10**6))
    async with emulator.serve() as url:
        yield emulator, url


def test_pkce_pair_and_authorization_url() -> None:
    verifier, challenge = make_pkce_pair()
    expected = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    assert challenge == expected and 43 <= len(verifier) <= 128
    app = OAuthApp(client_id="abc", redirect_uri="https://app.example.com/cb")
    query = parse_qs(urlparse(app.authorization_url(state="xyz", code_challenge=challenge)).query)
    assert query["clientId"] == ["abc"] and query["state"] == ["xyz"]
    assert query["code_challenge"] == [challenge] and query["code_challenge_method"] == ["S256"]


@pytest.mark.parametrize(("path", "client_auth"), [("/oauth/token", "body"), ("/api/user-web/oauth/token", "basic")])
async def test_authorization_code_on_both_documented_endpoints(
    served: tuple[LoftyEmulator, str], path: str, client_auth: str
) -> None:
    emulator, url = served
    app = OAuthApp(
        client_id="sandbox-client",
        client_secret="sandbox-secret",
        redirect_uri="https://app/cb",
        token_url=url + path,
        client_auth="basic" if client_auth == "basic" else "body",
    )
    code = emulator.authorize("sandbox-client", redirect_uri="https://app/cb")
    tokens = await app.exchange_code(code)
    assert tokens.refresh_token and tokens.expires_at is not None and tokens.scope == "openApi"
    async with LoftyClient(oauth=OAuthAuth(app, tokens), base_url=url) as lofty:
        assert await lofty.tasks.list(lead_id=LEAD) == []
    with pytest.raises(AuthenticationError) as reused:
        await app.exchange_code(code)
    assert reused.value.code == "invalid_grant"


async def test_pkce_exchange_needs_the_right_verifier(served: tuple[LoftyEmulator, str]) -> None:
    emulator, url = served
    app = OAuthApp(client_id="sandbox-client", token_url=url + "/oauth/token")
    verifier, challenge = make_pkce_pair()
    with pytest.raises(AuthenticationError):
        await app.exchange_code(
            emulator.authorize("sandbox-client", code_challenge=challenge), code_verifier="wrong" * 9
        )
    tokens = await app.exchange_code(
        emulator.authorize("sandbox-client", code_challenge=challenge), code_verifier=verifier
    )
    assert tokens.access_token


async def test_client_credentials_tokens_renew_with_the_customer_key(served: tuple[LoftyEmulator, str]) -> None:
    emulator, url = served
    app = OAuthApp(client_id="sandbox-client", client_secret="sandbox-secret", token_url=url + "/oauth/token")
    auth = OAuthAuth(app, customer_key=SANDBOX_API_KEY)
    async with LoftyClient(oauth=auth, base_url=url) as lofty:
        await lofty.tasks.list(lead_id=LEAD)
        assert auth.renewals == 1 and auth.tokens is not None and auth.tokens.refresh_token is None
        emulator.expire_access_tokens()
        await lofty.tasks.list(lead_id=LEAD)  # 401 -> client credentials again -> retried
        assert auth.renewals == 2
    with pytest.raises(AuthenticationError):
        await OAuthApp(
            client_id="sandbox-client", client_secret="sandbox-secret", token_url=url + "/oauth/token"
        ).client_credentials("not-a-key")


async def test_token_is_refreshed_before_it_expires(served: tuple[LoftyEmulator, str]) -> None:
    emulator, url = served
    app = OAuthApp(client_id="sandbox-client", client_secret="sandbox-secret", token_url=url + "/oauth/token")
    tokens = await app.exchange_code(emulator.authorize("sandbox-client"))
    soon = OAuthTokens(
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        expires_at=datetime.now(UTC) + timedelta(seconds=30),
    )
    saved: list[OAuthTokens] = []
    auth = OAuthAuth(app, soon, refresh_margin=60, on_tokens=saved.append)
    async with LoftyClient(oauth=auth, base_url=url) as lofty:
        await lofty.tasks.list(lead_id=LEAD)
    assert auth.renewals == 1 and saved and saved[0].access_token != tokens.access_token
    assert emulator.core.count("GET", "/v2.0/tasks") == 1  # renewed first: no 401 round trip


async def test_concurrent_401s_share_one_refresh(
    served: tuple[LoftyEmulator, str], caplog: pytest.LogCaptureFixture
) -> None:
    emulator, url = served
    caplog.set_level(logging.DEBUG)
    app = OAuthApp(client_id="sandbox-client", client_secret="sandbox-secret", token_url=url + "/oauth/token")
    tokens = await app.exchange_code(emulator.authorize("sandbox-client"))
    auth = OAuthAuth(app, tokens)
    async with LoftyClient(oauth=auth, base_url=url, max_concurrency=20) as lofty:
        emulator.expire_access_tokens()  # the server says 401, the client still thinks the token is fresh
        results = await asyncio.gather(*(lofty.tasks.list(lead_id=LEAD) for _ in range(20)))
    assert results == [[]] * 20
    assert auth.renewals == 1
    secrets_seen = [tokens.access_token, tokens.refresh_token or "", auth.tokens.access_token if auth.tokens else ""]
    for secret in secrets_seen:
        assert secret not in caplog.text and secret not in repr(auth) and secret not in repr(auth.tokens)


async def test_a_revoked_refresh_token_surfaces_as_an_authentication_error(served: tuple[LoftyEmulator, str]) -> None:
    emulator, url = served
    app = OAuthApp(client_id="sandbox-client", client_secret="sandbox-secret", token_url=url + "/oauth/token")
    tokens = await app.exchange_code(emulator.authorize("sandbox-client"))
    emulator.refresh_tokens.clear()  # the user disconnected the app
    emulator.expire_access_tokens()
    async with LoftyClient(oauth=OAuthAuth(app, tokens), base_url=url) as lofty:
        with pytest.raises(AuthenticationError) as info:
            await lofty.tasks.list(lead_id=LEAD)
    assert info.value.status == 401
    assert tokens.access_token not in str(info.value) and (tokens.refresh_token or "") not in str(info.value)
