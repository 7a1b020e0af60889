"""``tasks import FILE --shard I/N``: N workers split one file by a stable hash of the lead ID."""

from __future__ import annotations

import csv
import shutil
import sqlite3
import zlib
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from crm_core._importjob import Shard
from crm_core.emulator import ThreadedServer
from superfone_async._cli import main
from superfone_async.testing import SANDBOX_API_KEY, SuperfoneEmulator

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
FAST = ("--no-progress", "--rate-limit", "off")


def test_a_row_belongs_to_one_shard_by_crc32_of_the_decimal_lead_id() -> None:
    shards = [Shard(index=i, count=3) for i in (1, 2, 3)]
    for lead in (12345, 12356, 563172647619608, 7):
        owners = [s.index for s in shards if s.holds(lead)]
        assert owners == [zlib.crc32(str(lead).encode()) % 3 + 1]
        assert [s.index for s in shards if s.holds(f" {lead} ")] == owners  # text or int: same shard
        assert [s.index for s in shards if s.holds(f"+{lead}")] == [1]  # not a usable lead ID: shard 1 reports it
    assert [s.index for s in shards if s.holds(None)] == [1]  # no usable lead: shard 1 reports it
    assert str(shards[1]) == "2/3" and shards[1].tag == "shard-2-of-3"


def test_three_shards_import_every_row_exactly_once_in_file_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "superfone_tasks.csv"
    shutil.copy(EXAMPLES / "superfone_tasks.csv", source)
    with source.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    monkeypatch.setenv("SUPERFONE_API_KEY", SANDBOX_API_KEY)
    emulator = SuperfoneEmulator()
    counts = []
    with ThreadedServer(emulator.app) as server:
        port = server.url.rsplit(":", 1)[1]
        for index in (1, 2, 3):
            run = CliRunner().invoke(
                main,
                ["tasks", "import", str(source), "--base-url", server.url, "--shard", f"{index}/3", *FAST],
            )
            assert run.exit_code == 0, run.output
            assert run.output.startswith(f"Shard {index}/3: ")
            counts.append(int(run.output.split(": ", 1)[1].split(" rows", 1)[0]))
            journal = tmp_path / f"superfone_tasks.csv.shard-{index}-of-3.127.0.0.1_{port}.journal.sqlite"
            with sqlite3.connect(journal) as db:
                assert db.execute("SELECT COUNT(*) FROM rows WHERE state = 'created'").fetchone()[0] == counts[-1]
        again = CliRunner().invoke(
            main, ["tasks", "import", str(source), "--base-url", server.url, "--shard", "2/3", "--rate-limit", "off"]
        )
        assert again.exit_code == 0 and f"{counts[1]} already created by an earlier run" in again.output
        # Another layout has journals of its own: it would create every row again, so it is refused.
        posts = emulator.core.count("POST", "/enterprise/api/lead/*/task")
        for layout in ([], ["--shard", "1/2"]):
            other = CliRunner().invoke(main, ["tasks", "import", str(source), "--base-url", server.url, *layout, *FAST])
            assert other.exit_code == 2 and "another --shard layout" in other.output, other.output
            assert "shard-1-of-3" in other.output
        assert emulator.core.count("POST", "/enterprise/api/lead/*/task") == posts
    assert sum(counts) == len(rows) and all(counts)
    have = Counter((t["customer_id"], t["type"], t["due_date"][:16]) for t in emulator.tasks.values())
    assert sum(have.values()) == len(rows) == emulator.core.count("POST", "/enterprise/api/lead/*/task")
    # Each lead lives in exactly one shard's results, so its rows kept file order.
    leads_by_shard = []
    for index in (1, 2, 3):
        with (tmp_path / f"superfone_tasks.csv.shard-{index}-of-3.results.csv").open(encoding="utf-8") as handle:
            numbers = [int(r["row"]) for r in csv.DictReader(handle)]
        leads_by_shard.append({rows[n - 1]["lead_id"] for n in numbers})
    assert not (leads_by_shard[0] & leads_by_shard[1] or leads_by_shard[1] & leads_by_shard[2])
    for lead in {int(r["lead_id"]) for r in rows}:
        wanted = [r["type"] for r in rows if int(r["lead_id"]) == lead]
        assert [t["type"] for t in emulator.lead_tasks(lead)] == wanted


def test_shards_share_one_limit_through_redis_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.redis_fixtures import own_server

    redis_server = own_server(password="s3cret-redis-pw")
    try:
        source = tmp_path / "superfone_tasks.csv"
        shutil.copy(EXAMPLES / "superfone_tasks.csv", source)
        monkeypatch.setenv("SUPERFONE_API_KEY", SANDBOX_API_KEY)
        monkeypatch.setenv("REDIS_URL", redis_server.url)  # --redis-url's environment variable
        emulator = SuperfoneEmulator()
        with ThreadedServer(emulator.app) as server:
            for index in (1, 2):
                run = CliRunner().invoke(
                    main, ["tasks", "import", str(source), "--base-url", server.url, "--shard", f"{index}/2", *FAST]
                )
                assert run.exit_code == 0, run.output
                assert "s3cret-redis-pw" not in run.output
        assert len(emulator.tasks) == emulator.core.count("POST", "/enterprise/api/lead/*/task") == 320
        import redis

        client = redis.Redis.from_url(redis_server.url)
        try:
            assert client.dbsize() > 0  # the limiter kept its shared state there
        finally:
            client.close()
        bad = CliRunner().invoke(
            main, ["tasks", "import", str(source), "--sandbox", "--redis-url", "http://:s3cret-redis-pw@x/"]
        )
        assert bad.exit_code == 2 and "--redis-url" in bad.output and "s3cret-redis-pw" not in bad.output
    finally:
        redis_server.stop()
