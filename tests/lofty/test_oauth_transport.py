"""Token requests go through the SDK's transport: transient failures are retried, and a 5xx
from the token endpoint is a server error, not an authentication error (issue 8 §2)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiohttp import web

from crm_core import APIConnectionError, FakeClock, Outcome, RetryPolicy, ServerError
from lofty_async import AuthenticationError, OAuthApp


class TokenEndpoint:
    """Answers ``statuses`` in order, then 200 with tokens."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses)
        self.calls = 0
        self.forms: list[dict[str, str]] = []

    async def token(self, request: web.Request) -> web.Response:
        self.calls += 1
        self.forms.append({k: str(v) for k, v in (await request.post()).items()})
        if self.statuses:
            status = self.statuses.pop(0)
            if status == 400:
                return web.json_response({"error": "invalid_grant", "error_description": "code used"}, status=400)
            return web.Response(status=status, text="<html>unavailable</html>", headers={"Retry-After": "1"})
        return web.json_response({"access_token": "at-1", "refresh_token": "rt-1", "expires_in": 3600})

    @asynccontextmanager
    async def serve(self) -> AsyncIterator[str]:
        app = web.Application()
        app.router.add_post("/oauth/token", self.token)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        try:
            yield f"http://127.0.0.1:{runner.addresses[0][1]}/oauth/token"
        finally:
            await runner.cleanup()


async def test_a_503_from_the_token_endpoint_is_retried_then_tokens_arrive() -> None:
    endpoint = TokenEndpoint(503, 503)
    clock = FakeClock()
    async with endpoint.serve() as url:
        app = OAuthApp(client_id="cid", client_secret="sec", token_url=url, clock=clock)
        tokens = await app.refresh("rt-0")
    assert tokens.access_token == "at-1"
    assert endpoint.calls == 3
    assert endpoint.forms[0]["grant_type"] == "refresh_token" and endpoint.forms[0]["client_id"] == "cid"
    assert clock.sleeps and all(s >= 1.0 for s in clock.sleeps)  # Retry-After honoured


async def test_a_token_endpoint_that_stays_down_is_a_server_error_not_an_auth_error() -> None:
    endpoint = TokenEndpoint(*([503] * 10))
    async with endpoint.serve() as url:
        app = OAuthApp(
            client_id="cid", client_secret="sec", token_url=url, clock=FakeClock(), retry=RetryPolicy(max_retries=2)
        )
        with pytest.raises(ServerError) as info:
            await app.client_credentials("customer-key")
    assert not isinstance(info.value, AuthenticationError)
    assert info.value.status == 503 and endpoint.calls == 3
    assert "sec" not in str(info.value) and "customer-key" not in str(info.value)


async def test_a_refused_grant_is_an_authentication_error_and_not_retried() -> None:
    endpoint = TokenEndpoint(400)
    async with endpoint.serve() as url:
        app = OAuthApp(client_id="cid", client_secret="sec", token_url=url, clock=FakeClock())
        with pytest.raises(AuthenticationError) as info:
            await app.exchange_code("code-1")
    assert info.value.code == "invalid_grant" and "code used" in str(info.value)
    assert endpoint.calls == 1


async def test_an_unreachable_token_endpoint_is_retried_as_not_sent() -> None:
    clock = FakeClock()
    app = OAuthApp(
        client_id="cid", token_url="http://127.0.0.1:9/oauth/token", clock=clock, retry=RetryPolicy(max_retries=2)
    )
    with pytest.raises(APIConnectionError) as info:
        await app.client_credentials("k")
    assert info.value.outcome is Outcome.NOT_SENT and info.value.attempts == 3
