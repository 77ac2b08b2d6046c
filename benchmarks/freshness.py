"""Freshness: seconds from a committed edit of a menu item to its new vector in content_embeddings, with
Dagster running as scripts/start.sh runs it (`dagster dev -w workspace.yaml`, a copy of
dagster_home/dagster.yaml with PostgreSQL storage in a database next to the benchmark's), stand-in at 0 ms.

After the initial sync, --changes edits (on average one every --interval s, each gap drawn from 0.5-1.5x so
commits do not phase-lock with the sensor daemon's 5 s loop; round-robin over the businesses; a new unique
description each) are committed and polled for (content_hash = sha256(embedding_text(m))).
Figures: p50/p95, timeouts, Dagster's runs, time per phase, and the settings freshness depends on.

    .venv/bin/python -m benchmarks.freshness [--changes 50] [--interval 2] [--businesses 20] [--rows 200]
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from benchmarks import _common as c
from pipeline.lib.process_group import free_port, stop_group

ROOT = c.ROOT
PHASES = ("sensor", "submit", "queue", "spawn", "load", "in_run", "after_vector")


@dataclass
class Change:
    item_id: int
    business_id: int
    expected_hash: str
    committed: float  # epoch seconds, comparable with Dagster's run timestamps
    visible: float | None = None


@contextlib.contextmanager
def dagster_dev(home: Path, pg_url: str, port: int | None = None) -> Iterator[subprocess.Popen[bytes]]:
    if port is None:
        port = free_port()
    env = {**os.environ, "DAGSTER_HOME": str(home), "DAGSTER_PG_URL": pg_url, "PYTHONUNBUFFERED": "1"}
    command = [str(ROOT / ".venv/bin/dagster"), "dev", "-w", "workspace.yaml"]
    command += ["-h", "127.0.0.1", "-p", str(port)]
    proc = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # SIGTERM still runs `finally`
    try:
        yield proc
    finally:
        stop_group(proc)
        signal.signal(signal.SIGTERM, previous)


def in_flight_runs(instance: Any) -> int:
    from dagster._core.storage.dagster_run import NOT_FINISHED_STATUSES, RunsFilter

    return instance.get_runs_count(RunsFilter(statuses=list(NOT_FINISHED_STATUSES)))


def wait_initial_sync(engine: sa.Engine, instance: Any, proc: Any, rows: int, timeout: float) -> float:
    started = time.monotonic()
    sql = "SELECT count(DISTINCT content_id) FROM content_embeddings WHERE content_type = 'menu_item'"
    while time.monotonic() - started < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"dagster dev exited with code {proc.returncode}")
        with engine.connect() as conn:
            if conn.execute(sa.text(sql)).scalar_one() == rows and in_flight_runs(instance) == 0:
                return time.monotonic() - started
        time.sleep(1)
    raise RuntimeError(f"initial sync of {rows} rows not finished within {timeout:g} s")


def pick_items(engine: sa.Engine, count: int, rng: random.Random) -> list[int]:
    """`count` distinct rows, round-robin over the businesses (in a random order)."""
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(sa.text("SELECT id, business_id FROM menu_items ORDER BY id"))]
    rng.shuffle(rows)
    turn = {b: rng.random() for _, b in rows}
    nth: dict[int, int] = {}
    ranked: list[tuple[int, float, int]] = []
    for item, b in rows:  # every business's k-th edit before any business's (k+1)-th
        nth[b] = nth.get(b, 0) + 1
        ranked.append((nth[b], turn[b], item))
    return [item for _, _, item in sorted(ranked)[:count]]


def commit_change(engine: sa.Engine, item_id: int, n: int) -> Change:
    text = f"Freshness probe {n} ({uuid.uuid4().hex[:12]}): charred leeks, hazelnut butter, sorrel."
    with engine.begin() as conn:
        business_id, expected = conn.execute(
            sa.text(
                "UPDATE menu_items m SET description = :d WHERE id = :id"
                " RETURNING business_id, encode(sha256(convert_to(embedding_text(m), 'UTF8')), 'hex')"
            ),
            {"d": text, "id": item_id},
        ).one()
    return Change(item_id, business_id, expected, time.time())


def measure(
    engine: sa.Engine, items: list[int], args: argparse.Namespace, rng: random.Random
) -> list[Change]:
    """Commit a change every ~args.interval s; poll every args.poll s until each is visible or timed out."""
    done: list[Change] = []
    pending: dict[int, Change] = {}
    poll = sa.text(
        "SELECT content_id, content_hash FROM content_embeddings"
        " WHERE content_type = 'menu_item' AND content_id = ANY(:ids)"
    )
    next_at, i = time.time(), 0
    while i < len(items) or pending:
        if i < len(items) and time.time() >= next_at:
            pending[items[i]] = commit_change(engine, items[i], i)
            i, next_at = i + 1, next_at + args.interval * rng.uniform(0.5, 1.5)
        if pending:
            with engine.connect() as conn:
                found = set(conn.execute(poll, {"ids": list(pending)}).tuples())
            now = time.time()
            for item, change in list(pending.items()):
                if (item, change.expected_hash) in found:
                    change.visible = now
                if change.visible or now - change.committed > args.timeout:
                    done.append(pending.pop(item))
        time.sleep(max(args.poll if i >= len(items) else min(args.poll, next_at - time.time()), 0.0))
    return done


def run_phases(instance: Any, changes: list[Change], since: float) -> dict[str, Any]:
    """Per change, the last run covering its business started before the vector appeared, split at its Dagster
    events (no RUN_DEQUEUED is written; RUN_STARTING is, when the coordinator takes the run off the queue)."""
    from dagster import DagsterEventType
    from dagster._core.storage.dagster_run import RunsFilter

    from pipeline.tags import RANGE_END_TAG, RANGE_START_TAG, WORKLOAD_TAG

    order = list(instance.get_dynamic_partitions("businesses"))

    def covered(tags: dict[str, str]) -> set[str]:  # one partition, or a ranged (bulk) run's span
        if "dagster/partition" in tags:
            return {tags["dagster/partition"]}
        if tags.get(RANGE_START_TAG) in order and tags.get(RANGE_END_TAG) in order:
            return set(order[order.index(tags[RANGE_START_TAG]) : order.index(tags[RANGE_END_TAG]) + 1])
        return set()

    runs: list[tuple[set[str], str, tuple[Any, ...]]] = []
    for rec in instance.get_run_records(RunsFilter(created_after=datetime.fromtimestamp(since, UTC))):
        run = rec.dagster_run
        logs = instance.all_logs(run.run_id)
        enqueued, starting, spawned = (
            min((e.timestamp for e in logs if match(e)), default=None)
            for match in (
                lambda e: e.dagster_event_type == DagsterEventType.RUN_ENQUEUED,
                lambda e: e.dagster_event_type == DagsterEventType.RUN_STARTING,
                lambda e: (e.message or "").startswith("Started process for run"),
            )
        )
        marks = (rec.create_timestamp.timestamp(), enqueued, starting, spawned, rec.start_time, rec.end_time)
        runs.append((covered(run.tags), run.tags.get(WORKLOAD_TAG, run.job_name), marks))
    phases: dict[str, list[float]] = {k: [] for k in PHASES}
    for ch in changes:
        key = str(ch.business_id)
        mine = [m for keys, _, m in runs if key in keys and None not in m[:5] and m[4] <= (ch.visible or 0)]
        if mine:
            *marks, ended = max(mine, key=lambda m: m[4])
            # A run queued before the commit can carry the change too: clamp so the phases add up.
            points = (
                *itertools.accumulate((ch.committed, *marks, ch.visible), max),
                ended,
            )
            for phase, (a, b) in zip(PHASES, itertools.pairwise(points), strict=True):
                if b is not None:  # a run still going has no end yet
                    phases[phase].append(b - a)
    dequeues = sorted(m[2] for _, _, m in runs if m[2] is not None)
    workloads = [w for _, w, _ in runs]
    return {
        "runs_created": len(runs),
        "runs_by_workload": {w: workloads.count(w) for w in sorted(set(workloads))},
        "changes_attributed_to_a_run": len(phases["sensor"]),
        "seconds_by_phase": {
            k: {"p50": c.r(c.median(v), 3), "p95": c.r(c.percentile(v, 95), 3)} for k, v in phases.items()
        },
        "seconds_between_dequeues_p50": c.r(c.median([b - a for a, b in itertools.pairwise(dequeues)]), 3),
    }


def settings_in_effect(instance: Any) -> dict[str, Any]:
    """The values in effect: the code location's sensor, the instance built from the copied dagster.yaml."""
    from dagster._daemon import sensor as sensor_daemon

    from pipeline.definitions import defs
    from pipeline.settings import get_settings

    sensor = defs.get_sensor_def("content_change_sensor")
    queue, concurrency = instance.run_coordinator, instance.get_concurrency_config()
    return {
        "SENSOR_INTERVAL_SECONDS": get_settings().sensor_interval_seconds,
        "sensor_minimum_interval_seconds": sensor.minimum_interval_seconds,
        "sensor_daemon_loop_seconds": sensor_daemon.MIN_INTERVAL_LOOP_TIME,  # hard-coded in Dagster
        "sensors": instance.get_settings("sensors"),
        "SENSOR_BULK_THRESHOLD": get_settings().sensor_bulk_threshold,
        "SENSOR_HOLD_SECONDS": get_settings().sensor_hold_seconds,
        "run_coordinator": type(queue).__name__,
        "dequeue_interval_seconds": queue.dequeue_interval_seconds,
        "dequeue_use_threads": queue.dequeue_use_threads,
        "max_concurrent_runs": concurrency.run_queue_config.max_concurrent_runs,
        "block_op_concurrency_limited_runs": queue.should_block_op_concurrency_limited_runs,
        "openai_pool_limit": concurrency.pool_config.default_pool_limit,
        "run_launcher": type(instance.run_launcher).__name__,
        "executor": defs.executor.name if defs.executor else None,
    }


