"""SQL for alerts: each condition fires once per (kind, scope, period, level)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection


def fire(
    conn: Connection, kind: str, scope: str, period_key: str, level: str, severity: str, message: str
) -> bool:
    """Record an alert unless the same one already fired; True if it is new."""
    return (
        conn.execute(
            sa.text(
                "INSERT INTO alerts (kind, scope, period_key, level, severity, message)"
                " VALUES (:k, :s, :p, :l, :sev, :m) ON CONFLICT (kind, scope, period_key, level) DO NOTHING"
            ),
            {"k": kind, "s": scope, "p": period_key, "l": level, "sev": severity, "m": message},
        ).rowcount
        == 1
    )


def unnotified(conn: Connection, limit: int = 100) -> list[dict[str, Any]]:
    rows = conn.execute(
        sa.text(
            "SELECT id, kind, scope, period_key, level, severity, message, fired_at FROM alerts"
            " WHERE notified_at IS NULL ORDER BY id LIMIT :n FOR UPDATE SKIP LOCKED"
        ),
        {"n": limit},
    )
    return [dict(r) for r in rows.mappings()]


def mark_notified(conn: Connection, ids: list[int]) -> None:
    conn.execute(sa.text("UPDATE alerts SET notified_at = now() WHERE id = ANY(:i)"), {"i": ids})


def active(conn: Connection, since_hours: int = 24) -> list[dict[str, Any]]:
    rows = conn.execute(
        sa.text(
            "SELECT kind, scope, level, severity, message, fired_at FROM alerts WHERE resolved_at IS NULL"
            " AND fired_at > now() - make_interval(hours => :h) AND severity <> 'info' ORDER BY fired_at DESC"
        ),
        {"h": since_hours},
    )
    return [dict(r) for r in rows.mappings()]
