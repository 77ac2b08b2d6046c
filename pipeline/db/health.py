"""SQL behind the health report and business statistics."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection


def provider_activity(conn: Connection) -> dict[str, Any]:
    row = (
        conn.execute(
            sa.text(
                "SELECT max(created_at) FILTER (WHERE status = 'ok') AS last_success,"
                " max(created_at) FILTER (WHERE status = 'error') AS last_failure,"
                " (SELECT error_type FROM usage_ledger WHERE status = 'error' ORDER BY id DESC LIMIT 1) AS last_error,"
                " count(*) FILTER (WHERE created_at > now() - interval '1 hour') AS requests_last_hour,"
                " count(*) FILTER (WHERE created_at > now() - interval '1 hour' AND status = 'error') AS errors_last_hour,"
                " percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms) FILTER (WHERE created_at > now() - interval '1 hour')"
                " AS latency_p50_ms_last_hour"
                " FROM usage_ledger"
            ),
            {},
        )
        .mappings()
        .one()
    )
    return dict(row)


def sync_activity(conn: Connection) -> dict[str, Any]:
    row = (
        conn.execute(
            sa.text(
                "SELECT (SELECT count(*) FROM content_changes) AS queue_size,"
                " (SELECT extract(epoch FROM now() - min(changed_at)) FROM content_changes) AS oldest_pending_seconds,"
                " (SELECT count(*) FROM embedding_failures) AS failed_rows,"
                " (SELECT count(*) FROM content_embeddings WHERE updated_at > now() - interval '1 hour') AS embedded_last_hour,"
                " (SELECT max(updated_at) FROM content_embeddings) AS last_sync"
            ),
            {},
        )
        .mappings()
        .one()
    )
    return dict(row)


def column_batch_activity(conn: Connection) -> dict[str, Any]:
    row = (
        conn.execute(
            sa.text(
                "SELECT count(*) FILTER (WHERE state = 'running') AS running,"
                " count(*) FILTER (WHERE state = 'queued') AS queued,"
                " count(*) FILTER (WHERE state = 'paused') AS paused,"
                " count(*) FILTER (WHERE state = 'failed' AND finished_at > now() - interval '1 day') AS failed_last_day"
                " FROM column_batch_operations"
            ),
            {},
        )
        .mappings()
        .one()
    )
    return dict(row)


def database_size_bytes(conn: Connection) -> int:
    return int(conn.execute(sa.text("SELECT pg_database_size(current_database())")).scalar_one())


def business_stats(conn: Connection, business_id: int | None = None) -> list[dict[str, Any]]:
    where = "WHERE b.id = :b" if business_id is not None else ""
    rows = conn.execute(
        sa.text(
            "SELECT b.id AS business_id, b.name,"
            " (SELECT max(updated_at) FROM content_embeddings e WHERE e.business_id = b.id) AS last_sync,"
            " (SELECT coalesce(sum(cost_usd), 0) FROM usage_ledger u WHERE u.business_id = b.id) AS cost_to_date_usd,"
            " (SELECT coalesce(sum(cost_usd), 0) FROM usage_ledger u WHERE u.business_id = b.id"
            "   AND u.created_at >= date_trunc('month', now())) AS cost_this_month_usd"
            f" FROM businesses b {where} ORDER BY b.id"
        ),
        {"b": business_id},
    )
    return [dict(r) for r in rows.mappings()]
