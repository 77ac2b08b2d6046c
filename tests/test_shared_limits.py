"""The RPM/TPM budget and the concurrency limit are shared by separate processes through PostgreSQL."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time

import sqlalchemy as sa

_WORKER = """
import json, sys, time
from pipeline.db.engine import get_engine
from pipeline.llm.limiter import SharedLimiter
limiter = SharedLimiter(get_engine(), "test", rpm=10_000, tpm=60_000, max_concurrency=1)
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))  # start together, after process start-up
spans = []
for _ in range(3):
    with limiter.slot(tokens=int(sys.argv[1])):
        start = time.time()
        time.sleep(0.15)
        spans.append((start, time.time()))
print(json.dumps(spans))
"""


def _run_workers(n: int, tokens: int, start_at: float = 0.0, before_start=None) -> list[tuple[float, float]]:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, str(tokens), str(start_at)],
            stdout=subprocess.PIPE,
            env=os.environ.copy(),
        )
        for _ in range(n)
    ]
    if before_start is not None:
        time.sleep(max(0.0, start_at - time.time()))
        before_start()
    spans = []
    for p in procs:
        out, _ = p.communicate(timeout=120)
        assert p.returncode == 0
        spans.extend(tuple(s) for s in json.loads(out))
    return sorted(spans)


def test_two_processes_share_one_concurrency_slot(engine):
    spans = _run_workers(2, tokens=1)
    assert len(spans) == 6
    assert all(prev[1] <= nxt[0] + 0.01 for prev, nxt in itertools.pairwise(spans)), "requests overlapped"


def test_two_processes_share_one_token_budget(engine):
    from pipeline.db.rate_limits import configure_bucket

    configure_bucket(engine, "test", 10_000, 60_000)

    def empty_bucket() -> None:  # every token must now be earned at 1,000 tokens/s
        with engine.begin() as conn:
            conn.execute(
                sa.text("UPDATE api_rate_limits SET tokens_available = 0, refreshed_at = clock_timestamp()")
            )

    start_at = time.time() + 5
    spans = _run_workers(2, tokens=500, start_at=start_at, before_start=empty_bucket)
    elapsed = spans[-1][0] - start_at
    # 6 requests x 500 tokens = 3,000 tokens: 3 s at the shared rate; two private buckets would take 1.5 s.
    assert elapsed >= 2.7, f"6 x 500 tokens at 1,000 tokens/s took only {elapsed:.2f}s"


def test_a_429_pauses_every_process(engine):
    from pipeline.llm.limiter import SharedLimiter

    limiter = SharedLimiter(engine, "test", rpm=10_000, tpm=1_000_000, max_concurrency=2)
    limiter.pause_all(1.5)
    spans = _run_workers(1, tokens=1)
    with engine.connect() as conn:
        blocked_until = conn.execute(
            sa.text("SELECT extract(epoch FROM blocked_until) FROM api_rate_limits")
        ).scalar()
    assert spans[0][0] >= float(blocked_until) - 0.05


def test_a_call_holds_exactly_one_slot_and_frees_it(engine):
    """Slots are taken lowest free first, one lock per call, and released when the call ends."""
    from pipeline.llm.limiter import _SLOT_LOCK_CLASS, SharedLimiter

    limiter = SharedLimiter(engine, "test", rpm=10_000, tpm=60_000, max_concurrency=4)

    def held() -> list[int]:
        with engine.connect() as conn:
            return sorted(
                conn.execute(
                    sa.text(
                        "SELECT objid::int FROM pg_locks WHERE locktype = 'advisory' AND classid = :c"
                        " AND granted"
                    ),
                    {"c": _SLOT_LOCK_CLASS},
                ).scalars()
            )

    with limiter.slot(tokens=1):
        assert held() == [0]
        with limiter.slot(tokens=1), limiter.slot(tokens=1):
            assert held() == [0, 1, 2]
        assert held() == [0]
    assert held() == []
