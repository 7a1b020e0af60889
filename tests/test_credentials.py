"""Credentials are checked the same way by both SDKs, before anything is sent (issue 9 §3)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from lofty_async import LoftyClient
from superfone_async import SuperfoneClient


@pytest.mark.parametrize("bad", ["ab\ncd", "ab\tcd", "ab\x01cd", "ab\x7fcd", "ab\r\ncd", "  ", ""])
@pytest.mark.parametrize(
    "make",
    [
        lambda value: LoftyClient(api_key=value),
        lambda value: LoftyClient(access_token=value),
        lambda value: SuperfoneClient(api_key=value),
    ],
    ids=["lofty-key", "lofty-token", "superfone"],
)
async def test_a_credential_with_a_control_character_or_empty_is_refused_up_front(
    make: Callable[[str], object], bad: str
) -> None:
    with pytest.raises(ValueError, match=r"is empty|control character") as info:
        make(bad)
    assert bad.strip() == "" or bad not in str(info.value)  # the value is never repeated


async def test_surrounding_whitespace_is_removed_by_both_sdks() -> None:
    async with LoftyClient(api_key="  secret-key\n") as lofty, SuperfoneClient(api_key="\tsecret-key  ") as sf:
        lofty_headers = await lofty.http.http._auth.headers()
        sf_headers = await sf.http.http._auth.headers()
    assert lofty_headers["Authorization"] == "token secret-key"
    assert sf_headers["x-api-key"] == "secret-key"
