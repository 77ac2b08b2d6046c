"""SQL for usage reports: the daily rollup, period summaries, series and exports."""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection


def rebuild_day(conn: Connection, day: date) -> int:
    """Recompute one day of usage_daily from the ledger (idempotent)."""
    conn.execute(sa.text("DELETE FROM usage_daily WHERE day = :d"), {"d": day})
    return conn.execute(
        sa.text(
            "INSERT INTO usage_daily (day, business_id, model, endpoint, workload, requests, errors, input_tokens,"
            " output_tokens, cost_usd, latency_p50_ms, latency_p95_ms)"
            " SELECT :d, coalesce(business_id, 0), model, endpoint, workload, count(*), count(*) FILTER (WHERE status = 'error'),"
            " sum(input_tokens), sum(output_tokens), sum(cost_usd),"
            " percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms), percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms)"
            " FROM usage_ledger WHERE created_at >= :d AND created_at < CAST(:d AS date) + 1"
            " GROUP BY coalesce(business_id, 0), model, endpoint, workload"
        ),
        {"d": day},
    ).rowcount


def _scope(business_id: int | None) -> tuple[str, dict[str, Any]]:
    return (" AND business_id = :b", {"b": business_id}) if business_id is not None else ("", {})


def summary(conn: Connection, start: date, end: date, business_id: int | None = None) -> dict[str, Any]:
    where, params = _scope(business_id)
    row = (
        conn.execute(
            sa.text(
                "SELECT count(*) AS requests, count(*) FILTER (WHERE status = 'error') AS errors,"
                " coalesce(sum(input_tokens), 0) AS input_tokens, coalesce(sum(output_tokens), 0) AS output_tokens,"
                " coalesce(sum(cost_usd), 0) AS cost_usd,"
                " percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms) AS latency_p50_ms,"
                " percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) AS latency_p95_ms"
                f" FROM usage_ledger WHERE created_at >= :s AND created_at < :e{where}"
            ),
            {"s": start, "e": end, **params},
        )
        .mappings()
        .one()
    )
    result = dict(row)
    result["success_rate"] = 1 - row["errors"] / row["requests"] if row["requests"] else None
    return result


def breakdown(
    conn: Connection, start: date, end: date, business_id: int | None = None
) -> list[dict[str, Any]]:
    where, params = _scope(business_id)
    rows = conn.execute(
        sa.text(
            "SELECT coalesce(business_id, 0) AS business_id, model, endpoint, workload, count(*) AS requests,"
            " count(*) FILTER (WHERE status = 'error') AS errors, sum(input_tokens) AS input_tokens,"
            " sum(output_tokens) AS output_tokens, sum(cost_usd) AS cost_usd"
            f" FROM usage_ledger WHERE created_at >= :s AND created_at < :e{where}"
            " GROUP BY 1, 2, 3, 4 ORDER BY cost_usd DESC"
        ),
        {"s": start, "e": end, **params},
    )
    return [dict(r) for r in rows.mappings()]


def top_consumers(conn: Connection, start: date, end: date, limit: int = 5) -> list[dict[str, Any]]:
    rows = conn.execute(
        sa.text(
            "SELECT u.business_id, b.name, sum(u.cost_usd) AS cost_usd, sum(u.input_tokens + u.output_tokens) AS tokens"
            " FROM usage_ledger u LEFT JOIN businesses b ON b.id = u.business_id"
            " WHERE u.created_at >= :s AND u.created_at < :e AND u.business_id IS NOT NULL"
            " GROUP BY 1, 2 ORDER BY cost_usd DESC LIMIT :n"
        ),
        {"s": start, "e": end, "n": limit},
    )
    return [dict(r) for r in rows.mappings()]


def daily_series(
    conn: Connection, start: date, end: date, business_id: int | None = None
) -> list[dict[str, Any]]:
    where, params = _scope(business_id)
    rows = conn.execute(
        sa.text(
            "SELECT d::date AS day, coalesce(sum(u.cost_usd), 0) AS cost_usd,"
            " coalesce(sum(u.input_tokens + u.output_tokens), 0) AS tokens, count(u.*) AS requests"
            " FROM generate_series(CAST(:s AS date), CAST(:e AS date) - 1, interval '1 day') AS d"
            " LEFT JOIN usage_daily u ON u.day = d::date"
            f"{where.replace('business_id', 'u.business_id')}"
            " GROUP BY 1 ORDER BY 1"
        ),
        {"s": start, "e": end, **params},
    )
    return [dict(r) for r in rows.mappings()]


