"""HNSW index layout: what a load of N vectors costs until the index is ready, one table against P hash
partitions on business_id, loaded all at once and paced as rate-limited API answers arrive. It explains
the initial sync's 200 ms figure and measures what would close it.

Every table has content_embeddings' columns and storage (vectors inline), holds the stand-in's dense
vectors as the syncs store, and gets the pipeline's HNSW expression index (same memory and workers)
and no other: a hash-partitioned table cannot have the id primary key, so the btrees the pipeline also
maintains are left out of both layouts alike.

- bulk: COPY everything, then CREATE INDEX; then single-row INSERTs from --writers writers into the
  indexed table (what keeping the index live costs). Layouts run in the order A B B A, each figure the
  better of its two runs, as this machine drifts over minutes.
- paced: batches of --batch rows arrive at --arrival-rows-per-s (the 200 ms default limits admit ~450)
  and are copied in as they come. Strategies: build after the load; keep the index live throughout;
  CREATE INDEX CONCURRENTLY once 50% / 80% have arrived; partitioned, rows arriving partition by
  partition (a sync may order businesses so), each partition's index built as soon as its rows are in;
  one table with a partial index per shard of businesses (business_id % P), rows arriving shard by
  shard and each shard's index built CONCURRENTLY once its rows are in (the pipeline's layout since
  migration 0021). The reference is the arrival time alone: what the limits allow.

    .venv/bin/python -m benchmarks.hnsw_layout [--rows 10000] [--partitions 16] [--arrival-rows-per-s 450]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import sqlalchemy as sa

from benchmarks import _common as c

TABLE = "bench_layout"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rows", type=int, default=10_000, help="vectors to load (full: 100000)")
    p.add_argument("--businesses", type=int, default=100)
    p.add_argument("--partitions", type=int, default=16, help="hash partitions on business_id")
    p.add_argument("--arrival-rows-per-s", type=float, default=450.0)
    p.add_argument("--batch", type=int, default=100, help="rows per arriving batch (one API request)")
    p.add_argument("--live-rows", type=int, default=600, help="single-row INSERTs into the indexed table")
    p.add_argument("--writers", type=int, default=2)
    p.add_argument("--bulk-only", action="store_true", help="skip the paced loads (at 100k: ~20 min)")


def make_rows(count: int, businesses: int) -> list[tuple]:
    from pipeline.openai_standin.embedder import embed_batch

    n = len(c.MAINS)
    texts = [
        f"{c.ADJECTIVES[i % len(c.ADJECTIVES)]} {c.MAINS[i // 7 % n]} with {c.SIDES[i // 3 % len(c.SIDES)]}"
        f" and {c.FINISHES[i // 11 % len(c.FINISHES)]} no. {i}"
        for i in range(count)
    ]
    vectors = embed_batch(texts, c.DIMS, dense=True)
    docs = [(i + 1, i % businesses + 1, text, 12) for i, text in enumerate(texts)]
    return c.embedding_rows(docs, vectors)


def index_sql(table: str, concurrently: bool = False, shard: tuple[int, int] | None = None) -> str:
    """The HNSW index; with shard = (k, of), the partial one over businesses with business_id % of = k."""
    from pipeline.db.vectors import index_expression

    expression, opclass = index_expression(c.DIMS)
    how = "CONCURRENTLY " if concurrently else ""
    where = f"dimensions = {c.DIMS}" + (f" AND business_id % {shard[1]} = {shard[0]}" if shard else "")
    return f"CREATE INDEX {how}ON {table} USING hnsw ({expression} {opclass}) WHERE {where}"


def create_table(engine: sa.Engine, partitions: int) -> list[str]:
    """The (empty) table; its partitions' names, or [TABLE]."""
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP TABLE IF EXISTS {TABLE} CASCADE"))
        by = " PARTITION BY HASH (business_id)" if partitions else ""
        conn.execute(sa.text(f"CREATE TABLE {TABLE} ({c.EMBEDDINGS_LIKE}){by}"))
        names = [f"{TABLE}_p{i}" for i in range(partitions)]
        options = ", ".join(c.embeddings_storage_options(conn))
        for i, name in enumerate(names):
            values = f"WITH (MODULUS {partitions}, REMAINDER {i})"
            conn.execute(sa.text(f"CREATE TABLE {name} PARTITION OF {TABLE} FOR VALUES {values}"))
        if options:  # storage parameters are set per partition: a partitioned parent has no storage
            for name in names or [TABLE]:
                conn.execute(sa.text(f"ALTER TABLE {name} SET ({options})"))
        # On the parent once the partitions exist, so that it reaches each whatever PARTITION OF copies.
        conn.execute(sa.text(f"ALTER TABLE {TABLE} ALTER COLUMN embedding SET STORAGE MAIN"))
    c.checkpoint(engine)
    return names or [TABLE]


