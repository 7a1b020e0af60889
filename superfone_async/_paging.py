"""Resumable iteration over Superfone's page-numbered lists (``?page=&page_size=``, 1-based)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Generic, TypeVar

import attrs

from crm_core import ValidationError

from ._models import Page

__all__ = ["PageIterator"]

T = TypeVar("T")


@attrs.define(kw_only=True)
class PageIterator(Generic[T]):
    """Every row of a page-numbered list, one page request at a time, with its cursor exposed.

    ``async for row in it`` yields rows; ``async for page in it.pages()`` yields whole
    :class:`~superfone_async.Page` objects. Either way the cursor is readable after each page,
    so a sync worker can checkpoint it and resume with ``start_page=saved``::

        rows = sf.labels.iter(start_page=saved or 1)
        async for label in rows:
            await handle(label)
            save(rows.resume_page)   # None once the list is done

    Resuming is at least once, never a miss: :attr:`resume_page` stays on the page being read
    until the caller asks for the row after its last one, so a restart may see up to one page
    again. A list that grows at the front (tasks are newest first) shifts rows to later pages,
    which also means repeats, not misses.

    Attributes:
        fetch: ``page_number -> Page`` (one request).
        start_page: The first page to read, 1-based.
        max_pages: Stop after this many pages (a guard against a server that never ends).
        resume_page: The page to pass as ``start_page`` to resume without missing a row;
            ``None`` once the last page has been read through.
        page: The page the latest row (or page) came from; ``None`` before the first request.
        pages_read: Pages fetched so far.
    """

    _fetch: Callable[[int], Awaitable[Page[T]]] = attrs.field(repr=False)
    start_page: int = 1
    max_pages: int | None = None
    resume_page: int | None = attrs.field(init=False)
    page: Page[T] | None = attrs.field(init=False, default=None, repr=False)
    pages_read: int = attrs.field(init=False, default=0)
    _index: int = attrs.field(init=False, default=0, repr=False)
    _number: int | None = attrs.field(init=False, default=None, repr=False)

    def __attrs_post_init__(self) -> None:
        if isinstance(self.start_page, bool) or not isinstance(self.start_page, int) or self.start_page < 1:
            raise ValidationError("start_page", self.start_page, "an integer >= 1 (pages are 1-based)")
        self.resume_page = self.start_page

    def __aiter__(self) -> PageIterator[T]:
        return self

    async def __anext__(self) -> T:
        while True:
            if self.page is not None and self._index < len(self.page.rows):
                row = self.page.rows[self._index]
                self._index += 1
                return row
            page = await self._next_page()
            if page is None:
                raise StopAsyncIteration

    async def pages(self) -> AsyncIterator[Page[T]]:
        """Whole pages from :attr:`resume_page` on; after each, :attr:`resume_page` (and the
        page's own :attr:`~superfone_async.Page.next_page`) is where the next one starts."""
        while True:
            page = await self._next_page()
            if page is None:
                return
            self._index = len(page.rows)  # the caller takes the page whole: move the cursor past it
            self.resume_page = self._following(page)
            yield page

    async def _next_page(self) -> Page[T] | None:
        if self.page is not None and self.resume_page == self._number:
            # The current page is done: move the cursor past it.
            self.resume_page = self._following(self.page)
        number = self.resume_page
        if number is None or (self.max_pages is not None and self.pages_read >= self.max_pages):
            return None
        page = await self._fetch(number)
        self.page, self._index, self._number = page, 0, number
        self.pages_read += 1
        if not page.rows:
            self.resume_page = None
            return None
        return page

    def _following(self, page: Page[T]) -> int | None:
        if self._number is None or not page.rows or page.current_page >= page.total_pages:
            return None
        return self._number + 1
