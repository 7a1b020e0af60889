"""The multi-process benchmark scenario's own arithmetic and its skip path (no timing asserted)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from benchmarks._harness import Context
from benchmarks.scenarios.multiprocess import LIMIT, WINDOW, multiprocess, rate_fraction


def test_rate_fraction_counts_whole_windows_and_leaves_out_the_tail() -> None:
    begin = 1000 * WINDOW + 0.05  # a run starting at a window's start
    full = [(begin + w * WINDOW + 0.1, 200) for w in range(3) for _ in range(LIMIT)]
    tail = [(begin + 3 * WINDOW + 0.1, 200)]
    assert rate_fraction(full + tail, begin) == 1.0
    # One request fewer in the first window: 59 of 60 over the three whole windows.
    assert rate_fraction(full[1:] + tail, begin) == pytest.approx(59 / 60)
    # 429s do not count; an idle window counts as nothing done.
    later = [(t + WINDOW if t >= begin + WINDOW else t, s) for t, s in full + tail]  # window 1 idle
    assert rate_fraction([*later, (begin + 0.2, 429)], begin) == pytest.approx(3 * LIMIT / (4 * LIMIT))
    assert rate_fraction(full[:5], begin) == 1.0  # all in one window: nothing to judge


def test_without_redis_the_scenario_says_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once closed
    monkeypatch.setenv("REDIS_URL", f"redis://:hunter2@127.0.0.1:{port}/0")
    rows = multiprocess(Context(quick=True, rounds=1, tmp=tmp_path, out=tmp_path))
    assert [row.status for row in rows] == ["skipped"]
    assert rows[0].sdk == f"skipped: no Redis at redis://:***@127.0.0.1:{port}/0"
    assert "hunter2" not in " ".join(rows[0].cells())