def partition_of(engine: sa.Engine, partitions: int, businesses: int) -> dict[int, int]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT b, r FROM generate_series(1, :b) b, generate_series(0, :p - 1) r"
                " WHERE satisfies_hash_partition(CAST(:t AS regclass), :p, r, b::int8)"
            ),
            {"b": businesses, "p": partitions, "t": TABLE},
        ).all()
    return {int(b): int(p) for b, p in rows}


def build(engine: sa.Engine, statement: str) -> float:
    """Seconds for one CREATE INDEX with the pipeline's build memory and workers (autocommit, so that
    CONCURRENTLY works too)."""
    from pipeline.settings import get_settings

    settings = get_settings()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text(f"SET maintenance_work_mem = '{settings.vector_index_build_memory}'"))
        conn.execute(sa.text(f"SET max_parallel_maintenance_workers = {settings.vector_index_build_workers}"))
        try:
            seconds, _ = c.timed(lambda: conn.execute(sa.text(statement)))
        finally:
            conn.execute(sa.text("RESET ALL"))
    return seconds


def insert_live(engine: sa.Engine, rows: Sequence[tuple], writers: int) -> float:
    """Rows/s of autocommitted single-row INSERTs into the indexed table from `writers` threads."""
    from pipeline.db.vectors import use_vectors

    columns = ", ".join(c.EMBEDDING_COLUMNS)
    values = ", ".join(f":{name}" for name in c.EMBEDDING_COLUMNS)
    insert = sa.text(f"INSERT INTO {TABLE} ({columns}) VALUES ({values})")

    def write(start: int) -> None:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            use_vectors(conn)
            for row in rows[start::writers]:
                conn.execute(insert, dict(zip(c.EMBEDDING_COLUMNS, row, strict=True)))

    started = time.perf_counter()
    with ThreadPoolExecutor(writers) as pool:
        for done in [pool.submit(write, k) for k in range(writers)]:
            done.result()  # a writer's error ends the benchmark instead of flattering the rate
    return len(rows) / (time.perf_counter() - started)


def bulk(
    engine: sa.Engine, rows: list[tuple], extra: list[tuple], args: argparse.Namespace, partitions: int
) -> dict[str, float | None]:
    create_table(engine, partitions)
    copy_seconds, _ = c.timed(lambda: c.copy_embeddings(engine, TABLE, rows))
    build_seconds = build(engine, index_sql(TABLE))
    live = insert_live(engine, extra, args.writers)
    verify(engine, len(rows) + len(extra))
    return {
        "copy_seconds": c.r(copy_seconds, 3),
        "create_index_seconds": c.r(build_seconds, 3),
        "create_index_rows_per_s": c.r(len(rows) / build_seconds, 1),
        "live_insert_rows_per_s": c.r(live, 1),
    }


