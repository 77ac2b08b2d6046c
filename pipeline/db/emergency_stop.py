"""SQL for the global emergency stop switch and its audit trail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine


@dataclass(frozen=True)
class StopState:
    active: bool
    changed_by: str | None
    reason: str | None
    changed_at: datetime | None


def read(conn: Connection) -> StopState:
    row = conn.execute(
        sa.text("SELECT active, changed_by, reason, changed_at FROM emergency_stop WHERE id = 1")
    ).first()
    return StopState(*row) if row else StopState(False, None, None, None)


def is_active(engine: Engine) -> bool:
    # Asked before every provider call: autocommit makes it one round trip instead of three.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        return read(conn).active


def switch(conn: Connection, active: bool, actor: str, reason: str) -> bool:
    """Flip the switch; returns False when it already was in that position (still audited)."""
    before = read(conn).active
    conn.execute(
        sa.text(
            "UPDATE emergency_stop SET active = :a, changed_by = :u, reason = :r, changed_at = now() WHERE id = 1"
        ),
        {"a": active, "u": actor, "r": reason},
    )
    conn.execute(
        sa.text("INSERT INTO emergency_stop_audit (active, actor, reason) VALUES (:a, :u, :r)"),
        {"a": active, "u": actor, "r": reason},
    )
    return before != active


def audit(conn: Connection, limit: int = 20) -> list[dict[str, object]]:
    rows = conn.execute(
        sa.text("SELECT active, actor, reason, at FROM emergency_stop_audit ORDER BY id DESC LIMIT :n"),
        {"n": limit},
    )
    return [dict(r) for r in rows.mappings()]
