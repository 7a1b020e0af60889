"""Write examples/superfone_tasks.csv (320 valid rows, 50 leads) and superfone_tasks_bad_rows.csv.

Run: ``python examples/make_superfone_examples.py``. Deterministic (seeded). Rows of one lead
appear in the order they must be created; about a third are reminders.
"""

from __future__ import annotations

import csv
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from superfone_async.testing import sandbox_lead_ids

HERE = Path(__file__).parent
FIELDS = ["lead_id", "type", "due_date", "notify_at", "customer_note"]
IST = ZoneInfo("Asia/Kolkata")
NOTES = [
    "Customer asked about volume discount.",
    "Wants a site visit on the weekend — bring floor plans.",
    "Call back after 6 pm; prefers Hindi (हिंदी).",
    "Interested in 3BHK Tower B, budget ₹1.2 Cr.",
    "Send brochure on WhatsApp before the call.",
    "Follow up on home-loan pre-approval (SBI).",
    "Asked for the possession date of Tower A.",
    "",
]
NON_REMINDERS = ["FOLLOW_UP_CALL", "FIRST_CALL", "CALLBACK_REQUEST", "SITE_VISIT", "BOOKING"]


def rows(count: int, leads: int, seed: int) -> list[dict[str, object]]:
    rng = random.Random(seed)
    lead_ids = sandbox_lead_ids()[:leads]
    out: list[dict[str, object]] = []
    clock = {lead: datetime(2028, 1, 10, 10, 0, tzinfo=IST) for lead in lead_ids}
    for i in range(count):
        lead = lead_ids[i % leads] if i < leads else rng.choice(lead_ids)
        kind = "REMINDER" if rng.random() < 0.33 else ("FIRST_CALL" if i < leads else rng.choice(NON_REMINDERS))
        clock[lead] += timedelta(days=rng.randrange(1, 6), hours=rng.randrange(0, 5))
        due = clock[lead]
        notify = ""
        if kind != "FIRST_CALL" and rng.random() < 0.4:
            notify = (due - timedelta(minutes=rng.choice([5, 15, 30, 60]))).isoformat(timespec="seconds")
        due_text = due.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if i % 2 else due.isoformat(timespec="seconds")
        out.append(
            {
                "lead_id": lead,
                "type": kind,
                "due_date": due_text,
                "notify_at": notify,
                "customer_note": rng.choice(NOTES),
            }
        )
    return out


def write(path: Path, data: list[dict[str, object]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(data)


def main() -> None:
    write(HERE / "superfone_tasks.csv", rows(320, 50, seed=20261121))
    good = rows(5, 5, seed=11)
    bad: list[dict[str, object]] = [
        good[0],
        {**good[1], "type": "MEETING"},  # not a task type
        {**good[2], "due_date": ""},  # due_date is required
        good[3],
        {**good[4], "notify_at": "2028-03-01T10:00:00Z", "due_date": "2028-02-01T10:00:00Z"},  # after due_date
        {**good[0], "notify_at": "2020-01-01T10:00:00Z"},  # in the past
        {**good[1], "lead_id": "twelve"},  # not an ID
        {**good[2], "due_date": "next Tuesday"},  # not ISO-8601
        {**good[3], "lead_id": 99999},  # unknown lead: 404 Lead not found
        good[4],
    ]
    write(HERE / "superfone_tasks_bad_rows.csv", bad)


if __name__ == "__main__":
    main()
