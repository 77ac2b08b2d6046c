"""Change-capture overhead: latency of single-row writes to menu_items with the capture triggers on, and
with them off (`ALTER TABLE menu_items DISABLE TRIGGER USER`) as the reference, measured in the same
run, interleaved in alternating blocks, many repetitions, median.

Writes, each one autocommitted statement as an app would send it: INSERT of a new item; UPDATE of one
item's description (a captured change); UPDATE of one item's price (the trigger runs, nothing is
queued). A second pass times the statement alone inside an open transaction (commit not timed), which
isolates the trigger's own cost from the commit. Target: median with / median without <= 1.10 for the
autocommitted INSERT and description UPDATE.

    .venv/bin/python -m benchmarks.capture_overhead [--reps 1500] [--block 50] [--seed-rows 10000]
"""

from __future__ import annotations

import argparse
import random
import time
from typing import Any

from benchmarks import _common as c

INSERT = (
    "INSERT INTO menu_items (business_id, name, category, description, price)"
    " VALUES (%s, %s, 'Mains', %s, 12.50)"
)
UPDATE_TEXT = "UPDATE menu_items SET description = %s WHERE id = %s"
UPDATE_PRICE = "UPDATE menu_items SET price = price + 0.01 WHERE id = %s"
OPERATIONS = ("insert", "update_description", "update_price")


def run_block(
    conn: Any, rng: random.Random, ids: list[int], businesses: list[int], n: int, mode: str
) -> dict:
    """n of each operation, interleaved; seconds per statement."""
    out: dict[str, list[float]] = {op: [] for op in OPERATIONS}
    for i in range(n):
        statements = (
            (
                "insert",
                INSERT,
                (rng.choice(businesses), f"Bench dish {i}", f"Freshly made dish {rng.random()}"),
            ),
            (
                "update_description",
                UPDATE_TEXT,
                (f"Now with smoked mozzarella {rng.random()}", rng.choice(ids)),
            ),
            ("update_price", UPDATE_PRICE, (rng.choice(ids),)),
        )
        for op, sql, params in statements:
            if mode == "autocommit":
                started = time.perf_counter()
                conn.execute(sql, params)
                out[op].append(time.perf_counter() - started)
            else:
                with conn.transaction():
                    started = time.perf_counter()
                    conn.execute(sql, params)
                    out[op].append(time.perf_counter() - started)
    return out


def set_triggers(conn: Any, enabled: bool) -> None:
    conn.execute(f"ALTER TABLE menu_items {'ENABLE' if enabled else 'DISABLE'} TRIGGER USER")


def measure(
    conn: Any, args: argparse.Namespace, ids: list[int], businesses: list[int], mode: str, seed: int
) -> dict:
    rng = random.Random(seed)  # a different seed per pass, so that every description UPDATE changes text
    samples: dict[tuple[bool, str], list[float]] = {(on, op): [] for on in (True, False) for op in OPERATIONS}
    for on in (True, False):  # warm-up, not recorded
        set_triggers(conn, on)
        run_block(conn, rng, ids, businesses, 20, mode)
    blocks = max(1, args.reps // args.block)
    for b in range(blocks):
        for on in (True, False) if b % 2 == 0 else (False, True):
            set_triggers(conn, on)
            for op, values in run_block(conn, rng, ids, businesses, args.block, mode).items():
                samples[(on, op)].extend(values)
    set_triggers(conn, True)
    figures: dict[str, Any] = {}
    for op in OPERATIONS:
        with_ms = c.median(samples[(True, op)]) * 1000
        without_ms = c.median(samples[(False, op)]) * 1000
        figures[op] = {
            "median_ms_with_triggers": c.r(with_ms),
            "median_ms_without_triggers": c.r(without_ms),
            "p95_ms_with_triggers": c.r(c.percentile(samples[(True, op)], 95) * 1000),
            "p95_ms_without_triggers": c.r(c.percentile(samples[(False, op)], 95) * 1000),
            "samples_each": len(samples[(True, op)]),
            "ratio": c.r(with_ms / without_ms),
        }
    return figures


def bench(args: argparse.Namespace) -> dict[str, Any]:
    params = {
        "reps": args.reps,
        "block": args.block,
        "seed_rows": args.seed_rows,
        "businesses": args.businesses,
    }
    with c.bench_database() as engine:
        businesses = c.add_businesses(engine, args.businesses)
        c.add_menu_items(engine, businesses, args.seed_rows, args.seed)
        raw = engine.raw_connection()
        try:
            conn = raw.driver_connection
            conn.autocommit = True
            conn.execute("DELETE FROM content_changes")  # the sensor keeps the queue short in steady state
            conn.execute("VACUUM ANALYZE menu_items")
            conn.execute("VACUUM ANALYZE content_changes")
            conn.execute("CHECKPOINT")
            ids = [row[0] for row in conn.execute("SELECT id FROM menu_items").fetchall()]
            queued_before = conn.execute("SELECT count(*) FROM content_changes").fetchone()[0]
            autocommit = measure(conn, args, ids, businesses, "autocommit", args.seed)
            statement = measure(conn, args, ids, businesses, "statement", args.seed + 1)
            queued = conn.execute("SELECT operation, count(*) FROM content_changes GROUP BY 1").fetchall()
            commit_settings = {
                name: conn.execute(f"SHOW {name}").fetchone()[0] for name in ("synchronous_commit", "fsync")
            }
        finally:
            with engine.connect() as cleanup:
                cleanup.exec_driver_sql("ALTER TABLE menu_items ENABLE TRIGGER USER")
                cleanup.commit()
            raw.close()
    return c.result(
        "capture_overhead",
        params,
        {
            "autocommit_statement": autocommit,
            "statement_in_open_transaction": statement,
            "changes_queued_while_triggers_on": {op: n for op, n in queued} | {"before": queued_before},
            "server": commit_settings,
        },
        {
            op: {"median_ms_without_triggers": autocommit[op]["median_ms_without_triggers"]}
            for op in OPERATIONS
        },
        [
            c.check("INSERT median with/without triggers", autocommit["insert"]["ratio"], "<=", 1.10),
            c.check(
                "UPDATE (description) median with/without triggers",
                autocommit["update_description"]["ratio"],
                "<=",
                1.10,
            ),
        ],
        [
            "Reference: the same statements with `ALTER TABLE menu_items DISABLE TRIGGER USER`, in "
            "alternating blocks. Price-only UPDATE and statement-only timings are reported, not targeted.",
        ],
    )


if __name__ == "__main__":
    parser = c.parser(__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=1500, help="timed statements per operation and mode")
    parser.add_argument("--block", type=int, default=50, help="statements per block between trigger toggles")
    parser.add_argument("--seed-rows", type=int, default=10000, help="menu items in the table beforehand")
    parser.add_argument("--businesses", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    c.main("capture_overhead", parser, bench)
