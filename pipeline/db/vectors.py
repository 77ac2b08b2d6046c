"""pgvector plumbing: adapter registration and the HNSW indexes, one per vector width and shard."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import sqlalchemy as sa
from pgvector.psycopg import register_vector
from sqlalchemy.engine import Connection, Engine

from pipeline.lib.index_memory import memory_bytes, shard_build_memory

log = logging.getLogger(__name__)

# pgvector indexes `vector` up to 2,000 dimensions and `halfvec` up to 4,000.
MAX_VECTOR_INDEX_DIMS = 2000
MAX_HALFVEC_INDEX_DIMS = 4000
# Businesses spread over this many partial indexes by id. Changing it needs a migration that rebuilds them.
INDEX_SHARDS = 16
_SHARD_LOCK_CLASS = 7_316_005


def use_vectors(conn: Connection) -> None:
    """Let this connection send and receive numpy arrays as pgvector values (once per connection)."""
    info = conn.connection.info
    if not info.get("pgvector"):
        register_vector(conn.connection.dbapi_connection)
        info["pgvector"] = True


def index_expression(dims: int) -> tuple[str, str]:
    """The cast the index is built on and its operator class; queries must use the same cast."""
    if dims <= MAX_VECTOR_INDEX_DIMS:
        return f"(embedding::vector({dims}))", "vector_cosine_ops"
    if dims <= MAX_HALFVEC_INDEX_DIMS:
        return f"(embedding::halfvec({dims}))", "halfvec_cosine_ops"
    raise ValueError(
        f"{dims} dimensions cannot be indexed by pgvector (max {MAX_HALFVEC_INDEX_DIMS}); "
        "set EMBEDDING_DIMENSIONS to a smaller value."
    )


def shard_of(business_id: int) -> int:
    """The index shard a business's vectors are in: one partial HNSW index per shard and width, so that a
    bulk load can build each shard's graph as soon as its businesses are loaded, while it loads the rest."""
    remainder = abs(int(business_id)) % INDEX_SHARDS  # SQL's %: the sign of the dividend
    return remainder if business_id >= 0 else -remainder


def shard_predicate(dims: int, shard: int) -> str:
    """The partial index's WHERE; a query must state it (with literals) for the planner to use the index."""
    return f"dimensions = {int(dims)} AND business_id % {INDEX_SHARDS} = {int(shard)}"


def vector_index_name(dims: int, shard: int) -> str:
    return f"content_embeddings_hnsw_{int(dims)}_s{int(shard)}"


def missing_shards(conn: Connection, dims: int) -> list[int]:
    """Shards of this width without a valid index (a failed CREATE INDEX CONCURRENTLY leaves an invalid one)."""
    valid = set(
        conn.execute(
            sa.text(
                "SELECT c.relname FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid"
                " WHERE c.relname LIKE :p AND i.indisvalid"
            ),
            {"p": f"content_embeddings_hnsw_{int(dims)}_s%"},
        ).scalars()
    )
    return [k for k in range(INDEX_SHARDS) if vector_index_name(dims, k) not in valid]


def vector_index_exists(conn: Connection, dims: int) -> bool:
    """Every shard of the width is indexed."""
    return not missing_shards(conn, dims)


def ensure_vector_index(
    engine: Engine,
    dims: int,
    memory: str | None = None,
    workers: int | None = None,
    shards: Sequence[int] | None = None,
    concurrently: bool = False,
    timeout: str | None = None,
) -> bool:
    """Build the width's missing shard indexes (or those of `shards`); True if any was built. Each build
    gets about the `maintenance_work_mem` its shard's graph needs, at most `memory` (see
    pipeline.lib.index_memory). `concurrently` lets loads and searches go on meanwhile (CREATE INDEX would
    block writes for the build); `timeout` bounds each build (CONCURRENTLY waits for every older
    transaction in the database, a long pg_dump's included). A shard another session is building is left
    to it.

    `workers`: with several shards to build (plainly), that many build side by side, one process each,
    which beat one build at a time with that many parallel workers (16 shards of 625 vectors: 1.3 s
    against 2.4 s; of 6,250 about even), and `memory` is shared between them. CREATE INDEX CONCURRENTLY
    builds of one table wait for each other, so those (and a lone shard) go one at a time with `workers`
    parallel workers."""
    with engine.connect() as conn:
        todo = deque(k for k in missing_shards(conn, dims) if shards is None or k in shards)
        rows = vectors_per_shard(conn, dims) if memory and todo else {}
    if not todo:
        return False
    side_by_side = 1 if concurrently or not workers else min(workers, len(todo))
    if memory and side_by_side > 1:
        memory = f"{memory_bytes(memory) // side_by_side >> 10}kB"
    settings = {
        "max_parallel_maintenance_workers": None
        if workers is None
        else str(workers if side_by_side == 1 else 0),
        "statement_timeout": timeout,
    }

    def build_from_queue() -> bool:
        built = False
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for name, value in settings.items():
                if value is not None:
                    conn.execute(sa.text("SELECT set_config(:n, :v, false)"), {"n": name, "v": value})
            try:
                while True:
                    try:
                        shard = todo.popleft()  # atomic: the check and the pop in one step
                    except IndexError:
                        break
                    built |= _build_shard(conn, dims, shard, rows, memory, concurrently)
            except BaseException:
                todo.clear()  # the other sessions stop after their current build
                raise
            finally:
                for name in ("maintenance_work_mem", *settings):
                    conn.execute(sa.text(f"RESET {name}"))
        return built

    if side_by_side == 1:
        return build_from_queue()
    with ThreadPoolExecutor(side_by_side, thread_name_prefix="index-build") as pool:
        outcomes = [pool.submit(build_from_queue) for _ in range(side_by_side)]
    errors = [o.exception() for o in outcomes if o.exception() is not None]
    for error in errors[1:]:
        log.warning("a side-by-side HNSW shard build failed as well: %s", error)
    if errors:
        raise errors[0]
    return any(o.result() for o in outcomes)


