"""SQL for admin actions: the audit trail, retries, cleanup and the regeneration swap."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from pipeline.db.coverage import text_hash_sql


def start_action(engine: Engine, action: str, actor: str, params: dict[str, Any]) -> int:
    with engine.begin() as conn:
        return conn.execute(
            sa.text("INSERT INTO admin_actions (action, actor, params) VALUES (:a, :u, :p) RETURNING id"),
            {"a": action, "u": actor, "p": json.dumps(params, default=str)},
        ).scalar_one()


def finish_action(engine: Engine, action_id: int, status: str, result: dict[str, Any]) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE admin_actions SET status = :s, result = :r, finished_at = now() WHERE id = :id"),
            {"s": status, "r": json.dumps(result, default=str), "id": action_id},
        )


def history(conn: Connection, limit: int = 20) -> list[dict[str, Any]]:
    rows = conn.execute(sa.text("SELECT * FROM admin_actions ORDER BY id DESC LIMIT :n"), {"n": limit})
    return [dict(r) for r in rows.mappings()]


def retry_failures(conn: Connection, business_id: int | None) -> int:
    """Make failed rows due now, with a fresh attempt budget; the change sensor launches their runs."""
    where = " WHERE business_id = :b" if business_id is not None else ""
    return conn.execute(
        sa.text(f"UPDATE embedding_failures SET attempts = 0, next_retry_at = now(){where}"),
        {"b": business_id},
    ).rowcount


def enqueue_partitions(conn: Connection, partitions: list[tuple[str, int]]) -> None:
    """Queue a synthetic change per partition so the sensor syncs it (used by reconcile)."""
    if partitions:
        conn.execute(
            sa.text(
                "INSERT INTO content_changes (content_type, content_id, business_id, operation)"
                " VALUES (:ct, 0, :b, 'T')"
            ),
            [{"ct": ct, "b": b} for ct, b in partitions],
        )


def cleanup(conn: Connection, days: int) -> dict[str, int]:
    """Delete history older than `days` days; never anything newer. Orphaned vectors always go."""
    cutoff = {"d": days}
    counts = {}
    for name, sql in (
        ("usage_rows", "DELETE FROM usage_ledger WHERE created_at < now() - make_interval(days => :d)"),
        ("alerts", "DELETE FROM alerts WHERE fired_at < now() - make_interval(days => :d)"),
        (
            "operations",
            "DELETE FROM column_batch_operations WHERE state IN ('completed', 'cancelled', 'failed')"
            " AND finished_at < now() - make_interval(days => :d)",
        ),
        ("admin_actions", "DELETE FROM admin_actions WHERE started_at < now() - make_interval(days => :d)"),
        # Left by runs whose checks never ran; a day is far longer than any run.
        (
            "synced_rows",
            "DELETE FROM synced_rows WHERE synced_at < now() - make_interval(days => least(:d, 1))",
        ),
    ):
        counts[name] = conn.execute(sa.text(sql), cutoff).rowcount
    counts["orphaned_vectors"] = conn.execute(
        sa.text(
            "DELETE FROM content_embeddings e WHERE NOT EXISTS (SELECT 1 FROM content_documents d"
            " WHERE d.content_type = e.content_type AND d.content_id = e.content_id AND d.business_id = e.business_id"
            " AND d.body <> '')"
        )
    ).rowcount
    return counts


def swap_in_shadow(conn: Connection, business_id: int, regeneration_id: int) -> int:
    """Replace the business's live vectors with the regenerated set, atomically."""
    conn.execute(sa.text("DELETE FROM content_embeddings WHERE business_id = :b"), {"b": business_id})
    moved = conn.execute(
        sa.text(
            "INSERT INTO content_embeddings (business_id, content_type, content_id, chunk_index, chunk_count,"
            " content_hash, model, dimensions, token_count, chunk_text, embedding)"
            " SELECT business_id, content_type, content_id, chunk_index, chunk_count, content_hash, model, dimensions,"
            " token_count, chunk_text, embedding FROM content_embeddings_shadow WHERE regeneration_id = :r"
        ),
        {"r": regeneration_id},
    ).rowcount
    conn.execute(
        sa.text("DELETE FROM content_embeddings_shadow WHERE regeneration_id = :r"), {"r": regeneration_id}
    )
    conn.execute(sa.text("DELETE FROM embedding_failures WHERE business_id = :b"), {"b": business_id})
    # A row edited while the shadow set was built got its new vector from a change sync, which the swap
    # just replaced with the old text's (or removed, for a new row); its queue entry is consumed, so it
    # is queued again.
    conn.execute(
        sa.text(
            "INSERT INTO content_changes (content_type, content_id, business_id, operation)"
            " SELECT d.content_type, d.content_id, d.business_id, 'U' FROM content_documents d"
            " WHERE d.business_id = :b AND d.body <> '' AND NOT EXISTS (SELECT 1 FROM content_embeddings e"
            " WHERE e.content_type = d.content_type AND e.content_id = d.content_id"
            f" AND e.content_hash = {text_hash_sql('d.body')})"
        ),
        {"b": business_id},
    )
    return moved


def write_shadow(
    conn: Connection,
    regeneration_id: int,
    business_id: int,
    content_type: str,
    model: str,
    dims: int,
    chunks: list[Any],
) -> None:
    from pipeline.db.embedding_store import copy_chunks

    copy_chunks(
        conn,
        "content_embeddings_shadow",
        business_id,
        content_type,
        model,
        dims,
        chunks,
        regeneration_id=regeneration_id,
    )


def business_documents(conn: Connection, content_type: str, business_id: int) -> list[tuple[int, str]]:
    rows = conn.execute(
        sa.text(
            "SELECT content_id, body FROM content_documents WHERE content_type = :ct AND business_id = :b"
            " ORDER BY content_id"
        ),
        {"ct": content_type, "b": business_id},
    ).all()
    return [(r[0], r[1]) for r in rows]
