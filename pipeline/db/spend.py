"""SQL for spend counters: a request reserves its worst-case cost before it is sent and settles to the
actual cost after, under row locks, so no cap (operation, user per day, global per day) is ever passed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

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
    run_id: str,
    user: str,
    amount: Decimal,
    day_cap: Decimal,
    user_cap: Decimal,
    op_cap: Decimal,
) -> int:
    """Reserve `amount` for one request of `run_id`, or raise BudgetExceededError; returns the
    reservation's id, for settle()."""
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
    return int(
        conn.execute(
            sa.text(
                "INSERT INTO spend_reservations (operation_id, run_id, requested_by, amount_usd)"
                " VALUES (:id, :run, :u, :a) RETURNING id"
            ),
            {"id": op_id, "run": run_id, "u": user, "a": amount},
        ).scalar_one()
    )


def settle(conn: Connection, op_id: int, user: str, reservation_id: int, actual: Decimal) -> None:
    """Record a request's actual cost today and give back its reservation, unless that was already given
    back (its run was taken for dead): then only the cost is recorded, and nothing is given back twice."""
    _ensure_counters(conn, user)
    _lock_operation(conn, op_id)  # reserve()'s lock order: the operation, then the counters
    given_back = conn.execute(
        sa.text("DELETE FROM spend_reservations WHERE id = :id RETURNING requested_by, day, amount_usd"),
        {"id": reservation_id},
    ).all()
    _lock_counters(conn, [user, *(r[0] for r in given_back)], [r[1] for r in given_back])
    _give_back(conn, op_id, given_back)
    conn.execute(
        sa.text("UPDATE column_batch_operations SET spent_usd = spent_usd + :c WHERE id = :id"),
        {"c": actual, "id": op_id},
    )
    conn.execute(
        sa.text(
            "UPDATE spend_counters SET spent_usd = spent_usd + :c WHERE day = current_date"
            " AND scope IN ('global', :u)"
        ),
        {"c": actual, "u": f"user:{user}"},
    )


def _lock_operation(conn: Connection, op_id: int) -> None:
    conn.execute(sa.text("SELECT 1 FROM column_batch_operations WHERE id = :id FOR UPDATE"), {"id": op_id})


def _lock_counters(conn: Connection, users: Sequence[str], days: Sequence[date | None]) -> None:
    """Lock the global and these users' counters of today and `days` in one fixed order (scope, day), as
    reserve() does, so that concurrent reservers and settlers cannot deadlock."""
    conn.execute(
        sa.text(
            "SELECT 1 FROM spend_counters WHERE scope = ANY(CAST(:scopes AS text[]))"
            " AND (day = current_date OR day = ANY(CAST(:days AS date[]))) ORDER BY scope, day FOR UPDATE"
        ),
        {"scopes": ["global", *sorted({f"user:{u}" for u in users})], "days": [d for d in days if d]},
    )


def release_run_reservations(conn: Connection, op_id: int, run_ids: list[str]) -> Decimal:
    """Give back the reservations of runs that are over (the run a retry takes over from was killed
    mid-request): else the operation's, the user's and the global caps would stay that much lower."""
    _lock_operation(conn, op_id)
    rows = conn.execute(
        sa.text(
            "DELETE FROM spend_reservations WHERE operation_id = :id AND run_id = ANY(:runs)"
            " RETURNING requested_by, day, amount_usd"
        ),
        {"id": op_id, "runs": run_ids},
    ).all()
    _lock_counters(conn, [r[0] for r in rows], [r[1] for r in rows])
    return _give_back(conn, op_id, rows)


def release_reservations(conn: Connection, op_id: int, user: str) -> Decimal:
    """Give back everything the operation holds. Only for an operation no live run works on (its run died
    mid-request and never settled). Returns the amount released."""
    held = Decimal(
        conn.execute(
            sa.text("SELECT reserved_usd FROM column_batch_operations WHERE id = :id FOR UPDATE"),
            {"id": op_id},
        ).scalar_one()
    )
    rows = conn.execute(
        sa.text(
            "DELETE FROM spend_reservations WHERE operation_id = :id RETURNING requested_by, day, amount_usd"
        ),
        {"id": op_id},
    ).all()
    # What was reserved before reservations had rows (migration 0020) is taken off today's counters.
    unrecorded = held - sum((Decimal(r[2]) for r in rows), Decimal(0))
    if unrecorded > 0:
        rows = [*rows, (user, None, unrecorded)]
    _lock_counters(conn, [r[0] for r in rows], [r[1] for r in rows])
    return _give_back(conn, op_id, rows)


def _give_back(conn: Connection, op_id: int, rows: Sequence[Sequence[Any]]) -> Decimal:
    """Take (requested_by, day or None for today, amount) reservations off the operation and the counters;
    the caller holds their locks."""
    total = sum((Decimal(r[2]) for r in rows), Decimal(0))
    if total > 0:
        conn.execute(
            sa.text(
                "UPDATE column_batch_operations SET reserved_usd = greatest(reserved_usd - :r, 0) WHERE id = :id"
            ),
            {"r": total, "id": op_id},
        )
    for user, day, amount in rows:
        conn.execute(
            sa.text(
                "UPDATE spend_counters SET reserved_usd = greatest(reserved_usd - :r, 0)"
                " WHERE day = coalesce(CAST(:day AS date), current_date) AND scope IN ('global', :u)"
            ),
            {"r": amount, "day": day, "u": f"user:{user}"},
        )
    return total
