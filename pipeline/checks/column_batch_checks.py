"""Checks on a finished (or stopped) generation run: budget, cost per row, error rate, quality."""

import dagster as dg

from pipeline.assets.column_batch import column_batch_generation, operation_id_of, operation_partitions
from pipeline.column_batch import service
from pipeline.db import column_batch as store
from pipeline.resources.database import DatabaseResource

_SPECS = [
    dg.AssetCheckSpec(name, asset=column_batch_generation, partitions_def=operation_partitions, description=d)
    for name, d in (
        ("cost_within_budget", "Spent within max_total_cost_usd; WARN past the warning threshold."),
        ("cost_per_row", "Average cost per generated row within max_cost_per_row_usd."),
        ("error_rate", "Failed rows at or below max_error_rate; the operation is paused when exceeded."),
        ("output_quality", "No empty, truncated, refusal-like or duplicate outputs."),
    )
]


@dg.multi_asset_check(specs=_SPECS, can_subset=True, name="column_batch_generation_checks")
def column_batch_generation_checks(context: dg.AssetCheckExecutionContext, database: DatabaseResource):
    op_id = operation_id_of(context.partition_key)
    with database.engine.connect() as conn:
        op = store.load_operation(conn, op_id)
        p = store.progress(conn, op_id)
    spec = op.spec
    spent = op.spent_usd
    ratio = float(spent / spec.max_total_cost_usd)
    yield dg.AssetCheckResult(
        check_name="cost_within_budget",
        passed=ratio * 100 < spec.warning_threshold_pct,
        severity=dg.AssetCheckSeverity.ERROR
        if spent > spec.max_total_cost_usd
        else dg.AssetCheckSeverity.WARN,
        description=f"${spent:.6f} spent of ${spec.max_total_cost_usd} ({ratio:.0%}); warning at "
        f"{spec.warning_threshold_pct:g}%.",
        metadata={"spent_usd": float(spent), "budget_usd": float(spec.max_total_cost_usd)},
    )
    per_row = spent / p["done"] if p["done"] else 0
    limit = spec.max_cost_per_row_usd
    yield dg.AssetCheckResult(
        check_name="cost_per_row",
        passed=limit is None or per_row <= limit,
        description=f"${per_row:.8f} per row (limit {limit if limit is not None else 'none'}).",
        metadata={"cost_per_row_usd": float(per_row)},
    )
    processed = p["done"] + p["failed"]
    rate = p["failed"] / processed if processed else 0.0
    if rate > spec.max_error_rate and spec.pause_on_error and op.state in ("running", "queued"):
        service.pause(database.engine, op_id, f"error rate {rate:.0%} over {spec.max_error_rate:.0%}")
    yield dg.AssetCheckResult(
        check_name="error_rate",
        passed=rate <= spec.max_error_rate,
        description=f"{p['failed']} of {processed} rows failed ({rate:.0%}; max {spec.max_error_rate:.0%}).",
        metadata={"error_rate": rate},
    )
    with database.engine.connect() as conn:
        flags = store.quality_flag_counts(conn, op_id)
    yield dg.AssetCheckResult(
        check_name="output_quality",
        passed=not flags,
        severity=dg.AssetCheckSeverity.WARN,
        description=", ".join(f"{n} {flag}" for flag, n in flags.items()) or "No quality flags.",
        metadata={f"rows_{flag}": n for flag, n in flags.items()},
    )
