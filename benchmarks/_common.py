"""Shared plumbing for the benchmarks: a throw-away database on the embedded server (the way
tests/conftest.py makes one), the OpenAI stand-in on loopback, an in-process sensor driver (the pattern
of tests/helpers.py), bulk loaders, and the one-JSON-object-on-stdout contract.

Nothing here tunes the project: the benchmarks drive the real sensor, assets, settings and SQL.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import hashlib
import json
import math
import multiprocessing
import os
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa

DUMMY_API_KEY = "sk-bench-not-a-real-key"
MODEL = "text-embedding-3-small"
DIMS = 1536
ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------- output contract


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[Any]:
    """Send everything written to fd 1 (Dagster, libraries, child processes) to stderr while the
    benchmark runs; yields a writer for the real stdout, where only the result JSON goes."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    real = os.fdopen(os.dup(saved), "w")
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield real
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
        real.flush()
        real.close()


def check(name: str, value: float | None, op: str, bound: float) -> dict[str, Any]:
    """One target: value op bound (op is one of <=, >=, <, ==)."""
    ops: dict[str, Callable[[float, float], bool]] = {
        "<=": lambda a, b: a <= b,
        ">=": lambda a, b: a >= b,
        "<": lambda a, b: a < b,
        "==": lambda a, b: a == b,
    }
    met = value is not None and not (isinstance(value, float) and math.isnan(value)) and ops[op](value, bound)
    return {"name": name, "value": value, "target": f"{op} {bound:g}", "met": bool(met)}


def result(
    name: str,
    params: dict[str, Any],
    figures: dict[str, Any],
    reference: dict[str, Any],
    checks: list[dict[str, Any]],
    notes: Sequence[str] = (),
) -> dict[str, Any]:
    """The benchmark's JSON object. With one target, ratio/target are scalars; with several, dicts."""
    if len(checks) == 1:
        ratio: Any = checks[0]["value"]
        target: Any = checks[0]["target"]
    else:
        ratio = {c["name"]: c["value"] for c in checks}
        target = {c["name"]: c["target"] for c in checks}
    return {
        "benchmark": name,
        "params": params,
        "figures": figures,
        "reference": reference,
        "ratio": ratio,
        "target": target,
        "met": all(c["met"] for c in checks),
        "checks": checks,
        "notes": list(notes),
        "server": dict(SERVER_FACTS),
    }