def bulk_layouts(
    engine: sa.Engine, rows: list[tuple], extra: list[tuple], args: argparse.Namespace
) -> dict[str, Any]:
    """Each layout twice, A B B A; the better figure of each (fastest build, highest insert rate)."""
    runs: dict[int, list[dict[str, float | None]]] = {0: [], args.partitions: []}
    for partitions in (0, args.partitions, args.partitions, 0):
        runs[partitions].append(bulk(engine, rows, extra, args, partitions))
    layouts = {}
    for partitions, pair in runs.items():
        best = {k: (max if k.endswith("_per_s") else min)(run[k] for run in pair) for k in pair[0]}
        layouts[f"{partitions}_partitions" if partitions else "one_table"] = {**best, "runs": pair}
    return layouts


def paced(
    engine: sa.Engine,
    rows: list[tuple],
    args: argparse.Namespace,
    after_batch: Callable[[int], None] = lambda _: None,
    finish: Callable[[], None] = lambda: None,
) -> float:
    """Seconds from the first request until the index is ready: batch k is copied in once its rows have
    arrived (the first (k + 1) x batch rows at the arrival rate); then after_batch(k); finish() once all
    are in."""
    batches = [rows[i : i + args.batch] for i in range(0, len(rows), args.batch)]
    started = time.perf_counter()
    for k, chunk in enumerate(batches):
        arrived = started + min((k + 1) * args.batch, len(rows)) / args.arrival_rows_per_s
        time.sleep(max(arrived - time.perf_counter(), 0))
        c.copy_embeddings(engine, TABLE, chunk)
        after_batch(k)
    finish()
    return time.perf_counter() - started


def paced_concurrent_build(
    engine: sa.Engine, rows: list[tuple], args: argparse.Namespace, at: float
) -> float:
    create_table(engine, 0)
    start_after = max(int(len(rows) / args.batch * at) - 1, 0)
    with ThreadPoolExecutor(1) as builder:
        started: list[Future[float]] = []

        def after_batch(k: int) -> None:
            if k == start_after:
                started.append(builder.submit(build, engine, index_sql(TABLE, concurrently=True)))

        return paced(engine, rows, args, after_batch, finish=lambda: started[0].result())