def ledger_rows(
    conn: Connection, start: date, end: date, business_id: int | None = None
) -> list[dict[str, Any]]:
    where, params = _scope(business_id)
    rows = conn.execute(
        sa.text(f"SELECT * FROM usage_ledger WHERE created_at >= :s AND created_at < :e{where} ORDER BY id"),
        {"s": start, "e": end, **params},
    )
    return [dict(r) for r in rows.mappings()]


def business_exists(conn: Connection, business_id: int) -> bool:
    return (
        conn.execute(sa.text("SELECT 1 FROM businesses WHERE id = :b"), {"b": business_id}).first()
        is not None
    )


def operation_exists(conn: Connection, operation_id: int) -> bool:
    row = conn.execute(sa.text("SELECT 1 FROM column_batch_operations WHERE id = :i"), {"i": operation_id})
    return row.first() is not None


def daily_health(conn: Connection, start: date, end: date) -> dict[date, dict[str, Any]]:
    """Per day: cost, requests, errors and p95 latency across all usage (for spike/latency baselines)."""
    rows = conn.execute(
        sa.text(
            "SELECT created_at::date AS day, sum(cost_usd) AS cost_usd, count(*) AS requests,"
            " count(*) FILTER (WHERE status = 'error') AS errors,"
            " percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) AS p95"
            " FROM usage_ledger WHERE created_at >= :s AND created_at < :e GROUP BY 1"
        ),
        {"s": start, "e": end},
    )
    return {r["day"]: dict(r) for r in rows.mappings()}


def column_batch_spend(conn: Connection, day: date) -> Any:
    return conn.execute(
        sa.text(
            "SELECT coalesce(sum(cost_usd), 0) FROM usage_ledger WHERE workload = 'column_batch'"
            " AND created_at >= :d AND created_at < CAST(:d AS date) + 1"
        ),
        {"d": day},
    ).scalar_one()


def daily_costs(conn: Connection, start: date, end: date, business_id: int | None = None) -> dict[date, Any]:
    where, params = _scope(business_id)
    rows = conn.execute(
        sa.text(
            f"SELECT created_at::date, sum(cost_usd) FROM usage_ledger WHERE created_at >= :s AND created_at < :e{where}"
            " GROUP BY 1"
        ),
        {"s": start, "e": end, **params},
    ).all()
    return {r[0]: r[1] for r in rows}


def embedding_usage_by_model(conn: Connection, start: date, end: date) -> list[dict[str, Any]]:
    rows = conn.execute(
        sa.text(
            "SELECT u.model, coalesce(e.dimensions, 1536) AS dimensions, sum(u.input_tokens) AS input_tokens"
            " FROM usage_ledger u LEFT JOIN LATERAL (SELECT dimensions FROM content_embeddings c WHERE c.model = u.model"
            " LIMIT 1) e ON true WHERE u.endpoint = 'embeddings' AND u.status = 'ok' AND u.created_at >= :s"
            " AND u.created_at < :e GROUP BY 1, 2"
        ),
        {"s": start, "e": end},
    )
    return [dict(r) for r in rows.mappings()]


def row_embeds_per_day(conn: Connection, day: date) -> list[dict[str, Any]]:
    rows = conn.execute(
        sa.text(
            "SELECT business_id, content_type, content_id, embeds, tokens, cost_usd FROM row_embed_counts"
            " WHERE day = :d ORDER BY embeds DESC LIMIT 100"
        ),
        {"d": day},
    )
    return [dict(r) for r in rows.mappings()]


def column_batch_packing(conn: Connection, start: date, end: date) -> list[dict[str, Any]]:
    rows = conn.execute(
        sa.text(
            "SELECT o.id AS operation_id, o.model, o.rows_per_request,"
            " (SELECT count(*) FROM usage_ledger u WHERE u.operation_id = o.id AND u.status = 'ok') AS requests,"
            " (SELECT count(*) FROM column_batch_rows r WHERE r.operation_id = o.id AND r.status = 'done') AS rows"
            " FROM column_batch_operations o WHERE o.created_at >= :s AND o.created_at < :e"
        ),
        {"s": start, "e": end},
    )
    return [dict(r) for r in rows.mappings()]


def wasted_spend(conn: Connection, start: date, end: date) -> tuple[Any, Any]:
    """(cost of failed requests, cost of rows generated more than once)."""
    failed = conn.execute(
        sa.text(
            "SELECT coalesce(sum(cost_usd), 0) FROM usage_ledger WHERE status = 'error' AND created_at >= :s"
            " AND created_at < :e"
        ),
        {"s": start, "e": end},
    ).scalar_one()
    retried = conn.execute(
        sa.text(
            "SELECT coalesce(sum(cost_usd * (attempts - 1) / attempts), 0) FROM column_batch_rows"
            " WHERE attempts > 1 AND updated_at >= :s AND updated_at < :e"
        ),
        {"s": start, "e": end},
    ).scalar_one()
    return failed, retried
