"""Write examples/lofty_tasks.csv (520 valid rows) and examples/lofty_tasks_bad_rows.csv.

Run: ``python examples/make_lofty_examples.py``. Deterministic (seeded). Times are local wall
times converted with the zone's real offset, so rows around 2027-03-14 (US) and 2027-03-28
(Europe) cross a daylight-saving change.
"""

from __future__ import annotations

import csv
import random
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from lofty_async.testing import sandbox_lead_ids

HERE = Path(__file__).parent
FIELDS = ["type", "content", "lead_id", "assigned_role", "start_at", "end_at", "time_zone_code", "address"]
ZONES = [
    "America/Los_Angeles",
    "America/Denver",
    "America/Chicago",
    "America/New_York",
    "Europe/London",
    "America/Phoenix",
    "Pacific/Honolulu",
]
ADDRESSES = [
    "123 Main St, Los Angeles, CA 90012",
    "4507 Ocean Ave, San Francisco, CA 94112",
    "88 Peachtree St NE, Atlanta, GA 30303",
    "1600 Larimer St, Denver, CO 80202",
    "350 Fifth Ave, New York, NY 10118",
    "742 Evergreen Terrace, Springfield, OR 97477",
    "17 Calle Ocho, Miami, FL 33135",
    "2 Rue de la Paix, Unit 4B, Montréal, QC H2X 1Y4",
    "221B Baker St, London NW1 6XE",
    "1 Kalākaua Ave, Honolulu, HI 96815",
]
CONTENT = {
    "Call": [
        "Call back about the pre-approval letter",
        "Follow-up call: asked about school districts",
        "Call to confirm financing — lender is Banco Nación",
        "Call José about the counter-offer",
        "Check in after the open house (she loved the kitchen)",
        "Call to discuss HOA fees 💬",
    ],
    "Email": [
        "Email the comps for 4507 Ocean Ave",
        "Send the disclosure packet (PDF, 12 pages)",
        "Email Zoë the inspection report",
        "Send market update for Q2 — Ñuñoa listings",
        "Email thank-you note after closing 🎉",
    ],
    "Text": [
        "Text reminder: showing tomorrow at 10",
        "Text the lockbox code change",
        "Text Søren the new listing link",
        "Quick text: “Are you still interested in the condo?”",
    ],
    "Other": [
        "Prepare CMA for the Müller family",
        "Order yard sign for the new listing",
        "Update CRM notes after call",
        "Review the appraisal — €/m² comparison",
        "Schedule photographer for the café-adjacent unit",
    ],
    "Appointment": [
        "Showing at the listing",
        "Buyer consultation",
        "Listing presentation",
        "Final walk-through before closing",
        "Open house — bring sign-in sheet",
    ],
}


def rows(count: int, seed: int) -> list[dict[str, object]]:
    rng = random.Random(seed)
    leads = sandbox_lead_ids()
    kinds = list(CONTENT)
    out: list[dict[str, object]] = []
    for i in range(count):
        kind = kinds[i % len(kinds)]
        zone = ZONES[i % len(ZONES)]
        tz = ZoneInfo(zone)
        # Spread over 2027-03-01 .. 2027-04-20: crosses US (03-14) and EU (03-28) DST changes.
        day = datetime(2027, 3, 1, tzinfo=tz) + timedelta(days=rng.randrange(50))
        start = day.replace(hour=rng.choice([8, 9, 10, 11, 13, 14, 15, 16, 17]), minute=rng.choice([0, 15, 30, 45]))
        end = start + timedelta(minutes=rng.choice([15, 30, 45, 60, 90]))
        row: dict[str, object] = {
            "type": kind,
            "content": rng.choice(CONTENT[kind]),
            "lead_id": leads[rng.randrange(len(leads))],
            "assigned_role": "Assistant" if rng.random() < 0.25 else "Agent",
            "start_at": start.isoformat(timespec="seconds") if kind == "Appointment" or rng.random() < 0.8 else "",
            "end_at": end.isoformat(timespec="seconds"),
            "time_zone_code": zone,
            "address": rng.choice(ADDRESSES) if kind == "Appointment" else "",
        }
        out.append(row)
    return out


def write(path: Path, data: list[dict[str, object]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(data)


def main() -> None:
    write(HERE / "lofty_tasks.csv", rows(520, seed=20261121))
    good = rows(6, seed=7)
    bad: list[dict[str, object]] = [
        good[0],
        {**good[1], "type": "Meeting"},  # not a Lofty task type
        {**good[2], "content": ""},  # content is required
        good[3],
        {**good[4], "lead_id": "abc"},  # not an ID
        {
            **good[0],
            "end_at": "2027-03-02T08:00:00-08:00",
            "start_at": "2027-03-02T09:00:00-08:00",
        },  # ends before it starts
        {**good[1], "end_at": "2027-03-05T16:00:00"},  # no UTC offset
        {**good[2], "time_zone_code": "Mars/Olympus_Mons"},  # not an IANA zone
        {**good[3], "assigned_role": "Manager"},  # Agent or Assistant
        {**good[4], "lead_id": 999_999_999_999_999},  # unknown lead: the server refuses
        good[5],
    ]
    write(HERE / "lofty_tasks_bad_rows.csv", bad)


if __name__ == "__main__":
    main()
