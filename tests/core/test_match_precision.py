"""Reconciliation matches a create at the precision each API stores (issue 8 §2)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from crm_core._converter import same_instant_at_precision
from lofty_async._models import Task
from lofty_async._tasks import build_task_create, matches_create


def test_same_instant_at_the_servers_precision() -> None:
    sent = datetime(2026, 3, 1, 23, 0, 0, 730_000, tzinfo=UTC)
    second, milli = timedelta(seconds=1), timedelta(milliseconds=1)
    assert same_instant_at_precision(sent, sent.replace(microsecond=0), precision=second)  # truncated
    assert same_instant_at_precision(sent, sent.replace(microsecond=0) + second, precision=second)  # rounded
    assert not same_instant_at_precision(sent, sent + 2 * second, precision=second)
    assert same_instant_at_precision(sent, sent.replace(microsecond=730_000), precision=milli)
    assert not same_instant_at_precision(sent, sent + 5 * milli, precision=milli)


def test_a_lofty_task_sent_with_fractions_and_an_offset_matches_its_whole_second_gmt_form() -> None:
    pacific = timezone(timedelta(hours=-8))
    end = datetime(2026, 3, 1, 15, 0, 0, 731_000, tzinfo=pacific)
    payload = build_task_create(type="Call", content="Call back", lead_id=7, assigned_role="Agent", end_at=end)
    stored = Task(
        id=1,
        lead_id=7,
        content="Call back",
        type="Call",
        end_at=datetime(2026, 3, 1, 23, 0, 0, tzinfo=UTC),  # '2026-03-01T23:00:00GMT'
    )
    assert matches_create(stored, payload)
    other = Task(id=2, lead_id=7, content="Call back", type="Call", end_at=datetime(2026, 3, 1, 23, 0, 5, tzinfo=UTC))
    assert not matches_create(other, payload)
