"""SQL for `synced_rows`: which rows a run's sync of a partition examined, taken by that run's checks."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection


def record(
    conn: Connection, run_id: str, content_type: str, business_id: int, rows: list[int] | None
) -> None:
    """In the sync's final transaction, so the entry exists exactly when the sync's work is committed."""
    conn.execute(
        sa.text(
            "INSERT INTO synced_rows (run_id, content_type, business_id, content_ids)"
            " VALUES (:r, :ct, :b, CAST(:ids AS bigint[]))"
            # A retried step syncs the partition again: its checks must still verify what the first
            # attempt committed, so the sets merge (NULL, the whole partition, absorbs any set).
            " ON CONFLICT (run_id, content_type, business_id) DO UPDATE SET synced_at = now(),"
            " content_ids = CASE WHEN synced_rows.content_ids IS NULL OR EXCLUDED.content_ids IS NULL"
            " THEN NULL ELSE ARRAY(SELECT DISTINCT unnest(synced_rows.content_ids || EXCLUDED.content_ids))"
            " END"
        ),
        {"r": run_id, "ct": content_type, "b": business_id, "ids": rows},
    )


def take(
    conn: Connection, run_id: str, content_type: str, business_ids: Sequence[int]
) -> dict[int, list[int]]:
    """Remove this run's entries for these businesses; return those whose sync examined only some rows,
    with the rows. A business missing from the result was synced whole (or not at all) and is verified
    whole. Taken in the checks' transaction: a check that fails before committing finds them again."""
    found = conn.execute(
        sa.text(
            "DELETE FROM synced_rows WHERE run_id = :r AND content_type = :ct AND business_id = ANY(:bs)"
            " RETURNING business_id, content_ids"
        ),
        {"r": run_id, "ct": content_type, "bs": list(business_ids)},
    ).all()
    return {b: list(ids) for b, ids in found if ids is not None}
