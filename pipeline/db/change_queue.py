"""SQL the change sensor uses to find pending work without ever skipping a slow writer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection


@dataclass(frozen=True)
class PartitionChanges:
    content_type: str
    business_id: int
    changes: int
    last_seq: int


@dataclass(frozen=True)
class ChangePage:
    partitions: list[PartitionChanges]
    rows: int
    last_txid: str | None
    last_seq: int | None


# Only rows of transactions older than the oldest still running (the snapshot's xmin) are read:
# those transactions are finished, so no row can later appear behind the cursor.
_PAGE_SQL = """
WITH page AS (
    SELECT txid, seq, content_type, business_id FROM content_changes
    WHERE (txid, seq) > (CAST(:tx AS xid8), :seq)
      AND txid < pg_snapshot_xmin(pg_current_snapshot())
    ORDER BY txid, seq
    LIMIT :lim
),
last AS (SELECT txid::text AS tx, seq FROM page ORDER BY txid DESC, seq DESC LIMIT 1)
SELECT content_type, business_id, count(*), max(seq),
       (SELECT tx FROM last), (SELECT seq FROM last), (SELECT count(*) FROM page)
FROM page GROUP BY content_type, business_id
"""


def read_change_page(conn: Connection, after_txid: str, after_seq: int, limit: int) -> ChangePage:
    rows = conn.execute(sa.text(_PAGE_SQL), {"tx": after_txid, "seq": after_seq, "lim": limit}).all()
    if not rows:
        return ChangePage([], 0, None, None)
    parts = [PartitionChanges(r[0], r[1], r[2], r[3]) for r in rows]
    return ChangePage(parts, rows[0][6], rows[0][4], rows[0][5])


def due_retries(conn: Connection, max_attempts: int) -> list[tuple[str, int, str]]:
    """(content_type, business_id, marker) for partitions with failed rows whose retry is due."""
    rows = conn.execute(
        sa.text(
            "SELECT content_type, business_id, extract(epoch FROM max(next_retry_at))::bigint"
            " FROM embedding_failures WHERE next_retry_at <= now() AND attempts < :max"
            " GROUP BY content_type, business_id"
        ),
        {"max": max_attempts},
    ).all()
    return [(r[0], r[1], str(r[2])) for r in rows]


def stuck_partitions(conn: Connection, older_than_minutes: int) -> list[tuple[str, int]]:
    """Partitions whose queued changes have waited too long: their run failed or never started."""
    rows = conn.execute(
        sa.text(
            "SELECT DISTINCT content_type, business_id FROM content_changes"
            " WHERE changed_at < now() - make_interval(mins => :m)"
        ),
        {"m": older_than_minutes},
    ).all()
    return [(r[0], r[1]) for r in rows]


def backlog(conn: Connection) -> tuple[int, float | None]:
    """(pending changes, age in seconds of the oldest)."""
    row = conn.execute(
        sa.text("SELECT count(*), extract(epoch FROM now() - min(changed_at)) FROM content_changes")
    ).one()
    return int(row[0]), (float(row[1]) if row[1] is not None else None)


def backlog_per_shard(conn: Connection, shards: int) -> dict[int, int]:
    """Pending changes per index shard (business_id % shards)."""
    return dict(
        conn.execute(
            sa.text("SELECT business_id % :s, count(*) FROM content_changes GROUP BY 1"), {"s": shards}
        ).all()
    )


def shard_has_backlog(conn: Connection, shard: int, shards: int) -> bool:
    return conn.execute(
        sa.text("SELECT EXISTS (SELECT 1 FROM content_changes WHERE business_id % :s = :k)"),
        {"s": shards, "k": shard},
    ).scalar_one()


def sample_queued_texts(conn: Connection, sample: int = 200) -> list[str]:
    """The current text of the oldest queued rows: what a bulk load will send, without reading it all."""
    return list(
        conn.execute(
            sa.text(
                "SELECT d.body FROM"
                " (SELECT DISTINCT content_type, content_id FROM"
                "   (SELECT content_type, content_id FROM content_changes ORDER BY changed_at LIMIT :n) oldest) c"
                " JOIN content_documents d USING (content_type, content_id) WHERE d.body <> ''"
            ),
            {"n": sample},
        ).scalars()
    )


def business_ids(conn: Connection) -> list[int]:
    return list(conn.execute(sa.text("SELECT id FROM businesses ORDER BY id")).scalars())


def drop_changes_of_deleted_businesses(conn: Connection, business_ids: Sequence[int]) -> int:
    """Queued changes of businesses that no longer exist: no run will consume them (their partitions are
    gone and their vectors went with the business), so they would otherwise wait forever."""
    if not business_ids:
        return 0
    return conn.execute(
        sa.text(
            "DELETE FROM content_changes c WHERE c.business_id = ANY(:ids)"
            " AND NOT EXISTS (SELECT 1 FROM businesses b WHERE b.id = c.business_id)"
        ),
        {"ids": sorted(set(business_ids))},
    ).rowcount
