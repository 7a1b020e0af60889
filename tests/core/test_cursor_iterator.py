"""crm_core.CursorIterator: the resumable cursor after each item and each page."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

from crm_core import CursorIterator, Page
from crm_core._pagination import iter_pages, page_number_fetch

ITEMS = list(range(10))


def numbered(size: int) -> tuple[list[int], Callable[[int], Awaitable[tuple[Sequence[int], bool]]]]:
    calls: list[int] = []

    async def fetch(number: int) -> tuple[Sequence[int], bool]:
        calls.append(number)
        chunk = ITEMS[number * size : (number + 1) * size]
        return chunk, (number + 1) * size < len(ITEMS)

    return calls, fetch


async def test_cursor_after_each_item_and_at_page_ends() -> None:
    calls, fetch = numbered(4)
    it = CursorIterator(page_number_fetch(fetch), 0)
    trail = []
    async for item in it:
        trail.append((item, it.cursor, it.at_page_end))
    assert [t[0] for t in trail] == ITEMS
    assert trail[2] == (2, 0, False)  # mid-page: resume re-reads page 0
    assert trail[3] == (3, 1, True)  # last item of page 0: resume at page 1
    assert trail[-1] == (9, 2, True)  # the last page keeps its own cursor
    assert it.exhausted and it.pages_fetched == 3 and calls == [0, 1, 2]
    async for _ in it:  # an exhausted iterator stays exhausted, without requests
        raise AssertionError
    assert calls == [0, 1, 2]


async def test_resuming_from_any_checkpoint_skips_nothing() -> None:
    for stop_after in range(1, 11):
        _, fetch = numbered(3)
        it = CursorIterator(page_number_fetch(fetch), 0)
        done: list[int] = []
        async for item in it:
            done.append(item)
            if len(done) == stop_after:
                break
        _, fetch2 = numbered(3)
        rest = [i async for i in CursorIterator(page_number_fetch(fetch2), it.cursor)]
        assert set(done) | set(rest) == set(ITEMS)
        assert len(done) + len(rest) - len(ITEMS) < 3  # at most one page repeated


async def test_pages_and_limits() -> None:
    _, fetch = numbered(4)
    it = CursorIterator(page_number_fetch(fetch), 0)
    pages = [p async for p in it.pages()]
    assert [list(p.items) for p in pages] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert [p.next_cursor for p in pages if p.has_more] == [1, 2]
    _, fetch = numbered(4)
    assert [i async for i in iter_pages(fetch, first_page=0, max_pages=2)] == ITEMS[:8]

    async def empty(cursor: str) -> Page[int, str]:
        return Page(items=[], cursor=cursor, next_cursor="next", has_more=True)

    never = CursorIterator(empty, "start")
    assert [i async for i in never] == [] and never.exhausted and never.cursor == "start"


async def test_at_page_end_after_the_loop_whichever_way_the_end_is_told() -> None:
    # Tester finding: a last page that still says has_more, answered by an empty page, left
    # at_page_end False after the loop; a last page saying has_more=False left it True.
    pages = [[1, 2], [3, 4], []]

    async def more_then_empty(cursor: int) -> Page[int, int]:
        return Page(items=pages[cursor], cursor=cursor, next_cursor=cursor + 1, has_more=True)

    async def no_more(cursor: int) -> Page[int, int]:
        return Page(items=pages[cursor], cursor=cursor, next_cursor=cursor + 1, has_more=cursor == 0)

    for fetch in (more_then_empty, no_more):
        it = CursorIterator(fetch, 0)
        seen = [(item, it.at_page_end) async for item in it]
        assert seen == [(1, False), (2, True), (3, False), (4, True)]
        assert it.at_page_end and it.exhausted


async def test_pages_after_some_items_gives_the_unfinished_page_first() -> None:
    # Tester finding: pages() partway through a page skipped the rest of that page.
    _, fetch = numbered(4)
    it = CursorIterator(page_number_fetch(fetch), 0)
    first = [item async for item, _ in zip_items(it, 2)]
    assert first == [0, 1]
    pages = [list(page.items) async for page in it.pages()]
    assert pages == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]  # page 0 again, whole; nothing skipped
    assert it.exhausted and it.at_page_end


async def zip_items(it: CursorIterator[int, int], count: int) -> AsyncIterator[tuple[int, int]]:
    for number in range(count):
        yield await it.__anext__(), number
