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


def ensure_vector_index(engine: Engine, dims: int) -> None:
    expression, opclass = index_expression(int(dims))
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                f"CREATE INDEX IF NOT EXISTS content_embeddings_hnsw_{int(dims)} ON content_embeddings "
                f"USING hnsw ({expression} {opclass}) WHERE dimensions = {int(dims)}"
            )
        )
