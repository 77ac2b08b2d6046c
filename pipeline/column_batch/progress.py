"""Progress of a running operation: the line shown in run logs, and milestone alerts."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine

from pipeline.db import alerts
from pipeline.db import column_batch as store
from pipeline.settings import get_settings


def progress_line(
    op_id: int, p: dict[str, Any], rows_this_run: int, minutes: float, estimated: object
) -> str:
    """done/total, rows per minute, ETA, cost against the estimate, error rate (pure)."""
    rate = rows_this_run / max(minutes, 1e-6)
    eta = p["pending"] / rate if rate else float("inf")
    processed = p["done"] + p["failed"]
    return (
        f"operation {op_id}: {p['done']}/{p['total']} rows done, {p['failed']} failed, "
        f"{p['skipped']} skipped, {rate:.1f} rows/min, ETA {eta:.1f} min, "
        f"cost ${p['cost_usd']:.6f} of estimated ${estimated}, "
        f"error rate {p['failed'] / processed if processed else 0:.0%}"
    )


def report(engine: Engine, op: store.Operation, rows_this_run: int, minutes: float) -> str:
    """The progress line; fires each milestone alert (once) the operation has reached."""
    with engine.connect() as conn:
        p = store.progress(conn, op.id)
    line = progress_line(op.id, p, rows_this_run, minutes, (op.estimate or {}).get("expected_cost_usd", "?"))
    finished = p["done"] + p["failed"] + p["skipped"]  # skipped: changed since the estimate, or cancelled
    reached = 100 * finished / p["total"] if p["total"] else 100
    scope = f"operation:{op.id}"
    with engine.begin() as conn:
        for milestone in get_settings().milestones_pct:
            if reached >= milestone:
                message = (
                    f"column-batch operation {op.id} is {milestone}% done "
                    f"({p['done']} rows, ${p['cost_usd']:.6f})"
                )
                alerts.fire(conn, "milestone", scope, scope, str(milestone), "info", message)
    return line
