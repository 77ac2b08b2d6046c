"""Change-sensor tick time at scale: B businesses (default 5000) registered as dynamic partitions on a
dagster.instance_for_test() instance, and a backlog of N queued changes (default 100000, one bulk
INSERT ... SELECT generate_series into menu_items, queued by the capture triggers). The real
content_change_sensor is evaluated tick after tick (as tests/helpers.py does; the requested runs are
not executed) until its cursor has passed the whole backlog, plus one tick after that.

Figure: the longest tick (sensor evaluation). Target: < 10 s. The evaluation excludes what a daemon does
with the result afterwards (submitting the run requests), reported by its count only.

    .venv/bin/python -m benchmarks.sensor_scale [--businesses 5000] [--changes 100000]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import sqlalchemy as sa

from benchmarks import _common as c


def bench(args: argparse.Namespace) -> dict[str, Any]:
    import dagster as dg

    from pipeline.assets.partitions import business_partitions
    from pipeline.sensors.change_sensor import ChangeCursor
    from pipeline.settings import get_settings

    params = {"businesses": args.businesses, "changes": args.changes}
    with c.bench_database() as engine, c.dagster_instance(engine) as instance:
        ids = c.add_businesses(engine, args.businesses)
        register_seconds, _ = c.timed(
            lambda: instance.add_dynamic_partitions(business_partitions.name, [str(i) for i in ids])
        )
        load_seconds, _ = c.timed(lambda: c.add_menu_items(engine, ids, args.changes, args.seed))
        with engine.connect() as conn:
            queued, last_seq = conn.execute(sa.text("SELECT count(*), max(seq) FROM content_changes")).one()
        c.checkpoint(engine)
        settings = get_settings()

        driver = c.SensorDriver(instance)
        ticks: list[dict[str, Any]] = []
        consumed_at = None
        while len(ticks) < args.max_ticks:
            started = time.perf_counter()
            outcome = driver.tick()
            total = time.perf_counter() - started
            cursor = ChangeCursor.parse(driver.cursor)
            requests = [] if isinstance(outcome, dg.SkipReason) else outcome.run_requests or []
            ticks.append(
                {
                    "evaluation_seconds": c.r(driver.tick_seconds[-1], 3),
                    "tick_seconds_with_partition_requests": c.r(total, 3),
                    "run_requests": len(requests),
                    "ranged_run_requests": sum(1 for r in requests if not r.partition_key),
                    "cursor_seq": cursor.seq,
                }
            )
            if consumed_at is not None:
                break
            if cursor.seq >= last_seq:
                consumed_at = len(ticks)
        partitions_known = len(instance.get_dynamic_partitions(business_partitions.name))

    longest = max(t["evaluation_seconds"] for t in ticks)
    return c.result(
        "sensor_scale",
        params,
        {
            "max_tick_seconds": longest,
            "ticks": ticks,
            "ticks_to_consume_backlog": consumed_at,
            "queued_changes": int(queued),
            "SENSOR_MAX_CHANGES_PER_TICK": settings.sensor_max_changes_per_tick,
            "SENSOR_MAX_PARTITIONS_PER_RUN": settings.sensor_max_partitions_per_run,
            "partitions_registered": partitions_known,
            "setup": {
                "register_partitions_seconds": c.r(register_seconds, 2),
                "bulk_insert_seconds": c.r(load_seconds, 2),
            },
        },
        {"target_seconds": 10},
        [
            c.check("backlog consumed by the cursor", 1 if consumed_at else 0, "==", 1),
            c.check("max tick seconds", longest, "<", 10),
        ],
        ["The requested runs are not executed; a daemon would also submit them (run_requests per tick)."],
    )


if __name__ == "__main__":
    parser = c.parser(__doc__.split("\n\n")[0])
    parser.add_argument("--businesses", type=int, default=5000)
    parser.add_argument("--changes", type=int, default=100_000)
    parser.add_argument("--max-ticks", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    c.main("sensor_scale", parser, bench)
