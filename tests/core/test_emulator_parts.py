"""The emulators' shared parts: fault specs, the rate-limit window, the column store, the state log."""

from __future__ import annotations

import json
import os
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from crm_core.emulator import (
    SERVER_FAULTS,
    TRANSPORT_FAULTS,
    CompactStore,
    FaultKind,
    FaultPlan,
    FixedWindowRateLimit,
    StateLog,
)

# -- fault specs -------------------------------------------------------------------------------


def test_spec_names_every_new_kind_with_its_seconds() -> None:
    plan = FaultPlan.parse("late-commit=0.1@POST /v2.0/tasks,late-visible=5%,bad-id=0.02,reset-21000=0.01,late=0.75")
    kinds = [(r.kind, r.probability, r.route) for r in plan.rules]
    assert kinds == [
        (FaultKind.LATE_COMMIT, 0.1, "POST /v2.0/tasks"),
        (FaultKind.LATE_VISIBLE, 0.05, None),
        (FaultKind.BAD_ID, 0.02, None),
        (FaultKind.RESET_21000, 0.01, None),
    ]
    assert plan.late_seconds == 0.75
    assert FaultKind.LATE_COMMIT.processes and FaultKind.LATE_VISIBLE.processes and FaultKind.BAD_ID.processes
    assert not FaultKind.RESET_21000.processes


def test_all_keeps_its_meaning_server_and_every_spread_over_their_groups() -> None:
    assert {r.kind for r in FaultPlan.parse("10%").rules} == set(TRANSPORT_FAULTS)
    server = FaultPlan.parse("server=0.4").rules
    assert {r.kind for r in server} == set(SERVER_FAULTS)
    assert all(r.probability == pytest.approx(0.1) for r in server)
    assert {r.kind for r in FaultPlan.parse("every=0.16").rules} == set(FaultKind)
    assert set(TRANSPORT_FAULTS) | set(SERVER_FAULTS) == set(FaultKind)


@pytest.mark.parametrize(
    ("spec", "named"),
    [("late=-1", "late='-1'"), ("late=soon", "late='soon'"), ("slow=inf", "slow='inf'"), ("bad-id=x", "'x'")],
)
def test_spec_rejects_bad_seconds_and_probabilities_by_value(spec: str, named: str) -> None:
    with pytest.raises(ValueError, match=named):
        FaultPlan.parse(spec)


def test_bad_ids_are_drawn_from_the_plan_seeded() -> None:
    first = [FaultPlan(seed=4).bad_id() for _ in range(1)]
    plan_a, plan_b = FaultPlan(seed=4), FaultPlan(seed=4)
    draws = [plan_a.bad_id() for _ in range(30)]
    assert draws == [plan_b.bad_id() for _ in range(30)]
    assert set(draws) == {"abc", None, 12.9} and first[0] == draws[0]


