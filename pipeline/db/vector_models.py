"""SQL for which models and widths a business's stored vectors use, in a few probes of the model index
(migration 0023) rather than a read of every vector."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

_FOREIGN = sa.text(
    "SELECT EXISTS (SELECT 1 FROM content_embeddings WHERE business_id = :b AND content_type = :ct"
    " AND (model, dimensions) < (CAST(:m AS text), CAST(:d AS int)))"
    " OR EXISTS (SELECT 1 FROM content_embeddings WHERE business_id = :b AND content_type = :ct"
    " AND (model, dimensions) > (CAST(:m AS text), CAST(:d AS int)))"
)

# The distinct (model, dimensions) of each business in :bs for content type :ct, as rows
# (content_type, business_id, model, dimensions): a loose index scan, each step the next value after the
# last one found, so its cost follows the models in use, not the vectors.
MODELS_OF_BUSINESSES = """(
    WITH RECURSIVE found(content_type, business_id, model, dimensions) AS (
        SELECT CAST(:ct AS text), b, f.model, f.dimensions
        FROM unnest(CAST(:bs AS bigint[])) AS b
        CROSS JOIN LATERAL (
            SELECT model, dimensions FROM content_embeddings
            WHERE business_id = b AND content_type = :ct ORDER BY model, dimensions LIMIT 1
        ) f
        UNION ALL
        SELECT found.content_type, found.business_id, n.model, n.dimensions
        FROM found
        CROSS JOIN LATERAL (
            SELECT e.model, e.dimensions FROM content_embeddings e
            WHERE e.business_id = found.business_id AND e.content_type = found.content_type
              AND (e.model, e.dimensions) > (found.model, found.dimensions)
            ORDER BY e.model, e.dimensions LIMIT 1
        ) n
    )
    SELECT * FROM found
)"""


def has_foreign_vectors(conn: Connection, content_type: str, business_id: int, model: str, dims: int) -> bool:
    """Are any of the business's vectors of another model or width? Two probes, whatever its size."""
    params = {"ct": content_type, "b": business_id, "m": model, "d": dims}
    return bool(conn.execute(_FOREIGN, params).scalar_one())
