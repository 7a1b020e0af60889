"""A sync worker: a Superfone follow-up task for every Lofty lead that changed since the last run.

Each run pages through Lofty's leads (GET /v1.0/leads, following ``scrollId``) and picks the
leads whose ``lastUpdateTime`` is after its checkpoint. Lofty offers no "updated since" filter
and no sort by update time (lofty_api.md, "List-filter details"), so the worker filters on
its side. For each changed lead with a phone number it looks the lead up in Superfone by phone
(GET /enterprise/api/lead?phone=), creates it there if absent (POST /enterprise/api/lead), and
creates a ``FOLLOW_UP_CALL`` task on it (POST /enterprise/api/lead/{id}/task).

The checkpoint is a small JSON file, rewritten atomically after every step:

* ``since``: every change at or before this time is done;
* ``done``: changes after ``since`` already handled, ``"<lead_id>@<lastUpdateTime>"`` -> the
  Superfone task ID (``null`` for a lead without a phone);
* ``pending``: follow-ups sent but not yet confirmed, with their due date: after a crash the
  worker looks the task up on the Superfone lead before sending it again;
* ``scroll_id``: the cursor of the next page of an unfinished pass, so a restart resumes there.

So a restart (even after ``kill -9``) resumes without duplicates: one task per lead change.
Lofty's times have whole seconds, so two changes of one lead within the same second count as one.
``--shard I/N`` splits the leads between N workers by a stable hash of the lead ID; give each
its own checkpoint. ``--redis-url`` (or ``REDIS_URL``) makes all of them share Lofty's one
rate limit (the app's, not the process's) through :class:`crm_core.RedisRateLimiter`, and
Superfone's too when ``--superfone-rate-limit N/S`` sets one (``pip install '.[redis]'``).

Run one pass against the local sandboxes (in-process emulators whose state is kept next to the
checkpoint, so a re-run meets the same servers)::

    python examples/sync_worker.py --sandbox
    python examples/sync_worker.py --sandbox      # again: nothing changed, nothing created

Against served sandboxes or the real APIs (credentials from ``LOFTY_API_KEY`` and
``SUPERFONE_API_KEY``)::

    lofty-async sandbox --port 8080 &  superfone-async sandbox --port 8081 &
    export LOFTY_API_KEY=sandbox-lofty-api-key SUPERFONE_API_KEY=sandbox-superfone-api-key
    python examples/sync_worker.py --base-url http://127.0.0.1:8080 --superfone-url http://127.0.0.1:8081

Exit status: 0, or 1 when a lead was refused by Superfone (reported on stderr, not retried).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import zlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import click

from crm_core import RedisRateLimiter
from lofty_async import BadRequestError, Lead, LoftyClient
from superfone_async import DEFAULT_BASE_URL as SUPERFONE_URL
from superfone_async import NotFoundError, RateLimit, SuperfoneClient, ValidationError

__all__ = ["Checkpoint", "SyncStats", "sync_once"]


@attrs.define(kw_only=True)
class Checkpoint:
    """The worker's saved position (see the module docstring); ``save`` writes it atomically."""

    path: Path
    since: datetime | None = None
    pass_started: datetime | None = None
    scroll_id: str | None = None
    done: dict[str, int | None] = attrs.field(factory=dict)
    pending: dict[str, dict[str, Any]] = attrs.field(factory=dict)

    @classmethod
    def load(cls, path: Path) -> Checkpoint:
        """The checkpoint in ``path``, or a fresh one when the file does not exist."""
        if not path.exists():
            return cls(path=path)
        data = json.loads(path.read_text(encoding="utf-8"))
        when = {k: None if data.get(k) is None else datetime.fromisoformat(data[k]) for k in ("since", "pass_started")}
        return cls(path=path, scroll_id=data.get("scroll_id"), done=data["done"], pending=data["pending"], **when)

    def save(self) -> None:
        """Write the file (to a temporary file first, then renamed over the old one)."""
        data = {
            "since": None if self.since is None else self.since.isoformat(),
            "pass_started": None if self.pass_started is None else self.pass_started.isoformat(),
            "scroll_id": self.scroll_id,
            "done": self.done,
            "pending": self.pending,
        }
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(json.dumps(data, indent=1), encoding="utf-8")
        os.replace(temporary, self.path)


@attrs.define
class SyncStats:
    """What one run did (counts of leads; ``failed``: refused input such as a phone Superfone rejects)."""

    scanned: int = 0
    changed: int = 0
    created: int = 0
    recovered: int = 0
    without_phone: int = 0
    failed: int = 0


