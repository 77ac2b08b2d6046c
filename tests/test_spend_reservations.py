"""Budget reservations are rows per request: a killed run's are given back by the run that retries it,
and a request in flight over midnight gives back what it reserved on its own day, not today's."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from decimal import Decimal

import pytest
import sqlalchemy as sa

from pipeline.column_batch.runner import OperationRunner
from pipeline.db import column_batch as store
from pipeline.db import spend
from pipeline.definitions import defs
from pipeline.settings import get_settings
from tests.column_batch_helpers import descriptions, menu_without_descriptions, queue_new

_RUN_OPERATION = """
import sys
import dagster as dg
from pipeline.definitions import defs
from tests.column_batch_helpers import COLUMN_BATCH_DEFS
with dg.instance_for_test() as inst:
    inst.add_dynamic_partitions("column_batch_operations", [sys.argv[1]])
    dg.materialize(COLUMN_BATCH_DEFS, partition_key=sys.argv[1], instance=inst, resources=defs.resources)
"""

_CAPS = (Decimal(100), Decimal(100), Decimal(100))


def _reserved(engine: sa.Engine) -> tuple[Decimal, Decimal, int]:
    """(the operations' reserved total, the counters' reserved total, reservation rows)."""
    with engine.connect() as conn:
        return (
            conn.execute(
                sa.text("SELECT coalesce(sum(reserved_usd), 0) FROM column_batch_operations")
            ).scalar_one(),
            conn.execute(sa.text("SELECT coalesce(sum(reserved_usd), 0) FROM spend_counters")).scalar_one(),
            conn.execute(sa.text("SELECT count(*) FROM spend_reservations")).scalar_one(),
        )


def test_a_retry_of_a_run_killed_mid_request_gives_back_its_reservation_and_finishes(engine, standin):
    menu_without_descriptions(engine, 6)
    op_id = queue_new(engine, batch_size=2, rows_per_request=2, max_concurrent_batches=1)
    standin.latency = 10  # the first request is still in flight when its run is killed
    proc = subprocess.Popen([sys.executable, "-c", _RUN_OPERATION, str(op_id)])
    deadline = time.monotonic() + 60
    while standin.count("/chat/completions") < 1:
        assert proc.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    held_by_killed_run = _reserved(engine)
    assert held_by_killed_run[0] > 0 and held_by_killed_run[2] == 1

    standin.latency = 0
    with engine.connect() as conn:
        op = store.load_operation(conn, op_id)
        killed_run = store.state_and_run(conn, op_id)[1]
    assert killed_run is not None
    chat = defs.resources["openai"].chat_service()
    limits = get_settings().safety_limits()
    summary = OperationRunner(engine, chat, op, limits, "retry-run", retried_run_id=killed_run).run()

    assert summary.final_state == "completed" and all(descriptions(engine).values())
    assert _reserved(engine) == (0, 0, 0)  # the caps are whole again
    with engine.connect() as conn:
        spent = conn.execute(sa.text("SELECT spent_usd FROM column_batch_operations")).scalar_one()
        counted = conn.execute(
            sa.text("SELECT spent_usd FROM spend_counters WHERE scope = 'global'")
        ).scalar_one()
    assert spent > 0 and counted == spent


def test_a_request_settled_after_midnight_leaves_todays_reservations_in_place(engine):
    menu_without_descriptions(engine, 2)
    op_id = queue_new(engine)
    with engine.begin() as conn:
        late = spend.reserve(conn, op_id, "run", "alice", Decimal("0.25"), *_CAPS)
        # As if reserved yesterday: the request was still in flight at midnight.
        conn.execute(sa.text("UPDATE spend_reservations SET day = current_date - 1"))
        conn.execute(sa.text("UPDATE spend_counters SET day = current_date - 1"))
    with engine.begin() as conn:
        spend.reserve(conn, op_id, "run", "alice", Decimal("0.40"), *_CAPS)
        spend.settle(conn, op_id, "alice", late, Decimal("0.10"))
    with engine.connect() as conn:
        counters = {
            (scope, int(days_ago)): (spent, reserved)
            for scope, days_ago, spent, reserved in conn.execute(
                sa.text("SELECT scope, current_date - day, spent_usd, reserved_usd FROM spend_counters")
            )
        }
    assert counters[("user:alice", 1)] == (0, 0)
    assert counters[("user:alice", 0)] == (Decimal("0.10"), Decimal("0.40"))
    assert counters[("global", 0)] == (Decimal("0.10"), Decimal("0.40"))
    # Today's 0.40 still counts: alice's 0.50 daily cap is full.
    with engine.begin() as conn, pytest.raises(spend.BudgetExceededError, match="user alice daily"):
        spend.reserve(
            conn, op_id, "run", "alice", Decimal("0.01"), Decimal(100), Decimal("0.50"), Decimal(100)
        )


def test_reservations_made_before_they_had_rows_are_given_back_for_a_dead_run(engine):
    menu_without_descriptions(engine, 2)
    op_id = queue_new(engine)
    with engine.begin() as conn:
        spend.reserve(conn, op_id, "run", "alice", Decimal("0.25"), *_CAPS)
        conn.execute(sa.text("DELETE FROM spend_reservations"))  # as reserved before migration 0020
        released = spend.release_reservations(conn, op_id, "alice")
    assert released == Decimal("0.25") and _reserved(engine) == (0, 0, 0)


def test_concurrent_reservers_and_settlers_never_deadlock_and_account_every_cent(engine):
    """Batches of one operation, and other operations, reserve and settle side by side: the two must take
    their locks in one order, or PostgreSQL aborts one with 'deadlock detected' and a paid answer is lost."""
    menu_without_descriptions(engine, 2)
    ops = [queue_new(engine), queue_new(engine)]
    errors: list[BaseException] = []

    def worker(op_id: int, run: str) -> None:
        try:
            for _ in range(60):
                with engine.begin() as conn:
                    held = spend.reserve(conn, op_id, run, "alice", Decimal("0.002"), *_CAPS)
                with engine.begin() as conn:
                    spend.settle(conn, op_id, "alice", held, Decimal("0.001"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(ops[i % 2], f"run-{i}")) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert _reserved(engine) == (0, 0, 0)
    with engine.connect() as conn:
        spent = conn.execute(
            sa.text("SELECT spent_usd FROM spend_counters WHERE scope = 'global'")
        ).scalar_one()
    assert spent == Decimal("0.240")  # 4 workers x 60 requests x $0.001