def paced_group_builds(
    engine: sa.Engine,
    rows: list[tuple],
    args: argparse.Namespace,
    group_of: Callable[[int], int],
    statement_of: Callable[[int], str],
) -> float:
    """Rows arrive group by group (a sync may order businesses so), and `statement_of(group)` builds a
    group's index once its rows are in: one build at a time, in the order groups fill, so the load keeps
    the other core. Every build's error ends the benchmark rather than being redone unnoticed."""
    rows = sorted(rows, key=lambda row: group_of(row[1]))
    last_batch = {group_of(row[1]): i // args.batch for i, row in enumerate(rows)}
    with ThreadPoolExecutor(1) as builder:
        builds: list[Future[float]] = []

        def after_batch(k: int) -> None:
            for group, last in last_batch.items():
                if last == k:
                    builds.append(builder.submit(build, engine, statement_of(group)))

        def finish() -> None:
            for done in builds:
                done.result()

        return paced(engine, rows, args, after_batch, finish)


def paced_per_partition(engine: sa.Engine, rows: list[tuple], args: argparse.Namespace) -> float:
    partitions = create_table(engine, args.partitions)
    where = partition_of(engine, args.partitions, args.businesses)
    seconds = paced_group_builds(engine, rows, args, where.__getitem__, lambda p: index_sql(partitions[p]))
    # Attaches the partitions' indexes to the parent; nothing is rebuilt.
    return seconds + build(engine, index_sql(TABLE))


def paced_per_shard(engine: sa.Engine, rows: list[tuple], args: argparse.Namespace) -> float:
    """One table with one partial index per shard of businesses (business_id % P), each built CONCURRENTLY
    (the load goes on writing) once its shard's rows are in."""
    create_table(engine, 0)
    shards = args.partitions
    return paced_group_builds(
        engine,
        rows,
        args,
        lambda business: business % shards,
        lambda shard: index_sql(TABLE, concurrently=True, shard=(shard, shards)),
    )


def verify(engine: sa.Engine, count: int) -> None:
    """The load is only done with every row in and a valid index on every table that holds rows."""
    with engine.connect() as conn:
        stored = conn.execute(sa.text(f"SELECT count(*) FROM {TABLE}")).scalar_one()
        invalid = conn.execute(
            sa.text(
                "SELECT count(*) FROM pg_class t LEFT JOIN pg_index i ON i.indrelid = t.oid AND i.indisvalid"
                " WHERE t.relname LIKE :t AND t.relkind IN ('r', 'p') AND i.indexrelid IS NULL"
            ),
            {"t": f"{TABLE}%"},
        ).scalar_one()
    if stored != count or invalid:
        raise RuntimeError(f"{stored} of {count} rows stored, {invalid} tables without a valid index")


def paced_loads(engine: sa.Engine, rows: list[tuple], args: argparse.Namespace) -> dict[str, Any]:
    def build_after() -> float:
        create_table(engine, 0)
        return paced(engine, rows, args, finish=lambda: build(engine, index_sql(TABLE)))

    def live_index() -> float:
        create_table(engine, 0)
        build(engine, index_sql(TABLE))
        return paced(engine, rows, args)

    strategies: dict[str, Callable[[], float]] = {
        "one_table_build_after_load": build_after,
        "one_table_index_live": live_index,
        "one_table_concurrent_build_at_50pct": lambda: paced_concurrent_build(engine, rows, args, 0.5),
        "one_table_concurrent_build_at_80pct": lambda: paced_concurrent_build(engine, rows, args, 0.8),
        "partitioned_build_per_partition": lambda: paced_per_partition(engine, rows, args),
        "one_table_partial_index_per_shard": lambda: paced_per_shard(engine, rows, args),
    }
    arrival = args.rows / args.arrival_rows_per_s
    loads: dict[str, Any] = {}
    for name, run in strategies.items():
        seconds = run()
        verify(engine, args.rows)
        loads[name] = {"seconds": c.r(seconds, 3), "ceiling_ratio": c.r(arrival / seconds)}
    return loads


def bench(args: argparse.Namespace) -> dict[str, Any]:
    rows = make_rows(args.rows + args.live_rows, args.businesses)
    rows, extra = rows[: args.rows], rows[args.rows :]
    with c.bench_database() as engine:
        layouts = bulk_layouts(engine, rows, extra, args)
        loads = {} if args.bulk_only else paced_loads(engine, rows, args)
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE {TABLE} CASCADE"))
    checks: list[dict[str, Any]] = []
    notes = ["Diagnostic for initial_sync_latency: its target applied to each layout's paced load."]
    if loads:
        best_single = max(
            v["ceiling_ratio"] for k, v in loads.items() if k.startswith("one_table") and "shard" not in k
        )
        partitioned = loads["partitioned_build_per_partition"]["ceiling_ratio"]
        sharded = loads["one_table_partial_index_per_shard"]["ceiling_ratio"]
        checks = [
            c.check("best one-table paced load / arrival time", best_single, ">=", 0.8),
            c.check("partitioned paced load / arrival time", partitioned, ">=", 0.8),
            c.check("sharded partial indexes paced load / arrival time", sharded, ">=", 0.8),
        ]
    else:
        notes.append("--bulk-only: no paced loads, so nothing to check.")
    arrival = {"arrival_seconds": c.r(args.rows / args.arrival_rows_per_s, 3)}
    return c.result(
        "hnsw_layout", dict(vars(args)), {"bulk": layouts, "paced": loads}, arrival, checks, notes
    )


if __name__ == "__main__":
    parser = c.parser(__doc__.split("\n\n")[0])
    add_arguments(parser)
    c.main("hnsw_layout", parser, bench)
