"""pgvector plumbing: adapter registration and one HNSW index per vector width."""

from __future__ import annotations

import sqlalchemy as sa
from pgvector.psycopg import register_vector
from sqlalchemy.engine import Connection, Engine

# pgvector indexes `vector` up to 2,000 dimensions and `halfvec` up to 4,000.
MAX_VECTOR_INDEX_DIMS = 2000
MAX_HALFVEC_INDEX_DIMS = 4000


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


def vector_index_name(dims: int) -> str:
    return f"content_embeddings_hnsw_{int(dims)}"


def vector_index_exists(conn: Connection, dims: int) -> bool:
    return conn.execute(
        sa.text("SELECT to_regclass(:n) IS NOT NULL"), {"n": vector_index_name(dims)}
    ).scalar_one()


def ensure_vector_index(
    engine: Engine, dims: int, memory: str | None = None, workers: int | None = None
) -> bool:
    """Build the width's HNSW index unless it exists; True if it was built. `memory` should hold the whole
    graph (pgvector warns and slows down sharply when it does not)."""
    expression, opclass = index_expression(int(dims))
    with engine.begin() as conn:
        if vector_index_exists(conn, dims):
            return False
        if memory:
            conn.execute(sa.text("SELECT set_config('maintenance_work_mem', :m, true)"), {"m": memory})
        if workers is not None:
            conn.execute(
                sa.text("SELECT set_config('max_parallel_maintenance_workers', :w, true)"),
                {"w": str(workers)},
            )
        conn.execute(
            sa.text(
                f"CREATE INDEX IF NOT EXISTS {vector_index_name(dims)} ON content_embeddings "
                f"USING hnsw ({expression} {opclass}) WHERE dimensions = {int(dims)}"
            )
        )
    return True


def drop_vector_index(engine: Engine, dims: int, lock_timeout: str = "5s") -> bool:
    """Drop the width's HNSW index; False if it could not get the table lock in time (busy readers)."""
    with engine.begin() as conn:
        conn.execute(sa.text("SELECT set_config('lock_timeout', :t, true)"), {"t": lock_timeout})
        try:
            conn.execute(sa.text(f"DROP INDEX IF EXISTS {vector_index_name(dims)}"))
        except sa.exc.OperationalError:
            return False
    return True


def count_vectors(conn: Connection, dims: int) -> int:
    return conn.execute(
        sa.text("SELECT count(*) FROM content_embeddings WHERE dimensions = :d"), {"d": dims}
    ).scalar_one()
