"""SQL for the embedding sync of one (content type, business) partition."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pipeline.db.vectors import use_vectors


@dataclass(frozen=True)
class ChunkVector:
    content_id: int
    chunk_index: int
    chunk_count: int
    content_hash: str
    token_count: int
    text: str
    vector: np.ndarray


# Vectors travel by binary COPY into a per-session staging table, then one INSERT ... SELECT upserts them:
# formatting and parsing 1,536 floats as text per row costs more than everything else in a write.
_STAGE_COLUMNS = (
    "business_id, content_type, content_id, chunk_index, chunk_count, content_hash, model, dimensions,"
    " token_count, chunk_text, embedding"
)
_STAGE_TYPES = ("int8", "text", "int8", "int4", "int4", "text", "text", "int4", "int4", "text", "vector")
_CREATE_STAGE = sa.text(
    "CREATE TEMP TABLE IF NOT EXISTS embedding_stage ("
    " business_id bigint, content_type text, content_id bigint, chunk_index integer, chunk_count integer,"
    " content_hash text, model text, dimensions integer, token_count integer, chunk_text text, embedding vector"
    ") ON COMMIT DELETE ROWS"
)
_UPSERT_FROM_STAGE = sa.text(
    # Draining the stage in the same statement keeps a second write in one transaction from re-sending.
    f"WITH staged AS (DELETE FROM embedding_stage RETURNING {_STAGE_COLUMNS})"
    f" INSERT INTO content_embeddings ({_STAGE_COLUMNS}) SELECT {_STAGE_COLUMNS} FROM staged"
    " ON CONFLICT (content_type, content_id, model, dimensions, content_hash, chunk_index)"
    " DO UPDATE SET embedding = EXCLUDED.embedding, chunk_text = EXCLUDED.chunk_text, updated_at = now()"
)

# A row that moved to another business leaves its vector under the old one until that partition syncs;
# content ids are unique across businesses, so the new owner's write removes it (else the unique key fails).
# Only while the row belongs to the writer now: a sync whose snapshot predates a move must never take the
# new owner's vector (its write fails on the unique key instead, and its retry sees the move).
_DELETE_MOVED_AWAY = sa.text(
    "DELETE FROM content_embeddings e WHERE e.content_type = :ct AND e.content_id = ANY(:ids)"
    " AND e.business_id <> :b AND EXISTS (SELECT 1 FROM content_documents d"
    " WHERE d.content_type = :ct AND d.content_id = e.content_id AND d.business_id = :b)"
)

_DELETE_SUPERSEDED = sa.text(
    "DELETE FROM content_embeddings e"
    " USING unnest(CAST(:ids AS bigint[]), CAST(:hashes AS text[])) AS k(id, h)"
    " WHERE e.content_type = :ct AND e.business_id = :b AND e.content_id = k.id"
    " AND (e.content_hash <> k.h OR e.model <> :m OR e.dimensions <> :d)"
)


def copy_chunks(
    conn: Connection,
    table: str,
    business_id: int,
    content_type: str,
    model: str,
    dims: int,
    chunks: Sequence[ChunkVector],
    *,
    regeneration_id: int | None = None,
) -> None:
    """Binary COPY of chunk rows into content_embeddings, the staging table or (with `regeneration_id`)
    the shadow table, in the caller's transaction."""
    lead: tuple[int, ...] = () if regeneration_id is None else (regeneration_id,)
    columns = _STAGE_COLUMNS if regeneration_id is None else f"regeneration_id, {_STAGE_COLUMNS}"
    use_vectors(conn)
    sql = f"COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)"
    with conn.connection.driver_connection.cursor() as cur, cur.copy(sql) as copy:
        copy.set_types(["int8"] * len(lead) + list(_STAGE_TYPES))
        for c in chunks:
            copy.write_row(
                (*lead, business_id, content_type, c.content_id, c.chunk_index, c.chunk_count,
                 c.content_hash, model, dims, c.token_count, c.text, c.vector)
            )  # fmt: skip


def write_vectors(
    conn: Connection,
    content_type: str,
    business_id: int,
    model: str,
    dims: int,
    chunks: Sequence[ChunkVector],
    *,
    conflict_free: bool = False,
) -> None:
    """New vectors first, then the ones they supersede, in the caller's transaction: a reader sees the
    old vector or the new one, never none. `conflict_free`: the caller knows no stored chunk has the same
    (content, hash, model, width), so the rows are copied straight into the table; otherwise they go
    through a staging table and an upsert."""
    if not chunks:
        return
    current = {c.content_id: c.content_hash for c in chunks}
    conn.execute(_DELETE_MOVED_AWAY, {"ct": content_type, "ids": list(current), "b": business_id})
    if conflict_free:
        copy_chunks(conn, "content_embeddings", business_id, content_type, model, dims, chunks)
    else:
        conn.execute(_CREATE_STAGE)
        copy_chunks(conn, "embedding_stage", business_id, content_type, model, dims, chunks)
        conn.execute(_UPSERT_FROM_STAGE)
    delete_superseded(conn, content_type, business_id, model, dims, current)
    clear_failures(conn, content_type, list(current))