def main(name: str, parser: argparse.ArgumentParser, bench: Callable[[argparse.Namespace], dict]) -> None:
    """Parse flags, run the benchmark with stdout diverted, print its one JSON object."""
    args = parser.parse_args()
    started = time.perf_counter()
    exit_code = 0
    with stdout_to_stderr() as out:
        try:
            outcome = bench(args)
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            outcome = {
                "benchmark": name,
                "params": vars(args),
                "error": f"{type(exc).__name__}: {exc}",
                "met": False,
            }
            exit_code = 1
        outcome["seconds"] = round(time.perf_counter() - started, 2)
        out.write(json.dumps(outcome, default=_json_default) + "\n")
    sys.exit(exit_code)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def parser(description: str) -> argparse.ArgumentParser:
    return argparse.ArgumentParser(description=description)


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(math.ceil(pct / 100 * len(ordered)), 1)
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def r(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(float(value), digits)


# ---------------------------------------------------------------- environment and database


def clear_caches(engine_too: bool = False) -> None:
    from pipeline.db.engine import engine_for
    from pipeline.settings import get_settings

    get_settings.cache_clear()
    if engine_too:
        engine_for.cache_clear()


def set_env(**values: str | None) -> None:
    """Set (or with None, unset) environment variables and drop the cached settings."""
    for key, value in values.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = str(value)
    clear_caches()


@contextlib.contextmanager
def restored_env() -> Iterator[None]:
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        clear_caches()


# Facts about the server the figures came from, reported in every benchmark's JSON.
SERVER_FACTS: dict[str, Any] = {}


@contextlib.contextmanager
def database_server() -> Iterator[str]:
    """The server's SQLAlchemy URL: DATABASE_URL's server if set, else the embedded server under
    PIPELINE_DATA_DIR or, unset, under a new temp folder. A server this starts gets huge pages where the
    machine allows (benchmarks/huge_pages.py) and is stopped at the end."""
    from benchmarks import huge_pages
    from pipeline.db.embedded import (
        available_memory_bytes,
        ensure_embedded_server,
        pgdata_dir,
        shared_buffers_mb,
        stop_embedded_server,
    )
    from pipeline.db.engine import normalize_url

    external = os.environ.get("DATABASE_URL")
    if external:
        url = normalize_url(external)
        SERVER_FACTS["huge_pages"] = huge_pages.status(url)
        yield url
        return
    configured = os.environ.get("PIPELINE_DATA_DIR")
    temp = None if configured else tempfile.mkdtemp(prefix="bench-pg-")
    data_dir = Path(configured or temp or "")
    started_here = not (pgdata_dir(data_dir) / "postmaster.pid").exists()
    if temp:
        os.environ["PIPELINE_DATA_DIR"] = temp
    reserve = huge_pages.reserved(shared_buffers_mb(available_memory_bytes()))
    with reserve if started_here else contextlib.nullcontext():
        try:
            url = ensure_embedded_server(data_dir)
            SERVER_FACTS["huge_pages"] = huge_pages.status(url)
            yield url
        finally:
            if started_here:
                with contextlib.suppress(Exception):
                    stop_embedded_server(data_dir)
            if temp:
                os.environ.pop("PIPELINE_DATA_DIR", None)
                shutil.rmtree(temp, ignore_errors=True)


@contextlib.contextmanager
def bench_database(**env: str | None) -> Iterator[sa.Engine]:
    """A database of its own (bench_<random>), migrated, with DATABASE_URL pointing at it and the
    cached settings and engine cleared; dropped at the end. Extra env vars are set for the duration."""
    with restored_env(), database_server() as server_url:
        name = f"bench_{uuid.uuid4().hex[:10]}"
        admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = sa.make_url(server_url).set(database=name).render_as_string(hide_password=False)
        engine: sa.Engine | None = None
        try:
            set_env(DATABASE_URL=url, **env)
            clear_caches(engine_too=True)
            from pipeline.db.engine import get_engine
            from pipeline.db.migrate import migrate
            from pipeline.db.vectors import ensure_vector_index

            engine = get_engine()
            migrate(engine)
            ensure_vector_index(engine, DIMS)
            yield engine
        finally:
            if engine is not None:
                engine.dispose()
            clear_caches(engine_too=True)
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


@contextlib.contextmanager
def dagster_storage(engine: sa.Engine) -> Iterator[str]:
    """A database for Dagster's runs, event logs and schedules next to the benchmark's, dropped at the
    end; yields its psycopg2 URL (what `DAGSTER_PG_URL` holds for `scripts/start.sh`)."""
    name = f"{engine.url.database}_dagster"
    admin = sa.create_engine(engine.url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield engine.url.set(drivername="postgresql+psycopg2", database=name).render_as_string(False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextlib.contextmanager
def dagster_instance(engine: sa.Engine, classes: dict[str, dict[str, str]] | None = None) -> Iterator[Any]:
    """A Dagster instance on PostgreSQL storage, as `scripts/start.sh` runs it: the storage classes of
    dagster_home/dagster.yaml (or `classes`: storage key -> module and class), pointed at a database of
    the benchmark's."""
    import dagster as dg
    import yaml

    config = yaml.safe_load((ROOT / "dagster_home" / "dagster.yaml").read_text())
    with dagster_storage(engine) as url:
        overrides = {
            key: {**config[key], **(classes or {}).get(key, {}), "config": {"postgres_url": url}}
            for key in ("run_storage", "event_log_storage", "schedule_storage")
        }
        with dg.instance_for_test(overrides=overrides) as instance:
            yield instance


def _serve_standin(
    latency: float, rpm_limit: int | None, tpm_limit: int | None, dense: bool, ports: Any, stop: Any
) -> None:
    from pipeline.openai_standin import StandinServer

    server = StandinServer(rpm_limit=rpm_limit, tpm_limit=tpm_limit).start()
    server.latency = latency
    server.dense_vectors = dense
    ports.put(server.port)
    stop.wait()
    server.stop()


@contextlib.contextmanager
def standin(
    latency: float = 0.0,
    rpm_limit: int | None = None,
    tpm_limit: int | None = None,
    own_process: bool = False,
    dense_vectors: bool = False,
) -> Iterator[Any]:
    """The project's OpenAI stand-in on loopback, with OPENAI_API_KEY/OPENAI_BASE_URL pointing at it.

    `own_process`: serve from a separate process, as a remote provider would, so that computing and
    encoding the vectors does not compete for this process's GIL (the stand-in is then not inspectable,
    and None is yielded). `dense_vectors`: vectors with every component set, as OpenAI's are, for
    benchmarks that store and index them (see embedder.embed_batch)."""
    from pipeline.openai_standin import StandinServer

    saved = {k: os.environ.get(k) for k in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    if own_process:
        ctx = multiprocessing.get_context("spawn")
        ports, stop = ctx.Queue(), ctx.Event()
        proc = ctx.Process(
            target=_serve_standin,
            args=(latency, rpm_limit, tpm_limit, dense_vectors, ports, stop),
            daemon=True,
        )
        proc.start()
        try:
            set_env(
                OPENAI_API_KEY=DUMMY_API_KEY, OPENAI_BASE_URL=f"http://127.0.0.1:{ports.get(timeout=60)}/v1"
            )
            yield None
        finally:
            set_env(**saved)
            stop.set()
            proc.join(10)
            if proc.is_alive():
                proc.kill()
        return
    server = StandinServer(rpm_limit=rpm_limit, tpm_limit=tpm_limit)
    server.start()
    try:
        server.latency = latency
        server.dense_vectors = dense_vectors
        set_env(OPENAI_API_KEY=DUMMY_API_KEY, OPENAI_BASE_URL=server.base_url)
        yield server
    finally:
        set_env(**saved)
        server.stop()


def checkpoint(engine: sa.Engine) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("CHECKPOINT"))


def server_settings(engine: sa.Engine, names: Sequence[str]) -> dict[str, str]:
    with engine.connect() as conn:
        return {n: conn.execute(sa.text(f"SHOW {n}")).scalar_one() for n in names}


# ---------------------------------------------------------------- Dagster: the sensor driven in process


@dataclass
class SensorDriver:
    """Runs the real content_change_sensor against an instance and executes its run requests in
    process, like tests/helpers.py, and records how long each tick and run took."""

    instance: Any
    cursor: str | None = None
    tick_seconds: list[float] = field(default_factory=list)
    run_seconds: list[float] = field(default_factory=list)
    step_seconds: dict[str, float] = field(default_factory=dict)
    runs: int = 0

    def __post_init__(self) -> None:
        # Load the code location before anything is timed (a daemon has it loaded already).
        import pipeline.definitions  # noqa: F401

    def tick(self) -> Any:
        import dagster as dg

        from pipeline.definitions import defs
        from pipeline.resources.database import DatabaseResource
        from pipeline.sensors.change_sensor import content_change_sensor

        started = time.perf_counter()
        with dg.build_sensor_context(
            instance=self.instance,
            cursor=self.cursor,
            resources={"database": DatabaseResource()},
            definitions=defs,
        ) as ctx:
            outcome = content_change_sensor(ctx)
        self.tick_seconds.append(time.perf_counter() - started)
        if isinstance(outcome, dg.SkipReason):
            return outcome
        for request in outcome.dynamic_partitions_requests or []:
            if isinstance(request, dg.AddDynamicPartitionsRequest):
                self.instance.add_dynamic_partitions(
                    request.partitions_def_name, list(request.partition_keys)
                )
            else:
                for key in request.partition_keys:
                    self.instance.delete_dynamic_partition(request.partitions_def_name, key)
        self.cursor = outcome.cursor
        return outcome

    def execute(self, request: Any) -> Any:
        import dagster as dg

        from pipeline.assets.embeddings import embedding_assets
        from pipeline.checks.embedding_checks import embedding_checks
        from pipeline.definitions import defs

        started = time.perf_counter()
        run = dg.materialize(
            [*embedding_assets, *embedding_checks],
            selection=request.asset_selection,
            partition_key=request.partition_key,
            tags=request.tags,
            instance=self.instance,
            resources=defs.resources,
            raise_on_error=True,
        )
        self.run_seconds.append(time.perf_counter() - started)
        self.runs += 1
        for event in run.all_events:
            if event.event_type_value == "STEP_SUCCESS":
                step = "checks" if event.step_key.endswith("_health") else "embedding_asset"
                duration = event.event_specific_data.duration_ms / 1000
                self.step_seconds[step] = self.step_seconds.get(step, 0.0) + duration
        return run

    def sync(self, max_ticks: int = 20) -> None:
        """Tick and execute until the sensor has nothing more to request."""
        import dagster as dg

        for _ in range(max_ticks):
            outcome = self.tick()
            requests = [] if isinstance(outcome, dg.SkipReason) else outcome.run_requests or []
            if not requests:
                return
            for request in requests:
                self.execute(request)
        raise RuntimeError("the sensor kept requesting runs")


# ---------------------------------------------------------------- bulk content


ADJECTIVES = [
    "slow-roasted", "grilled", "crispy", "smoked", "braised", "wood-fired", "pan-seared", "charred",
    "poached", "spiced", "herb-crusted", "glazed", "fermented", "hand-pulled", "stone-baked", "cured",
]  # fmt: skip
MAINS = [
    "chicken thigh", "pork belly", "sea bass", "lamb shoulder", "aubergine", "tofu", "beef short rib",
    "king prawns", "duck breast", "cauliflower", "salmon", "mushroom risotto", "gnocchi", "squid",
    "halloumi", "ramen", "pizza", "tacos", "dumplings", "burger",
]  # fmt: skip
SIDES = [
    "tomato", "basil", "mozzarella", "miso butter", "pickled shallots", "charred corn", "lemon aioli",
    "black garlic", "chili oil", "salsa verde", "wild greens", "sesame", "roasted peppers", "kimchi",
    "pecorino", "fennel", "harissa yoghurt", "potato puree", "smoked almonds", "ginger broth",
]  # fmt: skip
FINISHES = [
    "toasted breadcrumbs", "fresh herbs", "a squeeze of lime", "crispy onions", "sea salt flakes",
    "parmesan shavings", "pomegranate seeds", "spring onion", "a drizzle of honey", "cracked pepper",
]  # fmt: skip
CATEGORIES = ["Starters", "Mains", "Desserts", "Sides", "Specials"]

_MENU_SQL = """
INSERT INTO menu_items (business_id, name, category, description, price, dietary_tags)
SELECT b.ids[1 + (g % cardinality(b.ids))],
       initcap(w.main[1 + ((x.h / 7) % cardinality(w.main))]) || ' no. ' || g,
       w.cats[1 + ((x.h / 3) % cardinality(w.cats))],
       initcap(w.adj[1 + (x.h % cardinality(w.adj))]) || ' '
         || w.main[1 + ((x.h / 7) % cardinality(w.main))]
         || ' with ' || w.side[1 + ((x.h / 131) % cardinality(w.side))]
         || ' and ' || w.side[1 + ((x.h / 2621) % cardinality(w.side))]
         || ', finished with ' || w.fin[1 + ((x.h / 52391) % cardinality(w.fin))]
         || '. Serves ' || (1 + x.h % 4) || '.',
       round((5 + (x.h % 3000) / 100.0)::numeric, 2),
       CASE WHEN x.h % 5 = 0 THEN ARRAY['vegetarian'] WHEN x.h % 7 = 0 THEN ARRAY['gluten-free']
            ELSE '{}'::text[] END
FROM generate_series(1, :n) g
CROSS JOIN LATERAL (SELECT abs(hashint8(g + :seed)) AS h) x
CROSS JOIN (SELECT CAST(:ids AS bigint[]) AS ids) b
CROSS JOIN (SELECT CAST(:adj AS text[]) AS adj, CAST(:main AS text[]) AS main, CAST(:side AS text[]) AS side,
                   CAST(:fin AS text[]) AS fin, CAST(:cats AS text[]) AS cats) w
"""


def add_businesses(engine: sa.Engine, count: int, prefix: str = "bench") -> list[int]:
    with engine.begin() as conn:
        return list(
            conn.execute(
                sa.text(
                    "INSERT INTO businesses (slug, name) SELECT :p || '-' || g, 'Bench ' || g"
                    " FROM generate_series(1, :n) g RETURNING id"
                ),
                {"p": prefix, "n": count},
            ).scalars()
        )


def add_menu_items(engine: sa.Engine, business_ids: Sequence[int], rows: int, seed: int = 0) -> None:
    """Bulk-load rows like an import would (one INSERT ... SELECT generate_series); the capture
    triggers queue one change per row."""
    with engine.begin() as conn:
        conn.execute(
            sa.text(_MENU_SQL),
            {
                "n": rows,
                "seed": seed,
                "ids": list(business_ids),
                "adj": ADJECTIVES,
                "main": MAINS,
                "side": SIDES,
                "fin": FINISHES,
                "cats": CATEGORIES,
            },
        )


def ledger_mark(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT coalesce(max(id), 0) FROM usage_ledger")).scalar_one())


def ledger_since(engine: sa.Engine, mark: int, workload: str) -> dict[str, Any]:
    with engine.connect() as conn:
        row = conn.execute(
            sa.text(
                "SELECT count(*), count(*) FILTER (WHERE status = 'ok'), coalesce(sum(input_tokens), 0),"
                " coalesce(sum(output_tokens), 0),"
                " coalesce(sum(input_count) FILTER (WHERE status = 'ok'), 0),"
                " coalesce(sum(latency_ms), 0), coalesce(sum(cost_usd), 0),"
                " count(*) FILTER (WHERE http_status = 429)"
                " FROM usage_ledger WHERE id > :m AND workload = :w"
            ),
            {"m": mark, "w": workload},
        ).one()
    return {
        "calls": int(row[0]),
        "calls_ok": int(row[1]),
        "input_tokens": int(row[2]),
        "output_tokens": int(row[3]),
        "inputs_ok": int(row[4]),
        "latency_ms_sum": int(row[5]),
        "cost_usd": row[6],
        "calls_429": int(row[7]),
    }


# ---------------------------------------------------------------- raw vectors (binary COPY)

EMBEDDING_COLUMNS = (
    "id", "business_id", "content_type", "content_id", "chunk_index", "chunk_count", "content_hash",
    "model", "dimensions", "token_count", "chunk_text", "embedding",
)  # fmt: skip
EMBEDDING_TYPES = (
    "int8", "int8", "text", "int8", "int4", "int4", "text", "text", "int4", "int4", "text", "vector",
)  # fmt: skip


# A scratch table with content_embeddings' columns, constraints and storage (vectors inline), no indexes.
EMBEDDINGS_LIKE = "LIKE content_embeddings INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE"


def embeddings_storage_options(conn: sa.Connection) -> list[str]:
    """content_embeddings' storage parameters (toast_tuple_target), which LIKE does not copy."""
    return list(
        conn.execute(
            sa.text("SELECT unnest(reloptions) FROM pg_class WHERE oid = 'content_embeddings'::regclass")
        ).scalars()
    )


def create_embeddings_like(conn: sa.Connection, table: str) -> None:
    """A scratch table stored as content_embeddings is: its columns, storage and storage parameters."""
    options = embeddings_storage_options(conn)
    conn.execute(sa.text(f"CREATE TABLE {table} ({EMBEDDINGS_LIKE})"))
    if options:
        conn.execute(sa.text(f"ALTER TABLE {table} SET ({', '.join(options)})"))


def random_unit_vectors(count: int, dims: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((count, dims), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def embedding_rows(
    docs: Sequence[tuple[int, int, str, int]], vectors: np.ndarray, first_id: int = 1
) -> list[tuple]:
    """content_embeddings rows for (content_id, business_id, text, tokens) documents."""
    return [
        (first_id + i, b, "menu_item", cid, 0, 1, sha256_hex(text), MODEL, DIMS, tokens, text, vectors[i])
        for i, (cid, b, text, tokens) in enumerate(docs)
    ]


def copy_embeddings(engine: sa.Engine, table: str, rows: Sequence[tuple]) -> None:
    """Binary COPY of content_embeddings-shaped rows, committed."""
    from pgvector.psycopg import register_vector

    raw = engine.raw_connection()
    try:
        conn = raw.driver_connection
        register_vector(conn)
        write_embedding_rows(conn, table, rows)
        conn.commit()
    finally:
        raw.close()


def write_embedding_rows(conn: Any, table: str, rows: Sequence[tuple]) -> None:
    """One binary COPY of content_embeddings-shaped rows on a psycopg connection with pgvector
    registered, in its open transaction."""
    with conn.cursor() as cur:
        columns = ", ".join(EMBEDDING_COLUMNS)
        with cur.copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(list(EMBEDDING_TYPES))
            for row in rows:
                copy.write_row(row)


def copy_out(engine: sa.Engine, query: str) -> bytes:
    """The rows of `query` in PostgreSQL's binary COPY format."""
    raw = engine.raw_connection()
    try:
        buffer = bytearray()
        with (
            raw.driver_connection.cursor() as cur,
            cur.copy(f"COPY ({query}) TO STDOUT (FORMAT BINARY)") as copy,
        ):
            for block in copy:
                buffer += block
        return bytes(buffer)
    finally:
        raw.close()


def copy_in(engine: sa.Engine, table: str, data: bytes) -> None:
    """Binary COPY of pre-encoded rows (from copy_out of a table with the same columns), committed."""
    raw = engine.raw_connection()
    try:
        conn = raw.driver_connection
        with conn.cursor() as cur, cur.copy(f"COPY {table} FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(data)
        conn.commit()
    finally:
        raw.close()


def index_definitions(engine: sa.Engine, table: str, new_table: str) -> list[str]:
    """CREATE INDEX statements for every index of `table` (primary key and unique constraint
    included), rewritten for `new_table`."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT indexname, indexdef FROM pg_indexes"
                " WHERE schemaname = current_schema() AND tablename = :t ORDER BY indexname"
            ),
            {"t": table},
        ).all()
    statements = []
    for i, (name, definition) in enumerate(rows):
        rewritten, count = re.subn(
            rf"INDEX {re.escape(name)} ON (\S+\.)?{re.escape(table)} ",
            rf"INDEX {new_table}_idx{i} ON \g<1>{new_table} ",
            definition,
        )
        if count != 1:
            raise RuntimeError(f"cannot rewrite index definition: {definition}")
        statements.append(rewritten)
    return statements


def build_side_by_side(
    engine: sa.Engine, statements: Sequence[tuple[str, str]], at_once: int, parallel_workers: int
) -> float:
    """Seconds to run CREATE INDEX `statements` (each with its maintenance_work_mem), `at_once` sessions
    side by side, each build with `parallel_workers` parallel workers."""
    todo = list(statements)
    lock = threading.Lock()

    def session() -> None:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text(f"SET max_parallel_maintenance_workers = {int(parallel_workers)}"))
            while True:
                with lock:
                    if not todo:
                        return
                    statement, memory = todo.pop(0)
                conn.execute(sa.text("SELECT set_config('maintenance_work_mem', :m, false)"), {"m": memory})
                conn.execute(sa.text(statement))

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max(1, at_once)) as pool:
        for done in [pool.submit(session) for _ in range(max(1, at_once))]:
            done.result()  # a failed build fails the benchmark
    return time.perf_counter() - started


def drop_indexes(engine: sa.Engine, table: str, definition_contains: str) -> None:
    with engine.begin() as conn:
        names = conn.execute(
            sa.text("SELECT indexname FROM pg_indexes WHERE tablename = :t AND indexdef LIKE :d"),
            {"t": table, "d": f"%{definition_contains}%"},
        ).scalars()
        for name in list(names):
            conn.execute(sa.text(f"DROP INDEX {name}"))


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


@contextlib.contextmanager
def index_build_watch(engine: sa.Engine, every: float = 0.1) -> Iterator[dict[str, float]]:
    """Seconds from entry to the first and the last sighting of a CREATE INDEX in progress on the server
    (pg_stat_progress_create_index, sampled every `every` s): splits a sync into loading and index build."""
    seen: dict[str, float] = {}
    stop = threading.Event()
    started = time.perf_counter()

    def poll() -> None:
        with engine.connect() as conn:
            while not stop.wait(every):
                busy = conn.execute(
                    sa.text("SELECT count(*) FROM pg_stat_progress_create_index")
                ).scalar_one()
                conn.commit()
                if busy:
                    seen.setdefault("first", time.perf_counter() - started)
                    seen["last"] = time.perf_counter() - started

    watcher = threading.Thread(target=poll, name="index-build-watch", daemon=True)
    watcher.start()
    try:
        yield seen
    finally:
        stop.set()
        watcher.join()