def bench(args: argparse.Namespace) -> dict[str, Any]:
    from dagster import DagsterInstance

    home = Path(tempfile.mkdtemp(prefix="bench-dagster-home-"))
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    try:
        with c.bench_database() as engine, c.standin(), c.dagster_storage(engine) as pg_url:
            c.add_menu_items(engine, c.add_businesses(engine, args.businesses, "fresh"), args.rows, args.seed)
            c.set_env(DAGSTER_PG_URL=pg_url)
            with dagster_dev(home, pg_url) as proc, DagsterInstance.from_config(str(home)) as instance:
                initial = wait_initial_sync(engine, instance, proc, args.rows, args.initial_timeout)
                runs_before, since = instance.get_runs_count(), time.time()
                rng = random.Random(args.seed)
                changes = measure(engine, pick_items(engine, args.changes, rng), args, rng)
                backlog = in_flight_runs(instance)
                attribution = run_phases(instance, changes, since)
                effective = settings_in_effect(instance)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    seen = [ch.visible - ch.committed for ch in changes if ch.visible is not None]
    timeouts = len(changes) - len(seen)
    # A timed-out change counts as infinitely late: it can only push the percentiles up (null if one is).
    p50, p95 = (c.percentile(seen + [math.inf] * timeouts, p) for p in (50, 95))
    p50, p95 = (c.r(v, 3) if math.isfinite(v) else None for v in (p50, p95))
    figures = {
        "changes": len(changes),
        "visible": len(seen),
        "timeouts": timeouts,
        "p50_seconds": p50,
        "p95_seconds": p95,
        "min_seconds": c.r(min(seen, default=None), 3),
        "max_seconds": c.r(max(seen, default=None), 3),
        "mean_seconds": c.r(sum(seen) / len(seen), 3) if seen else None,
        "initial_sync_seconds_incl_startup": c.r(initial, 1),
        "runs_during_initial_sync": runs_before,
        "runs_queued_or_running_at_end": backlog,
        **attribution,
    }
    return c.result(
        "freshness",
        dict(vars(args)),
        figures,
        {"depends_on": effective, "poll_seconds": args.poll, "timeout_seconds": args.timeout},
        [c.check("freshness p50 seconds", p50, "<=", 10), c.check("freshness p95 seconds", p95, "<=", 20)],
        notes=[
            "phases: sensor = commit -> run created; submit = created -> RUN_ENQUEUED; queue = enqueued ->"
            " RUN_STARTING (dequeued); spawn = RUN_STARTING -> 'Started process for run' (new process,"
            " instance); load = -> RUN_START (code location import, job); in_run = RUN_START -> vector"
            " visible; after_vector = visible -> run end (checks; not part of freshness)",
        ],
    )


if __name__ == "__main__":
    parser = c.parser(__doc__.split("\n\n")[0])
    parser.add_argument("--changes", type=int, default=50, help="edits timed")
    parser.add_argument("--interval", type=float, default=2.0, help="mean seconds between edits")
    parser.add_argument("--businesses", type=int, default=20)
    parser.add_argument("--rows", type=int, default=200, help="menu items seeded over the businesses")
    parser.add_argument("--poll", type=float, default=0.1, help="seconds between visibility polls")
    parser.add_argument("--timeout", type=float, default=120, help="seconds before a change counts as lost")
    parser.add_argument("--initial-timeout", type=float, default=600, help="daemon start-up + initial sync")
    parser.add_argument("--seed", type=int, default=7)
    c.main("freshness", parser, bench)