def in_shard(lead_id: int, shard: tuple[int, int]) -> bool:
    """Whether the lead belongs to shard ``(I, N)`` (1-based), by a stable hash of its ID."""
    index, count = shard
    return zlib.crc32(str(lead_id).encode()) % count == index - 1


def e164(phone: str, country_code: str) -> str:
    """A Lofty phone (``"5551234567"``) in E.164 (``"+15551234567"``), as Superfone wants it."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    return "+" + digits if phone.strip().startswith("+") else country_code + digits


async def _pages(lofty: LoftyClient, checkpoint: Checkpoint, page_size: int) -> AsyncIterator[list[Lead]]:
    """Lofty's leads page by page, resuming at the saved ``scrollId``; a page's cursor is saved
    once the page has been handled (so a crash re-reads at most one page)."""
    start = checkpoint.scroll_id
    while True:
        leads = lofty.leads.iter(page_size=page_size, scroll_id=start)
        page: list[Lead] = []
        try:
            async for lead in leads:
                page.append(lead)
                if leads.at_page_end:
                    yield page
                    page = []
                    checkpoint.scroll_id = leads.scroll_id
                    checkpoint.save()
            if page:
                yield page
            return
        except BadRequestError:
            if start is None or leads.pages_fetched:
                raise
            start = None  # the saved cursor expired: start the pass over (``done`` skips what was handled)


async def _follow_up(
    sf: SuperfoneClient, lead: Lead, key: str, checkpoint: Checkpoint, *, country_code: str, due_in: timedelta
) -> bool:
    """Create the lead's Superfone task once; return ``False`` when an earlier run had created it."""
    assert lead.phones and lead.lead_id is not None
    phone = e164(lead.phones[0], country_code)
    pending = checkpoint.pending.get(key)
    if pending is not None:  # sent before a crash: look it up before sending again
        due = datetime.fromisoformat(pending["due_date"])
        async for task in sf.tasks.iter(pending["superfone_lead_id"]):
            if task.type == "FOLLOW_UP_CALL" and task.due_date == due:
                checkpoint.done[key] = task.id
                del checkpoint.pending[key]
                checkpoint.save()
                return False
    try:
        sf_lead = await sf.leads.get(phone=phone)
    except NotFoundError:
        sf_lead = await sf.leads.upsert(
            customer_phone=phone,
            create_if_not_found=True,
            first_name=lead.first_name,
            last_name=lead.last_name,
            email=lead.emails or None,
            source="lofty",
        )
    if pending is None:
        due_date = (datetime.now(UTC) + due_in).replace(microsecond=0).isoformat()
        pending = {"superfone_lead_id": sf_lead.id, "due_date": due_date}
        checkpoint.pending[key] = pending
        checkpoint.save()
    stage = f" (stage: {lead.stage})" if lead.stage else ""
    task = await sf.tasks.create(
        sf_lead.id,
        type="FOLLOW_UP_CALL",
        due_date=pending["due_date"],
        customer_note=f"Lofty lead {lead.lead_id} changed at {lead.last_update_time}{stage}: follow up.",
    )
    checkpoint.done[key] = task.id
    del checkpoint.pending[key]
    checkpoint.save()
    return True


