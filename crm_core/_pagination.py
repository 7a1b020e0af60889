"""Async iteration over paginated endpoints, resumable from a saved cursor.

Two tools:

* :class:`CursorIterator`: an async iterator of items that exposes, after every item, the
  cursor to resume from (``it.cursor``), so a sync worker can checkpoint and restart without
  skipping anything. Works for any cursor: a scroll ID, a last-seen ID, a page number.
* :func:`iter_pages`: the plain page-number generator (kept for existing callers).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Generic, TypeVar

import attrs

__all__ = ["CursorIterator", "Page", "iter_pages", "page_number_fetch"]

T = TypeVar("T")
C = TypeVar("C")


@attrs.frozen(kw_only=True)
class Page(Generic[T, C]):
    """One fetched page.

    Attributes:
        items: The page's items, in server order.
        cursor: The cursor that fetched this page.
        next_cursor: The cursor that fetches the following page (meaningful when ``has_more``).
        has_more: Whether another page follows.
    """

    items: Sequence[T]
    cursor: C
    next_cursor: C
    has_more: bool


class CursorIterator(Generic[T, C]):
    """Every item of a paginated endpoint, one page request at a time, with a resumable cursor.

    Use it with ``async for``; after handling each item (or each page), save :attr:`cursor`.
    Passing the saved value back (``leads.iter(scroll_id=saved)``,
    ``tasks.my_tasks(current_id=saved)``, ``calendar.iter(page=saved)``) resumes: items of a
    page whose last item you had not finished are delivered again (at least once, never
    skipped), so make the per-item work idempotent (e.g. ``dedupe_key``).

    :attr:`cursor` is, after the item just yielded:

    * that item's page's cursor while more of the page remains (resuming re-reads the page);
    * the next page's cursor once the page's last item has been yielded (:attr:`at_page_end`
      is then ``True``: the moment to checkpoint when saving once per page);
    * unchanged once the iteration has ended (:attr:`exhausted`): what the last page
      returned, so a later run can ask the server for anything newer where the API allows.

    Args:
        fetch: ``cursor -> Page`` (one request).
        start: The cursor of the first page (the saved one when resuming).
        max_pages: Stop after this many pages (a guard against a server that never ends).
    """

    def __init__(
        self,
        fetch: Callable[[C], Awaitable[Page[T, C]]],
        start: C,
        *,
        max_pages: int | None = None,
    ) -> None:
        self._fetch = fetch
        self.cursor: C = start
        self.pages_fetched = 0
        self.at_page_end = False
        self.exhausted = False
        self._page: Page[T, C] | None = None
        self._items: Sequence[T] = ()  # the current page's items
        self._index = 0
        self._max_pages = max_pages

    def __repr__(self) -> str:
        return f"{type(self).__name__}(cursor={self.cursor!r}, pages_fetched={self.pages_fetched})"

    def __aiter__(self) -> CursorIterator[T, C]:
        return self

    async def __anext__(self) -> T:
        items, index = self._items, self._index
        if index >= len(items):  # the page is done (or none yet): the next one
            page = await self._fetch_next()
            if page is None or not page.items:
                raise StopAsyncIteration
            items, index = page.items, 0
            self.at_page_end = False
        item = items[index]
        index += 1
        self._index = index
        if index == len(items):
            self._end_page()
        return item

    async def _fetch_next(self) -> Page[T, C] | None:
        """The next page (an empty one ends the iteration), or ``None`` when there is none left to
        ask for; either way :attr:`exhausted` is then set."""
        page = self._page
        if self.exhausted or (page is not None and (not page.has_more or self._at_max())):
            self.exhausted = True
            return None
        cursor = self.cursor if page is None else page.next_cursor
        page = self._page = await self._fetch(cursor)
        self.pages_fetched += 1
        self._items, self._index = page.items, 0
        self.cursor = page.cursor
        if not page.items:
            self.exhausted = True
        return page

    def _end_page(self) -> None:
        """The current page is handled: resume from the next page (when there is one)."""
        self.at_page_end = True
        self._index = len(self._items)
        page = self._page
        if page is not None and page.has_more:
            self.cursor = page.next_cursor

    def _at_max(self) -> bool:
        return self._max_pages is not None and self.pages_fetched >= self._max_pages

    async def pages(self) -> AsyncIterator[Page[T, C]]:
        """Page by page instead of item by item: after handling a page, save ``page.next_cursor``
        (or :attr:`cursor`, which equals it when more pages follow). Called partway through a
        page (after some of its items), it gives that page again, whole, first: at least once,
        never skipped."""
        page = self._page
        if page is not None and self._index < len(self._items):
            self._end_page()
            yield page
        while (page := await self._fetch_next()) is not None:
            self._end_page()
            if not page.items:
                return
            yield page


def page_number_fetch(
    fetch: Callable[[int], Awaitable[tuple[Sequence[T], bool]]],
) -> Callable[[int], Awaitable[Page[T, int]]]:
    """Adapt a ``page_number -> (items, has_more)`` function to :class:`CursorIterator`
    (the cursor is the page number)."""

    async def fetch_page(number: int) -> Page[T, int]:
        items, has_more = await fetch(number)
        return Page(items=items, cursor=number, next_cursor=number + 1, has_more=has_more)

    return fetch_page


async def iter_pages(
    fetch: Callable[[int], Awaitable[tuple[Sequence[T], bool]]],
    *,
    first_page: int = 1,
    max_pages: int | None = None,
) -> AsyncIterator[T]:
    """Yield every item of a page-numbered endpoint, one page request at a time.

    For a resumable cursor use ``CursorIterator(page_number_fetch(fetch), first_page)``.

    Args:
        fetch: ``page_number -> (items, has_more)``.
        first_page: 1 for 1-based APIs (Superfone), 0 for 0-based ones (Lofty calendar).
        max_pages: Stop after this many pages (a guard against a server that never ends).
    """
    async for item in CursorIterator(page_number_fetch(fetch), first_page, max_pages=max_pages):
        yield item
