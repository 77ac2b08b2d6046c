"""Per-operation report: tokens, cost, estimate against actual, latency, errors, quality; exports."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy.engine import Engine

from pipeline.db import column_batch as store

FORMATS = ("table", "csv", "json", "xlsx")


def build_report(engine: Engine, op_id: int) -> tuple[dict[str, Any], pd.DataFrame]:
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
    if fmt not in FORMATS[1:]:
        raise ValueError(f"Unknown export format {fmt!r}; choose one of: {', '.join(FORMATS[1:])}.")
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "json":
        out.write_text(
            json.dumps({"summary": summary, "rows": rows.to_dict(orient="records")}, indent=2, default=str)
        )
    elif fmt == "csv":
        rows.to_csv(out, index=False)
    else:
        with pd.ExcelWriter(out, engine="openpyxl") as writer:
            pd.DataFrame(
                [{k: str(v) if isinstance(v, dict | Decimal) else v for k, v in summary.items()}]
            ).T.rename(columns={0: "value"}).to_excel(writer, sheet_name="summary")
            frame = rows.copy()
            for col in frame.select_dtypes(include=["datetimetz"]).columns:
                frame[col] = frame[col].dt.tz_localize(None)
            frame.to_excel(writer, sheet_name="rows", index=False)
    return out
