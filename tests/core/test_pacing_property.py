"""Property: the pure limiter rules, driven by a simulated fixed-window server, never collect
more than one window's worth of 429s, whatever the calling pattern, window and latencies.

A discrete-event simulation in fake time: ``callers`` requests all want to leave at once (a
``gather``), each asks :func:`reserve_detail` for a permit (a store that cannot notify waiters
polls; this is the Redis limiter's situation), travels to the server with a random latency,
is counted in the server's window, and its answer (200 or 429, with ``X-RateLimit-*`` headers
as Lofty documents them) is folded back with :func:`observe_response`. Whatever the pattern:
every call succeeds with at most ``limit`` 429s, and, when a round trip is small next to the
window, within 1.15x the ideal time plus one window.
"""

from __future__ import annotations

import heapq
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from crm_core import LimiterState, observe_response, reserve_detail
from crm_core._ratelimit import PROBE_RECHECK

START = 1_800_000_000.0


@settings(max_examples=60, deadline=None)
@given(
    callers=st.integers(1, 150),
    limit=st.integers(1, 30),
    window=st.sampled_from([1.0, 2.0, 5.0]),
    offset=st.floats(0.0, 4.99),
    latencies=st.lists(st.floats(0.001, 0.3), min_size=8, max_size=8),
)
def test_a_gather_against_a_fixed_window_sees_at_most_one_window_of_429s(
    callers: int, limit: int, window: float, offset: float, latencies: list[float]
) -> None:
    state = LimiterState(rate=None, capacity=1.0, tokens=1.0, refilled_at=START)
    counts: dict[float, int] = {}
    events: list[tuple[float, int, str, int, int, float]] = []  # (time, seq, kind, caller, status, window)
    seq = 0

    def push(at: float, kind: str, caller: int, status: int = 0, counted_in: float = 0.0) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(events, (at, seq, kind, caller, status, counted_in))

    now0 = START + offset
    for caller in range(callers):
        push(now0, "try", caller)
    throttled = 0
    done = 0
    finished_at = now0
    while events:
        now, _, kind, caller, status, counted_in = heapq.heappop(events)
        latency = latencies[(caller + seq) % len(latencies)]
        if kind == "try":
            wait, why = reserve_detail(state, now)
            if wait <= 0:
                push(now + latency, "arrive", caller)
            else:
                push(now + (min(wait, PROBE_RECHECK) if why == "probe" else wait), "try", caller)
        elif kind == "arrive":
            start = math.floor(now / window) * window
            used = counts.get(start, 0)
            ok = used < limit
            counts[start] = used + 1 if ok else used
            push(now + latency, "answer", caller, 200 if ok else 429, start)
        else:
            headers = {
                "X-RateLimit-Limit": str(limit),
                "X-RateLimit-Remaining": str(max(0, limit - counts.get(counted_in, 0))),
                "X-RateLimit-Reset": str(math.ceil(counted_in + window)),
            }
            observe_response(
                state, status=status, headers=headers, now=now, latency=latency, aimd=None, fallback_pause=1.0
            )
            if status == 429:
                throttled += 1
                push(now, "try", caller)  # paced: try again (the limiter holds it back)
            else:
                done += 1
                finished_at = now
    assert done == callers
    assert throttled <= limit
    ideal = callers / limit * window
    if 2 * max(latencies) <= window / 10:
        # Each window costs the clock-skew margin and one probe round trip, so the time target
        # holds when a round trip is small next to the window (Lofty: ~0.3 s against 60 s).
        assert finished_at - now0 <= 1.15 * ideal + window
