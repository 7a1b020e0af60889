"""Async iteration over paginated endpoints."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TypeVar

__all__ = ["iter_pages"]

T = TypeVar("T")


async def iter_pages(
    fetch: Callable[[int], Awaitable[tuple[Sequence[T], bool]]],
    *,
    first_page: int = 1,
    max_pages: int | None = None,
) -> AsyncIterator[T]:
    """Yield every item of a page-numbered endpoint, one page request at a time.

    Args:
        fetch: ``page_number -> (items, has_more)``.
        first_page: 1 for 1-based APIs (Superfone), 0 for 0-based ones (Lofty calendar).
        max_pages: Stop after this many pages (a guard against a server that never ends).
    """
    page = first_page
    fetched = 0
    while True:
        items, has_more = await fetch(page)
        for item in items:
            yield item
        fetched += 1
        if not has_more or not items or (max_pages is not None and fetched >= max_pages):
            return
        page += 1
