"""SQL that compares every live row's text with the stored vectors: the basis of the per-partition
asset checks, the reconciliation schedule and `pipeline status`."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pipeline.db.vector_models import MODELS_OF_BUSINESSES


@dataclass(frozen=True)
class Coverage:
    content_type: str
    business_id: int
    rows: int  # live rows
    empty: int  # live rows with no text (nothing to embed)
    current: int  # rows with a complete vector set for their current text, model and dimensions
    failed: int  # rows with a failure record for their current text
    orphans: int  # stored vector rows with no live, non-empty source row
    models: tuple[str, ...]  # "model/dimensions" values present in the store

    @property
    def stale(self) -> int:
        """Rows needing work: not current, not empty. Includes failed rows."""
        return self.rows - self.empty - self.current

    def drifted(self, model: str, dims: int) -> bool:
        """Needs a sync the queue did not ask for: stale rows not already waiting on a retry, orphaned
        vectors, or vectors of another model or width."""
        return (
            self.stale > self.failed or self.orphans > 0 or any(m != f"{model}/{dims}" for m in self.models)
        )


def text_hash_sql(column: str) -> str:
    """SQL for a text's content hash: must equal pipeline.lib.chunking.content_hash of the same text."""
    return f"encode(sha256(convert_to({column}, 'UTF8')), 'hex')"


# {rows} narrows the row counts and orphans to named rows; the models present are always the whole
# partition's.
_COVERAGE_SQL = """
WITH docs AS (
    SELECT content_type, content_id, business_id, body, {body_hash} AS h
    FROM content_documents
    WHERE (CAST(:ct AS text) IS NULL OR content_type = :ct)
      AND (CAST(:bs AS bigint[]) IS NULL OR business_id = ANY(CAST(:bs AS bigint[]))){rows}
),
stored AS (
    SELECT content_type, content_id, business_id, content_hash, model, dimensions,
           count(*) AS chunks, max(chunk_count) AS chunk_count
    FROM content_embeddings
    WHERE (CAST(:ct AS text) IS NULL OR content_type = :ct)
      AND (CAST(:bs AS bigint[]) IS NULL OR business_id = ANY(CAST(:bs AS bigint[]))){rows}
    GROUP BY content_type, content_id, business_id, content_hash, model, dimensions
),
per_doc AS (
    SELECT d.content_type, d.business_id, d.body = '' AS is_empty,
           EXISTS (SELECT 1 FROM stored s
                   WHERE s.content_type = d.content_type AND s.content_id = d.content_id
                     AND s.content_hash = d.h AND s.model = :model
                     AND s.dimensions = :dims AND s.chunks = s.chunk_count) AS is_current,
           EXISTS (SELECT 1 FROM embedding_failures f
                   WHERE f.content_type = d.content_type AND f.content_id = d.content_id
                     AND f.content_hash = d.h) AS is_failed
    FROM docs d
),
doc_counts AS (
    SELECT content_type, business_id, count(*) AS rows,
           count(*) FILTER (WHERE is_empty) AS empty,
           count(*) FILTER (WHERE is_current AND NOT is_empty) AS current,
           count(*) FILTER (WHERE is_failed AND NOT is_current AND NOT is_empty) AS failed
    FROM per_doc GROUP BY content_type, business_id
),
orphan_counts AS (
    SELECT s.content_type, s.business_id, sum(s.chunks) AS orphans
    FROM stored s LEFT JOIN docs d ON d.content_type = s.content_type AND d.content_id = s.content_id
    WHERE d.content_id IS NULL OR d.body = '' OR d.business_id <> s.business_id
    GROUP BY s.content_type, s.business_id
),
model_sets AS (
    SELECT content_type, business_id,
           array_agg(DISTINCT model || '/' || dimensions ORDER BY model || '/' || dimensions) AS models
    FROM {models_from}
    WHERE (CAST(:ct AS text) IS NULL OR content_type = :ct)
      AND (CAST(:bs AS bigint[]) IS NULL OR business_id = ANY(CAST(:bs AS bigint[])))
    GROUP BY content_type, business_id
)
SELECT coalesce(c.content_type, o.content_type, m.content_type) AS content_type,
       coalesce(c.business_id, o.business_id, m.business_id) AS business_id,
       coalesce(c.rows, 0), coalesce(c.empty, 0), coalesce(c.current, 0), coalesce(c.failed, 0),
       coalesce(o.orphans, 0), coalesce(m.models, '{{}}')
FROM doc_counts c
FULL JOIN orphan_counts o USING (content_type, business_id)
FULL JOIN model_sets m ON m.content_type = coalesce(c.content_type, o.content_type)
                      AND m.business_id = coalesce(c.business_id, o.business_id)
ORDER BY 2, 1
"""
_ALL_ROWS = _COVERAGE_SQL.format(body_hash=text_hash_sql("body"), rows="", models_from="stored")
_NAMED_ROWS = _COVERAGE_SQL.format(
    body_hash=text_hash_sql("body"),
    rows="\n      AND content_id = ANY(CAST(:ids AS bigint[]))",
    # The models of the whole partition, from a few probes of the model index per business.
    models_from=f"{MODELS_OF_BUSINESSES} e",
)


def coverage(
    conn: Connection,
    model: str,
    dims: int,
    content_type: str | None = None,
    business_ids: list[int] | None = None,
    content_ids: list[int] | None = None,
) -> list[Coverage]:
    """Per (content type, business); `content_ids` counts only those rows (orphans included), and needs
    the content type and businesses named."""
    if content_ids is not None and (content_type is None or business_ids is None):
        raise ValueError("coverage of named rows needs their content type and businesses")
    rows = conn.execute(
        sa.text(_ALL_ROWS if content_ids is None else _NAMED_ROWS),
        {"ct": content_type, "bs": business_ids, "model": model, "dims": dims, "ids": content_ids},
    ).all()
    return [Coverage(r[0], r[1], r[2], r[3], r[4], r[5], int(r[6]), tuple(r[7])) for r in rows]


def partitions_coverage(
    conn: Connection,
    model: str,
    dims: int,
    content_type: str,
    business_ids: list[int],
    content_ids: list[int] | None = None,
) -> dict[int, Coverage]:
    """One query for a run's businesses; a business with no rows and no vectors gets all zeros."""
    found = {c.business_id: c for c in coverage(conn, model, dims, content_type, business_ids, content_ids)}
    return {b: found.get(b) or Coverage(content_type, b, 0, 0, 0, 0, 0, ()) for b in business_ids}