# -- the rate-limit window ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"limit": 5, "window": 0}, "window 0"),
        ({"limit": 5, "window": -1.5}, "window -1.5"),
        ({"limit": 0, "window": 60}, "limit 0"),
        ({"limit": -3, "window": 60}, "limit -3"),
        ({"limit": 2.5, "window": 60}, "limit 2.5"),
        ({"limit": 5, "window": float("inf")}, "window inf"),
        ({"reset_format": "ms"}, "reset_format 'ms'"),
    ],
)
def test_window_and_limit_must_be_positive(kwargs: dict[str, Any], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        FixedWindowRateLimit(**kwargs)


def test_fixed_window_headers_follow_the_docs() -> None:
    now = [1_800_000_005.2]
    limit = FixedWindowRateLimit(limit=2, window=10, clock=lambda: now[0])
    assert limit.check("key") == (
        True,
        {"X-RateLimit-Limit": "2", "X-RateLimit-Remaining": "1", "X-RateLimit-Reset": "1800000010"},
    )
    assert limit.check("key")[1]["X-RateLimit-Remaining"] == "0"
    allowed, headers = limit.check("key")
    assert not allowed and headers["X-RateLimit-Remaining"] == "0" and "Retry-After" not in headers
    assert limit.check("other key")[0]  # per credential
    now[0] = 1_800_000_010.0  # the window reset: the refused request did not count
    assert limit.check("key") == (
        True,
        {"X-RateLimit-Limit": "2", "X-RateLimit-Remaining": "1", "X-RateLimit-Reset": "1800000020"},
    )


def test_windows_can_start_at_each_credentials_first_request() -> None:
    now = [1_800_000_005.0]
    limit = FixedWindowRateLimit(limit=1, window=10, align="first-request", clock=lambda: now[0])
    assert limit.check("a") == (
        True,
        {"X-RateLimit-Limit": "1", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1800000015"},
    )
    now[0] += 7  # past the epoch-aligned boundary, still inside a's own window
    assert not limit.check("a")[0]
    assert limit.check("b")[1]["X-RateLimit-Reset"] == "1800000022"
    now[0] += 3
    assert limit.check("a")[0]
    with pytest.raises(ValueError, match="align"):
        FixedWindowRateLimit(align="sliding")


def test_reset_header_forms() -> None:
    now = [1_800_000_005.2]
    delta = FixedWindowRateLimit(limit=2, window=10, reset_format="delta", clock=lambda: now[0])
    assert delta.check("k")[1]["X-RateLimit-Reset"] == "5"
    doc = FixedWindowRateLimit(limit=2, window=10, reset_format="21000", clock=lambda: now[0])
    assert [doc.check("k")[1]["X-RateLimit-Reset"] for _ in range(3)] == ["21000"] * 3


# -- the column store --------------------------------------------------------------------------


def _ms(value: Any) -> int:
    return round(float(value) * 1000)


def store() -> CompactStore:
    return CompactStore(
        [
            ("id", "int"),
            ("leadId", "int"),
            ("content", "text"),
            ("type", "enum"),
            ("_end", (_ms, lambda n: n / 1000)),
            ("double", lambda r: None if r["leadId"] is None else r["leadId"] * 2),
        ],
        index_on="leadId",
    )


def test_store_round_trips_what_fits_and_keeps_what_does_not() -> None:
    tasks = store()
    tasks[10] = {"id": 10, "leadId": 1, "content": "Café ☕", "type": "Call", "_end": 1.5, "extra": [1, {"a": 2}]}
    tasks[20] = {"id": 20, "leadId": 2**70, "content": 7, "type": ["list"], "_end": "soon", "double": "ignored"}
    tasks[30] = {"id": 30, "type": True}
    tasks[40] = {"id": 40, "type": 1}
    assert tasks[10] == {
        "id": 10,
        "leadId": 1,
        "content": "Café ☕",
        "type": "Call",
        "_end": 1.5,
        "double": 2,
        "extra": [1, {"a": 2}],
    }
    big = tasks[20]
    assert big["leadId"] == 2**70 and big["content"] == 7 and big["type"] == ["list"] and big["_end"] == "soon"
    assert tasks[30]["type"] is True and tasks[40]["type"] == 1 and type(tasks[40]["type"]) is int
    assert tasks[30]["content"] is None and tasks[30]["leadId"] is None
    assert len(tasks) == 4 and list(tasks) == [10, 20, 30, 40] and 20 in tasks and 25 not in tasks
    others: list[object] = ["10", True]
    assert all(other not in tasks for other in others)
    copy = tasks[10]
    copy["content"] = "changed"
    assert tasks[10]["content"] == "Café ☕"  # reads are copies


def test_store_index_deletes_and_ids_out_of_order() -> None:
    tasks = store()
    for task_id, lead in ((7, 1), (14, 2), (21, 1)):
        tasks[task_id] = {"id": task_id, "leadId": lead, "content": f"t{task_id}"}
    tasks[3] = {"id": 3, "leadId": 2, "content": "late id"}  # lower than the last: a dict index takes over
    assert [t["id"] for t in tasks.select(1)] == [7, 21]
    assert sorted(t["id"] for t in tasks.select(2)) == [3, 14]
    tasks[7] = {**tasks[7], "leadId": 2}
    assert [t["id"] for t in tasks.select(1)] == [21]
    del tasks[14]
    assert 14 not in tasks and len(tasks) == 3 and tasks.get(14) is None
    with pytest.raises(KeyError):
        del tasks[14]
    assert tasks.pop(21)["content"] == "t21"
    tasks[14] = {"id": 14, "leadId": 1}
    assert [t["id"] for t in tasks.select(1)] == [14]
    assert sorted(tasks) == [3, 7, 14] and [t["id"] for t in tasks.records()] == list(tasks)
    assert {t["id"] for t in tasks.values()} == {3, 7, 14}
    tasks.clear()
    assert len(tasks) == 0 and list(tasks) == [] and tasks.select(1) == [] and 3 not in tasks
    tasks[30] = {"id": 30, "leadId": 1, "content": "after"}
    tasks[2] = {"id": 2, "leadId": 1, "content": "before"}
    assert [t["content"] for t in tasks.select(1)] == ["after", "before"] and sorted(tasks) == [2, 30]


def test_store_enum_grows_past_two_bytes() -> None:
    tasks = CompactStore([("id", "int"), ("name", "enum")])
    for i in range(70_000):
        tasks[i] = {"id": i, "name": f"n{i}"}
    assert tasks[0]["name"] == "n0" and tasks[69_999]["name"] == "n69999" and tasks[65_536]["name"] == "n65536"


def test_store_groups_widens_and_leaves_unused_columns_empty() -> None:
    tasks = CompactStore(
        [
            ("id", "int"),
            ("lead", "enum:lead"),
            ("leadName", "enum:lead"),
            ("type", "enum:kind"),
            ("done", "enum:kind"),
            ("content", "text"),
            ("address", "text"),
            ("count", "int"),
            ("start", "int"),
        ],
        index_on="lead",
    )
    for i in range(300):
        tasks[i] = {"id": i, "lead": i % 3, "leadName": f"L{i % 3}", "type": "Call", "done": False, "content": "same"}
    # Per row: id 2 bytes, the two groups' codes 1 each, text start 2, length 1 and bytes 4, alive 1,
    # index 4; the unused columns (address, count, start) nothing.
    assert tasks.nbytes() == 300 * 16
    tasks[0] = {**tasks[0], "done": True, "count": 2**40, "tags": ["x"]}  # a new combination; an 8-byte int
    tasks[1] = {**tasks[1], "done": 1, "leadName": {"un": "hashable"}}  # 1 is not True; a dict goes aside
    tasks[2] = {**tasks[2], "count": -1, "address": "Main St 1"}
    first, second, third = tasks[0], tasks[1], tasks[2]
    assert first["done"] is True and first["count"] == 2**40 and first["tags"] == ["x"] and first["content"] == "same"
    assert second["done"] == 1 and type(second["done"]) is int and second["leadName"] == {"un": "hashable"}
    assert second["lead"] == 1 and third["count"] == -1 and third["address"] == "Main St 1"
    assert tasks[3] == {
        "id": 3,
        "lead": 0,
        "leadName": "L0",
        "type": "Call",
        "done": False,
        "content": "same",
        "address": None,
        "count": None,
        "start": None,
    }
    assert [t["id"] for t in tasks.select(1)][:3] == [4, 7, 10] and 1 in [t["id"] for t in tasks.select(1)]
    assert len(tasks._blob) == 300 * len("same") + len("Main St 1")  # rewriting the same text reuses its bytes
    tasks[1] = {"id": 1}  # every group field missing: reads back None
    assert tasks[1]["lead"] is None and tasks[1]["type"] is None and "leadName" in tasks[1]


def test_store_refuses_unknown_kinds_and_bad_keys() -> None:
    with pytest.raises(ValueError, match="unknown kind"):
        CompactStore([("id", "int"), ("x", "float")])
    with pytest.raises(ValueError, match="'id'"):
        CompactStore([("x", "int")])
    with pytest.raises(TypeError, match="64-bit"):
        store()["1"] = {}  # type: ignore[index]


def test_store_costs_a_fraction_of_dicts() -> None:
    rows = 20_000

    def record(i: int) -> dict[str, Any]:
        return {"id": 10**15 + i, "leadId": 563_172_647_619_608, "content": f"Call back {i}", "type": "Call"}

    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    as_dicts = {r["id"]: r for r in map(record, range(rows))}
    dict_bytes = tracemalloc.get_traced_memory()[0] - before
    del as_dicts
    before = tracemalloc.get_traced_memory()[0]
    tasks = store()
    for i in range(rows):
        tasks[10**15 + i] = record(i)
    store_bytes = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert len(tasks) == rows
    assert store_bytes / rows < 60 < 5 * 60 < dict_bytes / rows  # about 48 against 310


# -- the state log -----------------------------------------------------------------------------


def test_state_log_writes_every_line_and_fsyncs_in_batches(tmp_path: Path) -> None:
    path = tmp_path / "state.jsonl"
    now = [0.0]
    log = StateLog(path, fsync_every=3, fsync_interval=10.0, clock=lambda: now[0])
    for i in range(7):
        log.append("put", {"id": i})
    # Every line reached the OS at once (a killed process loses none) ...
    assert len(path.read_text().splitlines()) == 7
    assert log.fsyncs == 2  # ... while fsync ran once per 3 lines
    log.sync()
    assert log.fsyncs == 2  # the interval has not passed
    now[0] = 11.0
    log.sync()
    assert log.fsyncs == 3
    log.append("put", {"id": 7})
    log.close()
    log.close()
    assert log.fsyncs == 4  # close fsyncs what is pending
    assert [r["id"] for _, r in StateLog(path).replay()] == list(range(8))


def test_state_log_interval_fsyncs_a_slow_trickle(tmp_path: Path) -> None:
    now = [0.0]
    log = StateLog(tmp_path / "s.jsonl", fsync_every=1000, fsync_interval=1.0, clock=lambda: now[0])
    log.append("put", {"id": 1})
    now[0] = 2.0
    log.append("put", {"id": 2})
    assert log.fsyncs == 1
    log.close()


def test_state_log_survives_a_torn_line(tmp_path: Path) -> None:
    path = tmp_path / "state.jsonl"
    path.write_text(json.dumps({"op": "put", "record": {"id": 1}}) + "\n" + '{"op": "put", "rec')
    log = StateLog(path)
    log.append("put", {"id": 2})
    log.close()
    assert [r["id"] for _, r in StateLog(path).replay()] == [1, 2]
    assert path.read_text().count("\n") == 3


def test_state_log_options_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="fsync_every 0"):
        StateLog(tmp_path / "x", fsync_every=0)
    with pytest.raises(ValueError, match="fsync_interval -1"):
        StateLog(tmp_path / "x", fsync_interval=-1)
    assert not os.path.exists(tmp_path / "x")
