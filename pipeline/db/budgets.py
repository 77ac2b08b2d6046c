"""SQL for budgets and the spend they are measured against."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.engine import Connection


@dataclass(frozen=True)
class Budget:
    id: int
    scope_type: str
    scope_id: str
    period: str
    amount_usd: Decimal
    thresholds_pct: tuple[int, ...]

    @property
    def scope(self) -> str:
        return self.scope_type if self.scope_type == "global" else f"{self.scope_type}:{self.scope_id}"


def _budget(row: sa.Row) -> Budget:
    return Budget(row.id, row.scope_type, row.scope_id, row.period, row.amount_usd, tuple(row.thresholds_pct))


def list_budgets(conn: Connection) -> list[Budget]:
    rows = conn.execute(sa.text("SELECT * FROM budgets ORDER BY id")).all()
    return [_budget(r) for r in rows]


def create(
    conn: Connection,
    scope_type: str,
    scope_id: str,
    period: str,
    amount: Decimal,
    thresholds: list[int],
    actor: str,
) -> int:
    return conn.execute(
        sa.text(
            "INSERT INTO budgets (scope_type, scope_id, period, amount_usd, thresholds_pct, created_by)"
            " VALUES (:t, :i, :p, :a, :th, :u) RETURNING id"
        ),
        {"t": scope_type, "i": scope_id, "p": period, "a": amount, "th": thresholds, "u": actor},
    ).scalar_one()


def update(conn: Connection, budget_id: int, amount: Decimal | None, thresholds: list[int] | None) -> bool:
    return (
        conn.execute(
            sa.text(
                "UPDATE budgets SET amount_usd = coalesce(:a, amount_usd), thresholds_pct = coalesce(:th, thresholds_pct),"
                " updated_at = now() WHERE id = :id"
            ),
            {"a": amount, "th": thresholds, "id": budget_id},
        ).rowcount
        == 1
    )


def delete(conn: Connection, budget_id: int) -> bool:
    return conn.execute(sa.text("DELETE FROM budgets WHERE id = :id"), {"id": budget_id}).rowcount == 1


def is_numeric_id(text: str) -> bool:
    """A business or operation id as typed: ASCII digits only (`isdigit` also takes '²', which int() refuses)."""
    return text.isascii() and text.isdecimal()


def spent(conn: Connection, budget: Budget, start: date, end: date) -> Decimal:
    """Ledger spend in [start, end) within the budget's scope."""
    scope_sql = {
        "global": "",
        "business": " AND u.business_id = :sid",
        "operation": " AND u.operation_id = :sid",
        "user": " AND u.operation_id IN (SELECT id FROM column_batch_operations WHERE requested_by = :sid)",
    }[budget.scope_type]
    sid: str | int = budget.scope_id
    if budget.scope_type in ("business", "operation"):
        # An id that is no number (written by hand) matches nothing instead of failing every budget's check.
        sid = int(sid) if is_numeric_id(str(sid).strip()) else -1
    return Decimal(
        conn.execute(
            sa.text(
                f"SELECT coalesce(sum(u.cost_usd), 0) FROM usage_ledger u WHERE u.created_at >= :s AND u.created_at < :e"
                f"{scope_sql}"
            ),
            {"s": start, "e": end, "sid": sid},
        ).scalar_one()
    )
