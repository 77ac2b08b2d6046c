"""SQL for spend counters: a request reserves its worst-case cost before it is sent and settles to the
actual cost after, under row locks, so no cap (operation, user per day, global per day) is ever passed."""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pipeline.column_batch.estimate import SpendToday


class BudgetExceededError(RuntimeError):
    def __init__(self, scope: str, cap: Decimal, committed: Decimal, amount: Decimal) -> None:
        super().__init__(
            f"Budget {scope} would be exceeded: cap ${cap}, already spent or reserved ${committed}, "
            f"this request needs up to ${amount} (over by ${committed + amount - cap})."
        )
        self.scope = scope


def _ensure_counters(conn: Connection, user: str) -> None:
    conn.execute(
        sa.text(
            "INSERT INTO spend_counters (scope, day) VALUES ('global', current_date), (:u, current_date)"
            " ON CONFLICT DO NOTHING"
        ),
        {"u": f"user:{user}"},
    )


def spend_today(conn: Connection, user: str) -> SpendToday:
    rows = dict(
        conn.execute(
            sa.text(
                "SELECT scope, spent_usd + reserved_usd FROM spend_counters"
                " WHERE day = current_date AND scope IN ('global', :u)"
            ),
            {"u": f"user:{user}"},
        ).all()
    )
    return SpendToday(Decimal(rows.get("global", 0)), Decimal(rows.get(f"user:{user}", 0)))


def reserve(
    conn: Connection,
    op_id: int,
    user: str,
    amount: Decimal,
    day_cap: Decimal,
    user_cap: Decimal,
    op_cap: Decimal,
) -> None:
    _ensure_counters(conn, user)
    # Fixed lock order (operation, then counters by scope) so concurrent reservers cannot deadlock.
    op = conn.execute(
        sa.text("SELECT spent_usd + reserved_usd FROM column_batch_operations WHERE id = :id FOR UPDATE"),
        {"id": op_id},
    ).scalar_one()
    counters = dict(
        conn.execute(
            sa.text(
                "SELECT scope, spent_usd + reserved_usd FROM spend_counters WHERE day = current_date"
                " AND scope IN ('global', :u) ORDER BY scope FOR UPDATE"
            ),
            {"u": f"user:{user}"},
        ).all()
    )
    for scope, cap, committed in (
        (f"operation {op_id}", op_cap, op),
        ("global daily", day_cap, counters["global"]),
        (f"user {user} daily", user_cap, counters[f"user:{user}"]),
    ):
        if committed + amount > cap:
            raise BudgetExceededError(scope, cap, Decimal(committed), amount)
    conn.execute(
        sa.text("UPDATE column_batch_operations SET reserved_usd = reserved_usd + :a WHERE id = :id"),
        {"a": amount, "id": op_id},
    )
    conn.execute(
        sa.text(
            "UPDATE spend_counters SET reserved_usd = reserved_usd + :a WHERE day = current_date"
            " AND scope IN ('global', :u)"
        ),
        {"a": amount, "u": f"user:{user}"},
    )


def settle(conn: Connection, op_id: int, user: str, reserved: Decimal, actual: Decimal) -> None:
    _ensure_counters(conn, user)
    conn.execute(
        sa.text(
            "UPDATE column_batch_operations SET reserved_usd = greatest(reserved_usd - :r, 0),"
            " spent_usd = spent_usd + :c WHERE id = :id"
        ),
        {"r": reserved, "c": actual, "id": op_id},
    )
    conn.execute(
        sa.text(
            "UPDATE spend_counters SET reserved_usd = greatest(reserved_usd - :r, 0),"
            " spent_usd = spent_usd + :c WHERE day = current_date AND scope IN ('global', :u)"
        ),
        {"r": reserved, "c": actual, "u": f"user:{user}"},
    )


def release_reservations(conn: Connection, op_id: int, user: str) -> Decimal:
    """Give back what a run that died mid-request had reserved (it never settled): else the operation's,
    the user's and the global caps would stay that much lower for good. Only for an operation no live run
    works on. Returns the amount released."""
    held = Decimal(
        conn.execute(
            sa.text("SELECT reserved_usd FROM column_batch_operations WHERE id = :id FOR UPDATE"),
            {"id": op_id},
        ).scalar_one()
    )
    if held > 0:
        conn.execute(
            sa.text("UPDATE column_batch_operations SET reserved_usd = 0 WHERE id = :id"), {"id": op_id}
        )
        conn.execute(
            sa.text(
                "UPDATE spend_counters SET reserved_usd = greatest(reserved_usd - :r, 0)"
                " WHERE day = current_date AND scope IN ('global', :u)"
            ),
            {"r": held, "u": f"user:{user}"},
        )
    return held
