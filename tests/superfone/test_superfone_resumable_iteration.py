"""Resumable iteration: a sync worker checkpoints the page cursor and resumes after a restart."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from aioresponses import aioresponses

from superfone_async import Page, PageIterator, SuperfoneClient, ValidationError
from superfone_async.testing import SANDBOX_API_KEY, SuperfoneEmulator, sandbox_lead_ids

BASE = "https://prod-api.superfone.co.in/superfone"
LEAD = sandbox_lead_ids()[7]


@pytest.fixture
def state() -> SuperfoneEmulator:
    return SuperfoneEmulator()


@pytest.fixture
async def sf(state: SuperfoneEmulator) -> AsyncIterator[SuperfoneClient]:
    async with (
        state.serve() as url,
        SuperfoneClient(api_key=SANDBOX_API_KEY, base_url=url, strict_responses=True, rate_limit=None) as client,
    ):
        yield client


async def _seed_tasks(sf: SuperfoneClient, count: int) -> None:
    due = datetime(2027, 6, 1, 9, 0, tzinfo=UTC)
    # Many handlers sharing one client, as a web app would.
    await asyncio.gather(
        *(sf.tasks.create(LEAD, type="REMINDER", due_date=due + timedelta(minutes=i)) for i in range(count))
    )


async def test_worker_restarts_from_its_checkpoint_without_missing_a_task(
    sf: SuperfoneClient, state: SuperfoneEmulator
) -> None:
    await _seed_tasks(sf, 45)  # 3 pages of 20
    every = {t["id"] for t in state.lead_tasks(LEAD)}
    seen: list[int] = []
    checkpoint: int | None = None

    # First run: crashes after 25 tasks, having saved the cursor after each task.
    rows = sf.tasks.iter(LEAD)
    async for task in rows:
        seen.append(task.id)
        checkpoint = rows.resume_page
        if len(seen) == 25:
            break
    assert checkpoint == 2 and rows.pages_read == 2  # in the middle of page 2

    # Second run (a new iterator, as after a restart) resumes from the checkpoint.
    assert checkpoint is not None
    rows = sf.tasks.iter(LEAD, start_page=checkpoint)
    async for task in rows:
        seen.append(task.id)
        checkpoint = rows.resume_page
    assert checkpoint == 3  # the last task's page, until the iterator is asked past it
    checkpoint = rows.resume_page
    assert checkpoint is None  # done
    assert set(seen) == every  # nothing missed
    assert len(seen) - len(every) == 5  # at least once: the 5 tasks of page 2 already seen


async def test_pages_give_an_exact_cursor_per_page(sf: SuperfoneClient, state: SuperfoneEmulator) -> None:
    await _seed_tasks(sf, 45)
    cursors: list[int | None] = []
    collected: list[int] = []
    rows = sf.tasks.iter(LEAD, page_size=20)
    async for page in rows.pages():
        assert isinstance(page, Page)
        collected += [t.id for t in page.rows]
        cursors.append(rows.resume_page)
        assert rows.resume_page == page.next_page
    assert cursors == [2, 3, None]
    assert len(collected) == 45 and set(collected) == {t["id"] for t in state.lead_tasks(LEAD)}
    # Resume exactly at page 3: only its 5 tasks.
    tail = [t.id async for t in sf.tasks.iter(LEAD, start_page=3)]
    assert tail == collected[40:]


async def test_catalog_iterators_expose_and_accept_the_cursor(sf: SuperfoneClient) -> None:
    everything = [row.title async for row in sf.source_types.iter(page_size=3)]
    assert len(everything) == 7
    rows = sf.source_types.iter(page_size=3)
    first_page = [await rows.__anext__() for _ in range(3)]
    assert rows.resume_page == 1 and rows.page is not None and rows.page.total_pages == 3
    await rows.__anext__()  # the first row of page 2 moves the cursor past page 1
    assert rows.resume_page == 2
    resumed = [row.title async for row in sf.source_types.iter(page_size=3, start_page=rows.resume_page)]
    assert [r.title for r in first_page] + resumed == everything


async def test_start_page_is_the_first_request_and_bad_cursors_are_refused() -> None:
    page = {"rows": [], "total_pages": 2, "current_page": 3, "page_size": 20, "total_items": 40}
    async with SuperfoneClient(api_key="k", rate_limit=None) as sf:
        with aioresponses() as mock:
            mock.get(f"{BASE}/enterprise/api/lead/12345/task?page=3&page_size=20", payload={"data": page})
            rows = sf.tasks.iter(12345, start_page=3)
            assert isinstance(rows, PageIterator)
            assert [t async for t in rows] == []
            assert rows.resume_page is None
            for bad in (0, -1, True, "2"):
                with pytest.raises(ValidationError) as info:
                    sf.tasks.iter(12345, start_page=bad)  # type: ignore[arg-type]
                assert info.value.field == "start_page"
            with pytest.raises(ValidationError):
                sf.labels.iter(page_size=0)
            assert len(mock.requests) == 1
