"""Incremental sync cost: after a full initial sync of N rows (through the sensor and assets, stand-in at
0 ms), (1) change the description of 1% of the rows, (2) separately, change only the price of every
row; each time sync again through the sensor and assets.

Figures: tokens sent (usage_ledger.input_tokens of the new calls) / tokens of the changed texts
(pipeline.lib.tokens.count_tokens on `SELECT embedding_text(m) FROM menu_items m` for the changed rows),
target exactly 1.0; tokens sent for the price-only update, target 0; incremental sync time / full sync
time of the same run, target <= 0.05.

Reference for what the change costs at least (not a target): as many fresh vectors as it produced, written
by hand into the same indexed table, one binary COPY per session on every core side by side (rolled back).

    .venv/bin/python -m benchmarks.incremental_sync [--rows 10000] [--businesses 100] [--fraction 0.01]
"""

from __future__ import annotations

import argparse
import os
import random
import threading
import time
from typing import Any

import numpy as np
import sqlalchemy as sa

from benchmarks import _common as c
from benchmarks import initial_sync


def changed_text_tokens(engine: sa.Engine, ids: list[int]) -> int:
    from pipeline.lib.tokens import count_tokens

    with engine.connect() as conn:
        texts = conn.execute(
            sa.text("SELECT embedding_text(m) FROM menu_items m WHERE id = ANY(:ids)"), {"ids": ids}
        ).scalars()
        return sum(count_tokens(t, c.MODEL) for t in texts)


# One session per core, within what the benchmark engine's pool hands out at once.
FLOOR_MAX_SESSIONS = 8


def hand_written_floor(engine: sa.Engine, ids: list[int], sessions: int) -> dict[str, Any]:
    """Seconds to insert one fresh vector per row of `ids` into the indexed table by hand: HNSW inserts,
    which no sync of the change can avoid. Fresh: the stand-in's vectors for texts it never embedded (one
    inserted before, even rolled back, is still in the graph and found at distance 0, which is far
    cheaper). The rows are split by business over `sessions` sessions, each one COPY, rolled back."""
    from pgvector.psycopg import register_vector

    from pipeline.openai_standin.embedder import embed_batch

    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT id, business_id, embedding_text(m) FROM menu_items m WHERE id = ANY(:ids)"),
            {"ids": ids},
        ).all()
        first_id = conn.execute(
            sa.text("SELECT coalesce(max(id), 0) + 1 FROM content_embeddings")
        ).scalar_one()
    docs = [(cid, b, f"{text} (written by hand)", 1) for cid, b, text in rows]
    vectors = embed_batch([d[2] for d in docs], c.DIMS, dense=True).astype(np.float32)
    records = c.embedding_rows(docs, vectors, first_id)
    parts = [[r for r in records if r[1] % sessions == k] for k in range(sessions)]
    start = threading.Barrier(len(parts))
    seconds: list[float] = []

    def write(part: list[tuple]) -> None:
        raw = engine.raw_connection()
        try:
            conn = raw.driver_connection
            register_vector(conn)
            start.wait(timeout=60)
            began = time.perf_counter()
            c.write_embedding_rows(conn, "content_embeddings", part)
            seconds.append(time.perf_counter() - began)
            conn.rollback()
        finally:
            raw.close()

    threads = [threading.Thread(target=write, args=(part,)) for part in parts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if len(seconds) != len(parts):
        raise RuntimeError("a session of the hand-written reference failed; see the log above")
    return {"vectors": len(records), "sessions": len(parts), "seconds": c.r(max(seconds), 3)}


def bench(args: argparse.Namespace) -> dict[str, Any]:

    params = {
        "rows": args.rows,
        "businesses": args.businesses,
        "fraction_changed": args.fraction,
        "dims": c.DIMS,
        "latency_ms": 0,
        "account_limits": initial_sync.UNLIMITED_ACCOUNT,
    }
    # As for the 0 ms initial sync: account limits out of the way, so the full sync is not stretched by
    # the rate limiter (which would flatter the ratio).
    with (
        c.bench_database(**initial_sync.UNLIMITED_ACCOUNT) as engine,
        c.standin(own_process=True, dense_vectors=True),
        c.dagster_instance(engine) as instance,
    ):
        initial_sync.load(engine, args.rows, args.businesses, args.seed)
        driver = c.SensorDriver(instance)
        full = initial_sync.pipeline_sync(engine, driver, args.rows)

        with engine.connect() as conn:
            all_ids = list(conn.execute(sa.text("SELECT id FROM menu_items ORDER BY id")).scalars())
        changed = sorted(
            random.Random(args.seed).sample(all_ids, max(1, round(len(all_ids) * args.fraction)))
        )
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "UPDATE menu_items SET description = description || ' Now with smoked mozzarella, edit '"
                    " || id || '.' WHERE id = ANY(:ids)"
                ),
                {"ids": changed},
            )
        expected_tokens = changed_text_tokens(engine, changed)
        c.checkpoint(engine)
        incremental = initial_sync.pipeline_sync(engine, driver, len(changed))

        with engine.begin() as conn:
            priced = conn.execute(sa.text("UPDATE menu_items SET price = price + 0.50")).rowcount
        c.checkpoint(engine)
        price_only = initial_sync.pipeline_sync(engine, driver, 0)  # no row needs a new vector
        c.checkpoint(engine)
        floor = hand_written_floor(engine, changed, min(os.cpu_count() or 1, FLOOR_MAX_SESSIONS))

    token_ratio = incremental["input_tokens"] / expected_tokens if expected_tokens else float("nan")
    # Whole runs on both sides, per-partition asset checks included.
    time_ratio = incremental["whole_run_seconds_with_checks"] / full["whole_run_seconds_with_checks"]
    return c.result(
        "incremental_sync",
        params,
        {
            "full_sync": full,
            "description_change": {
                **incremental,
                "rows_changed": len(changed),
                "tokens_of_changed_texts": expected_tokens,
                "tokens_sent": incremental["input_tokens"],
            },
            "price_only_update": {
                **price_only,
                "rows_updated": priced,
                "tokens_sent": price_only["input_tokens"],
                "seconds_vs_full": c.r(
                    price_only["whole_run_seconds_with_checks"] / full["whole_run_seconds_with_checks"]
                ),
            },
            "hand_written_floor": {
                **floor,
                "seconds_vs_full": c.r(floor["seconds"] / full["whole_run_seconds_with_checks"]),
                "incremental_seconds_vs_floor": c.r(
                    incremental["whole_run_seconds_with_checks"] / floor["seconds"], 3
                ),
            },
        },
        {
            "full_sync_seconds": full["whole_run_seconds_with_checks"],
            "tokens_of_changed_texts": expected_tokens,
            "price_only_tokens_expected": 0,
            "hand_written_floor_seconds": floor["seconds"],
        },
        [
            c.check("tokens sent / tokens of changed texts", c.r(token_ratio, 6), "==", 1.0),
            c.check("price-only update: tokens sent", price_only["input_tokens"], "==", 0),
            c.check("incremental sync seconds / full sync seconds", c.r(time_ratio), "<=", 0.05),
        ],
    )


if __name__ == "__main__":
    parser = c.parser(__doc__.split("\n\n")[0])
    initial_sync.add_arguments(parser)
    parser.add_argument(
        "--fraction", type=float, default=0.01, help="share of rows whose description changes"
    )
    c.main("incremental_sync", parser, bench)