def delete_vectors(conn: Connection, content_type: str, business_id: int, content_ids: Sequence[int]) -> int:
    if not content_ids:
        return 0
    result = conn.execute(
        sa.text(
            "DELETE FROM content_embeddings WHERE content_type = :ct AND business_id = :b"
            " AND content_id = ANY(:ids)"
        ),
        {"ct": content_type, "b": business_id, "ids": list(content_ids)},
    )
    # Only this business's failure records: a row that moved away may be failing under its new owner.
    clear_failures(conn, content_type, content_ids, business_id)
    return result.rowcount


def delete_superseded(
    conn: Connection, content_type: str, business_id: int, model: str, dims: int, current: dict[int, str]
) -> None:
    if current:
        conn.execute(
            _DELETE_SUPERSEDED,
            {
                "ids": list(current),
                "hashes": list(current.values()),
                "ct": content_type,
                "b": business_id,
                "m": model,
                "d": dims,
            },
        )


def clear_failures(
    conn: Connection, content_type: str, content_ids: Sequence[int], business_id: int | None = None
) -> None:
    conn.execute(
        sa.text(
            "DELETE FROM embedding_failures WHERE content_type = :ct AND content_id = ANY(:ids)"
            " AND (CAST(:b AS bigint) IS NULL OR business_id = :b)"
        ),
        {"ct": content_type, "ids": list(content_ids), "b": business_id},
    )


def record_failures(
    conn: Connection,
    content_type: str,
    business_id: int,
    failures: Sequence[tuple[int, str, int, datetime | None]],
    error_type: str,
    error: str,
) -> None:
    """Upsert (content_id, content_hash, attempts, next_retry_at) failure records."""
    conn.execute(
        sa.text(
            "INSERT INTO embedding_failures (content_type, content_id, business_id, content_hash, attempts,"
            " error_type, last_error, next_retry_at)"
            " VALUES (:ct, :id, :b, :h, :a, :et, :err, :next)"
            # business_id too: a row that moved business must be retried by its new business's syncs.
            " ON CONFLICT (content_type, content_id) DO UPDATE SET business_id = EXCLUDED.business_id,"
            " content_hash = EXCLUDED.content_hash,"
            " attempts = EXCLUDED.attempts, error_type = EXCLUDED.error_type,"
            " last_error = EXCLUDED.last_error,"
            " last_failed_at = now(), next_retry_at = EXCLUDED.next_retry_at"
        ),
        [
            {
                "ct": content_type,
                "id": cid,
                "b": business_id,
                "h": h,
                "a": attempts,
                "et": error_type,
                "err": error[:2000],
                "next": next_at,
            }
            for cid, h, attempts, next_at in failures
        ],
    )


def rehome_failures(
    conn: Connection, content_type: str, business_id: int, content_ids: Sequence[int]
) -> None:
    """Failure records of rows no longer in this business: moved to the row's business (whose syncs and
    retry runs will then pick it up), or removed with the row."""
    if not content_ids:
        return
    params = {"ct": content_type, "b": business_id, "ids": list(content_ids)}
    conn.execute(
        sa.text(
            "UPDATE embedding_failures f SET business_id = d.business_id FROM content_documents d"
            " WHERE f.content_type = :ct AND f.business_id = :b AND f.content_id = ANY(:ids)"
            " AND d.content_type = f.content_type AND d.content_id = f.content_id"
        ),
        params,
    )
    conn.execute(
        sa.text(
            "DELETE FROM embedding_failures"
            " WHERE content_type = :ct AND business_id = :b AND content_id = ANY(:ids)"
        ),
        params,
    )


def consume_changes(conn: Connection, content_type: str, business_id: int, seqs: Sequence[int]) -> None:
    """Remove exactly the queue rows this sync read; changes committed since stay queued."""
    if seqs:
        conn.execute(
            sa.text(
                "DELETE FROM content_changes WHERE content_type = :ct AND business_id = :b AND seq = ANY(:s)"
            ),
            {"ct": content_type, "b": business_id, "s": list(seqs)},
        )


def count_embeds(
    conn: Connection, content_type: str, business_id: int, rows: Sequence[tuple[int, int, Decimal]]
) -> None:
    """Add (content_id, tokens, cost) embeddings to today's per-row counters."""
    if not rows:
        return
    ids, tokens, costs = zip(*rows, strict=True)
    # One statement over arrays: a parameter set per row costs more client time than the upsert itself.
    conn.execute(
        sa.text(
            "INSERT INTO row_embed_counts (business_id, content_type, content_id, embeds, tokens, cost_usd)"
            " SELECT :b, :ct, r.id, 1, r.t, r.c"
            " FROM unnest(CAST(:ids AS bigint[]), CAST(:tokens AS bigint[]), CAST(:costs AS numeric[]))"
            " AS r(id, t, c)"
            " ON CONFLICT (day, content_type, content_id) DO UPDATE SET"
            " embeds = row_embed_counts.embeds + 1, tokens = row_embed_counts.tokens + EXCLUDED.tokens,"
            " cost_usd = row_embed_counts.cost_usd + EXCLUDED.cost_usd"
        ),
        {
            "b": business_id,
            "ct": content_type,
            "ids": list(ids),
            "tokens": list(tokens),
            "costs": list(costs),
        },
    )