async def sync_once(
    lofty: LoftyClient,
    sf: SuperfoneClient,
    checkpoint: Checkpoint,
    *,
    shard: tuple[int, int] = (1, 1),
    page_size: int = 100,
    concurrency: int = 4,
    max_leads: int | None = None,
    country_code: str = "+1",
    due_in: timedelta = timedelta(days=1),
    skew: timedelta = timedelta(minutes=5),
) -> SyncStats:
    """One pass (or the rest of an interrupted one): follow up every lead changed since the checkpoint.

    Args:
        lofty: Source of leads (GET /v1.0/leads).
        sf: Where follow-ups go (Superfone lead lookup, upsert, task create).
        checkpoint: Loaded checkpoint; saved after every page and every follow-up.
        shard: ``(I, N)``: only leads of shard I of N.
        page_size: Leads per Lofty page (1..100).
        concurrency: Leads followed up at once.
        max_leads: Stop after this many follow-ups, failed ones included (the pass stays unfinished and resumes later).
        country_code: Prefix for Lofty phones without one.
        due_in: When the follow-up is due, from now.
        skew: Clock difference allowed between us and Lofty; changes this recent are checked
            again by the next pass (and recognised by ``done``).

    Returns:
        Counts of leads scanned, changed, followed up, recovered after a crash, without phone,
        failed. A lead Superfone refuses (bad phone, 400) is reported on stderr and skipped; any
        other error (the APIs down, a rate limit) stops the run, and a re-run resumes.
    """
    stats = SyncStats()
    if checkpoint.pass_started is None:
        checkpoint.pass_started = datetime.now(UTC).replace(microsecond=0)
        checkpoint.save()
    newest = checkpoint.since
    slots = asyncio.Semaphore(concurrency)
    started = 0

    async def handle(lead: Lead, key: str) -> None:
        nonlocal started
        async with slots:
            if max_leads is not None and started >= max_leads:
                return
            started += 1
            try:
                created = await _follow_up(sf, lead, key, checkpoint, country_code=country_code, due_in=due_in)
            except (ValidationError, BadRequestError) as exc:  # this lead cannot be synced: report, go on
                print(f"lead {lead.lead_id}: {exc}", file=sys.stderr)
                stats.failed += 1
                checkpoint.done[key] = None
                checkpoint.save()
                return
            if created:
                stats.created += 1
            else:
                stats.recovered += 1

    async for leads in _pages(lofty, checkpoint, page_size):
        todo: list[tuple[Lead, str]] = []
        for lead in leads:
            stats.scanned += 1
            changed_at = lead.last_update_time or lead.create_time
            if lead.lead_id is None or changed_at is None or not in_shard(lead.lead_id, shard):
                continue
            newest = changed_at if newest is None else max(newest, changed_at)
            key = f"{lead.lead_id}@{changed_at.isoformat()}"
            if (checkpoint.since is not None and changed_at <= checkpoint.since) or key in checkpoint.done:
                continue
            stats.changed += 1
            if not lead.phones:
                stats.without_phone += 1
                checkpoint.done[key] = None  # nothing to do for this change
                continue
            todo.append((lead, key))
        async with asyncio.TaskGroup() as group:  # any other error stops the run; a re-run resumes
            for lead, key in todo:
                group.create_task(handle(lead, key))
        if max_leads is not None and started >= max_leads:
            return stats  # unfinished: the next run resumes from the saved cursor
    # The pass is complete: move the watermark, keeping recent changes (clock skew) re-checkable.
    if newest is not None:
        checkpoint.since = min(newest, checkpoint.pass_started - skew)
        since = checkpoint.since

        def recent(key: str) -> bool:  # keys of older changes are covered by ``since`` (or superseded)
            return datetime.fromisoformat(key.split("@")[1]) > since

        checkpoint.done = {key: task for key, task in checkpoint.done.items() if recent(key)}
        checkpoint.pending = {key: sent for key, sent in checkpoint.pending.items() if recent(key)}
    checkpoint.pass_started = None
    checkpoint.scroll_id = None
    checkpoint.save()
    return stats


def _rate(value: str | None) -> dict[str, Any]:
    """``--superfone-rate-limit``: ``N/S`` requests per seconds, ``off``, or the SDK's default."""
    if value is None:
        return {}
    if value == "off":
        return {"rate_limit": None}
    requests, _, window = value.partition("/")
    try:
        return {"rate_limit": RateLimit(requests=float(requests), window=float(window or 1))}
    except ValueError:
        raise click.BadParameter(f"{value!r} is not N/S or off", param_hint="--superfone-rate-limit") from None


def _shard(value: str) -> tuple[int, int]:
    index, _, count = value.partition("/")
    if not (index.isdigit() and count.isdigit() and 1 <= int(index) <= int(count)):
        raise click.BadParameter(f"{value!r} is not I/N with 1 <= I <= N (e.g. 2/4)", param_hint="--shard")
    return int(index), int(count)


@contextlib.asynccontextmanager
async def _sandboxes(checkpoint: Path) -> AsyncIterator[tuple[str, str]]:
    """Lofty and Superfone emulators served in-process; their state is kept next to the checkpoint."""
    from lofty_async.testing import LoftyEmulator
    from superfone_async.testing import SuperfoneEmulator

    lofty_state = checkpoint.with_name(checkpoint.name + ".lofty-sandbox.jsonl")
    fresh = not lofty_state.exists()
    lofty = LoftyEmulator(state_path=lofty_state)
    if fresh:  # record the seeded leads, so a re-run sees the same lastUpdateTime
        for record in list(lofty.leads.values()):
            lofty.put_lead(record)
    superfone = SuperfoneEmulator(state_path=checkpoint.with_name(checkpoint.name + ".superfone-sandbox.jsonl"))
    async with lofty.serve() as lofty_url, superfone.serve() as superfone_url:
        yield lofty_url, superfone_url


