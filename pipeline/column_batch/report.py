"""Per-operation report: tokens, cost, estimate against actual, latency, errors, quality; exports."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine

from pipeline.db import column_batch as store
from pipeline.lib.exports import write_report

if TYPE_CHECKING:
    import pandas as pd  # imported where used: a heavy import for every run worker


def build_report(engine: Engine, op_id: int) -> tuple[dict[str, Any], pd.DataFrame]:
    import pandas as pd

    with engine.connect() as conn:
        op = store.load_operation(conn, op_id)
        progress = store.progress(conn, op_id)
        ledger = store.ledger_stats(conn, op_id)
        flags = store.quality_flag_counts(conn, op_id)
        rows = pd.DataFrame(store.row_results(conn, op_id))
    estimated = Decimal(str((op.estimate or {}).get("expected_cost_usd", "0")))
    spent = Decimal(ledger["cost_usd"])
    summary = {
        "operation_id": op_id,
        "target": op.spec.target.name,
        "state": op.state,
        "state_reason": op.state_reason,
        "model": op.spec.model,
        "requested_by": op.spec.requested_by,
        "rows_total": progress["total"],
        "rows_done": progress["done"],
        "rows_failed": progress["failed"],
        "rows_pending": progress["pending"],
        "rows_skipped": progress["skipped"],
        "requests": ledger["requests"],
        "failed_requests": ledger["failed_requests"],
        "input_tokens": ledger["input_tokens"],
        "output_tokens": ledger["output_tokens"],
        "cost_usd": spent,
        "cost_per_row_usd": (spent / progress["done"]).quantize(Decimal("0.00000001"))
        if progress["done"]
        else 0,
        "estimated_cost_usd": estimated,
        "actual_vs_estimate": float(spent / estimated) if estimated else None,
        "latency_p50_ms": ledger["latency_p50_ms"],
        "latency_p95_ms": ledger["latency_p95_ms"],
        "latency_p99_ms": ledger["latency_p99_ms"],
        "request_errors": ledger["request_errors"],
        "row_errors": ledger["row_errors"],
        "quality_flags": flags,
    }
    return summary, rows


def export(summary: dict[str, Any], rows: pd.DataFrame, fmt: str, out: Path) -> Path:
    return write_report(summary, {"rows": rows}, fmt, out)