def _build_shard(
    conn: Connection, dims: int, shard: int, rows: dict[int, int], memory: str | None, concurrently: bool
) -> bool:
    how = "CONCURRENTLY " if concurrently else ""
    expression, opclass = index_expression(int(dims))
    with _shard_lock(conn, dims, shard) as mine:
        if not mine or shard not in missing_shards(conn, dims):
            return False
        if memory:
            sized = shard_build_memory(rows.get(shard, 0), dims, memory)
            conn.execute(sa.text("SELECT set_config('maintenance_work_mem', :m, false)"), {"m": sized})
        name = vector_index_name(dims, shard)
        # Under the shard's lock an invalid index is a dead build's leftover, not one in progress. Dropped
        # CONCURRENTLY even before a plain build: a plain DROP would queue searches behind it while it
        # waited for a build beside it.
        conn.execute(sa.text(f"DROP INDEX CONCURRENTLY IF EXISTS {name}"))
        conn.execute(
            sa.text(
                f"CREATE INDEX {how}IF NOT EXISTS {name} ON content_embeddings"
                f" USING hnsw ({expression} {opclass}) WHERE {shard_predicate(dims, shard)}"
            )
        )
        return True


def drop_vector_index(
    engine: Engine, dims: int, shards: Sequence[int], lock_timeout: str = "5s"
) -> list[int]:
    """Drop these shards' indexes, CONCURRENTLY so that searches and writes go on; returns those dropped
    (not one another session is building, nor when the table's lock does not come in time)."""
    dropped = []
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("SELECT set_config('lock_timeout', :t, false)"), {"t": lock_timeout})
        try:
            for k in shards:
                with _shard_lock(conn, dims, k) as mine:
                    if not mine:
                        continue
                    try:
                        conn.execute(
                            sa.text(f"DROP INDEX CONCURRENTLY IF EXISTS {vector_index_name(dims, k)}")
                        )
                    except sa.exc.OperationalError:
                        break
                    dropped.append(k)
        finally:
            conn.execute(sa.text("RESET lock_timeout"))
    return dropped


@contextmanager
def _shard_lock(conn: Connection, dims: int, shard: int) -> Iterator[bool]:
    """The session lock for building or dropping one shard's index; yields whether it was free."""
    key = {"c": _SHARD_LOCK_CLASS, "k": int(dims) * 64 + int(shard)}
    mine = conn.execute(sa.text("SELECT pg_try_advisory_lock(:c, :k)"), key).scalar_one()
    try:
        yield mine
    finally:
        if mine:
            conn.execute(sa.text("SELECT pg_advisory_unlock(:c, :k)"), key)


def analyze_vectors(engine: Engine, lock_timeout_ms: int = 5000) -> None:
    """Fresh planner statistics after a bulk load. Until autovacuum's analyze (a minute or more later) the
    planner still sees the table as it was before, and a change run right after a 100k load had its
    check read every vector of its businesses through the model index instead of the named rows through
    the state index (220 ms against 30-38 ms). Best effort: a table another session holds (a manual
    VACUUM) is left to autovacuum rather than holding up or failing the sync."""
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text(f"SET lock_timeout = {int(lock_timeout_ms)}"))
            conn.execute(sa.text("ANALYZE content_embeddings"))
            conn.execute(sa.text("RESET lock_timeout"))
    except sa.exc.DBAPIError as exc:
        log.warning("ANALYZE content_embeddings after the load skipped: %s", exc.orig)


def vectors_per_shard(conn: Connection, dims: int) -> dict[int, int]:
    return dict(
        conn.execute(
            sa.text(
                f"SELECT business_id % {INDEX_SHARDS}, count(*) FROM content_embeddings"
                " WHERE dimensions = :d GROUP BY 1"
            ),
            {"d": dims},
        ).all()
    )