async def _main(options: dict[str, Any]) -> SyncStats:
    from lofty_async.testing import SANDBOX_API_KEY as LOFTY_SANDBOX_KEY
    from superfone_async.testing import SANDBOX_API_KEY as SUPERFONE_SANDBOX_KEY

    path: Path = options["checkpoint"]
    lofty_key, sf_key = os.environ.get("LOFTY_API_KEY", ""), os.environ.get("SUPERFONE_API_KEY", "")
    lofty_url, sf_url = options["base_url"], options["superfone_url"]
    sf_options = _rate(options["superfone_rate_limit"])
    async with contextlib.AsyncExitStack() as stack:
        if options["sandbox"]:
            lofty_url, sf_url = await stack.enter_async_context(_sandboxes(path))
            lofty_key, sf_key = LOFTY_SANDBOX_KEY, SUPERFONE_SANDBOX_KEY
            sf_options.setdefault("rate_limit", None)  # the Superfone sandbox has no limit
        if not lofty_key or not sf_key:
            raise click.UsageError("set LOFTY_API_KEY and SUPERFONE_API_KEY, or pass --sandbox")
        lofty_options: dict[str, Any] = {}
        if options["redis_url"]:  # one limit for every worker naming this Redis (keyed by API and credential)
            lofty_options["limiter"] = RedisRateLimiter.from_url(options["redis_url"])
            stack.push_async_callback(lofty_options["limiter"].aclose)
            rate = sf_options.get("rate_limit")
            if rate is not None:  # Superfone documents no limit: share the bucket only when one is given
                sf_options["limiter"] = RedisRateLimiter.from_url(
                    options["redis_url"], requests=rate.requests, window=rate.window
                )
                stack.push_async_callback(sf_options["limiter"].aclose)
        lofty = await stack.enter_async_context(LoftyClient(api_key=lofty_key, base_url=lofty_url, **lofty_options))
        sf = await stack.enter_async_context(SuperfoneClient(api_key=sf_key, base_url=sf_url, **sf_options))
        return await sync_once(
            lofty,
            sf,
            Checkpoint.load(path),
            shard=options["shard"],
            page_size=options["page_size"],
            concurrency=options["concurrency"],
            max_leads=options["max_leads"],
            country_code=options["country_code"],
        )


@click.command()
@click.option("--sandbox", is_flag=True, help="Use in-process Lofty and Superfone emulators.")
@click.option("--base-url", default="https://api.lofty.com", show_default=True, help="Lofty API root.")
@click.option("--superfone-url", default=SUPERFONE_URL, show_default=True, help="Superfone API root.")
@click.option(
    "--checkpoint", type=click.Path(dir_okay=False, path_type=Path), help="[default: sync_worker[.shard-I-of-N].json]"
)
@click.option("--shard", default="1/1", show_default=True, help="I/N: only the leads of shard I of N.")
@click.option("--page-size", type=click.IntRange(1, 100), default=100, show_default=True)
@click.option("--concurrency", type=click.IntRange(1, 50), default=4, show_default=True)
@click.option("--max-leads", type=click.IntRange(1), default=None, help="Stop after this many follow-ups.")
@click.option(
    "--superfone-rate-limit", default=None, help="N/S requests per seconds, or off [default: the SDK's adaptive rate]."
)
@click.option(
    "--redis-url",
    envvar="REDIS_URL",
    default=None,
    help="Share one rate limit with every worker using this Redis (env REDIS_URL), e.g. redis://127.0.0.1:6379/0.",
)
@click.option("--country-code", default="+1", show_default=True, help="Prefix for Lofty phones without one.")
def main(**options: Any) -> None:
    """Create a Superfone follow-up task for every Lofty lead changed since the checkpoint."""
    options["shard"] = _shard(options["shard"])
    index, count = options["shard"]
    if options["checkpoint"] is None:
        options["checkpoint"] = Path("sync_worker.json" if count == 1 else f"sync_worker.shard-{index}-of-{count}.json")
    stats = asyncio.run(_main(options))
    click.echo(
        f"shard {index}/{count}: scanned {stats.scanned} leads, {stats.changed} changed, "
        f"{stats.created} follow-ups created, {stats.recovered} recovered after a crash, "
        f"{stats.without_phone} without a phone, {stats.failed} failed; checkpoint {options['checkpoint']}"
    )
    sys.exit(1 if stats.failed else 0)


if __name__ == "__main__":
    main()
