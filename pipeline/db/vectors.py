"""pgvector plumbing: adapter registration and the HNSW indexes, one per vector width and shard."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from pgvector.psycopg import register_vector
from sqlalchemy.engine import Connection, Engine

from pipeline.lib.index_memory import shard_build_memory

# pgvector indexes `vector` up to 2,000 dimensions and `halfvec` up to 4,000.
MAX_VECTOR_INDEX_DIMS = 2000
MAX_HALFVEC_INDEX_DIMS = 4000
# Businesses spread over this many partial indexes by id. Changing it needs a migration that rebuilds them.
INDEX_SHARDS = 16


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
    return int(business_id) % INDEX_SHARDS


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
) -> bool:
    """Build the width's missing shard indexes (or those of `shards`); True if any was built. Each build
    gets about the `maintenance_work_mem` its shard's graph needs, at most `memory` (see
    pipeline.lib.index_memory). `concurrently` lets loads go on writing meanwhile (CREATE INDEX would
    block them for the build)."""
    expression, opclass = index_expression(int(dims))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        todo = [k for k in missing_shards(conn, dims) if shards is None or k in shards]
        if not todo:
            return False
        rows = vectors_per_shard(conn, dims) if memory else {}
        if workers is not None:
            conn.execute(
                sa.text("SELECT set_config('max_parallel_maintenance_workers', :w, false)"),
                {"w": str(workers)},
            )
        how = "CONCURRENTLY " if concurrently else ""
        try:
            for k in todo:
                if memory:
                    sized = shard_build_memory(rows.get(k, 0), dims, memory)
                    conn.execute(
                        sa.text("SELECT set_config('maintenance_work_mem', :m, false)"), {"m": sized}
                    )
                name = vector_index_name(dims, k)
                conn.execute(sa.text(f"DROP INDEX {how}IF EXISTS {name}"))  # an invalid leftover
                conn.execute(
                    sa.text(
                        f"CREATE INDEX {how}{name} ON content_embeddings"
                        f" USING hnsw ({expression} {opclass}) WHERE {shard_predicate(dims, k)}"
                    )
                )
        finally:
            conn.execute(sa.text("RESET maintenance_work_mem"))
            conn.execute(sa.text("RESET max_parallel_maintenance_workers"))
    return True


def drop_vector_index(
    engine: Engine, dims: int, shards: Sequence[int], lock_timeout: str = "5s"
) -> list[int]:
    """Drop these shards' indexes; returns those dropped (a busy table's lock may not come in time)."""
    dropped = []
    for k in shards:
        with engine.begin() as conn:
            conn.execute(sa.text("SELECT set_config('lock_timeout', :t, true)"), {"t": lock_timeout})
            try:
                conn.execute(sa.text(f"DROP INDEX IF EXISTS {vector_index_name(dims, k)}"))
            except sa.exc.OperationalError:
                return dropped
        dropped.append(k)
    return dropped


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
