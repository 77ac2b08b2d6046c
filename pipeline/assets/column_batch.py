"""Column-batch generation as Dagster assets: each operation is a partition. The estimate runs first;
its blocking check stops the generation when any limit would be broken."""

import dagster as dg

from pipeline.column_batch import service
from pipeline.column_batch.runner import OperationRunner
from pipeline.db import column_batch as store
from pipeline.resources.database import DatabaseResource
from pipeline.resources.openai import OpenAIResource
from pipeline.settings import get_settings

operation_partitions = dg.DynamicPartitionsDefinition(name="column_batch_operations")


def operation_id_of(partition_key: str) -> int:
    try:
        return int(partition_key)
    except ValueError:
        raise ValueError(f"Partition key {partition_key!r} is not an operation id.") from None


@dg.asset(
    partitions_def=operation_partitions,
    group_name="column_batch",
    kinds={"openai", "postgres"},
    description="Prices the operation before any generation call: exact input tokens (tiktoken), expected "
    "and worst-case output tokens, cost at current prices and a duration estimate from the rate limits.",
)
def column_batch_estimate(
    context: dg.AssetExecutionContext, database: DatabaseResource
) -> dg.MaterializeResult:
    result = service.estimate(database.engine, operation_id_of(context.partition_key))
    est = result.estimate
    for v in result.violations:
        context.log.error(v.message)
    return dg.MaterializeResult(
        metadata={
            **{
                k: (float(v) if k.endswith("usd") else v)
                for k, v in est.as_json().items()
                if k != "price_version"
            },
            "price_version": est.price_version,
            "limit_violations": len(result.violations),
        }
    )


@dg.asset_check(
    asset=column_batch_estimate,
    partitions_def=operation_partitions,
    blocking=True,
    description="Fails (ERROR, blocking) when the estimate breaks any limit, naming which and by how much.",
)
def estimate_within_limits(
    context: dg.AssetCheckExecutionContext, database: DatabaseResource
) -> dg.AssetCheckResult:
    with database.engine.connect() as conn:
        op = store.load_operation(conn, operation_id_of(context.partition_key))
    violations = (op.estimate or {}).get("violations", [])
    if violations:
        with database.engine.begin() as conn:
            store.set_state(
                conn,
                op.id,
                "paused",
                "; ".join(v["message"] for v in violations),
                only_from=("queued", "estimated", "running"),
            )
    return dg.AssetCheckResult(
        passed=not violations,
        severity=dg.AssetCheckSeverity.ERROR,
        description="; ".join(v["message"] for v in violations) or "Within every limit.",
        metadata={"violations": len(violations)},
    )


@dg.asset(
    partitions_def=operation_partitions,
    deps=[column_batch_estimate],
    group_name="column_batch",
    kinds={"openai", "postgres"},
    pool="openai",
    description="Generates the column's values batch by batch (checkpointed), under reserved budgets and the "
    "shared rate limit. Relaunching continues with the rows still pending.",
)
def column_batch_generation(
    context: dg.AssetExecutionContext, database: DatabaseResource, openai: OpenAIResource
) -> dg.MaterializeResult:
    engine = database.engine
    op_id = operation_id_of(context.partition_key)
    with engine.connect() as conn:
        op = store.load_operation(conn, op_id)
    runner = OperationRunner(
        engine,
        openai.chat_service(),
        op,
        get_settings().safety_limits(),
        context.run.run_id,
        on_progress=context.log.info,
        retried_run_id=context.run.parent_run_id,
    )
    summary = runner.run()
    with engine.connect() as conn:
        p = store.progress(conn, op_id)
    if summary.reason:
        context.log.warning(f"operation {op_id} is {summary.final_state}: {summary.reason}")
    return dg.MaterializeResult(
        metadata={
            "state": summary.final_state,
            "reason": summary.reason or "",
            "rows_total": p["total"],
            "rows_done": p["done"],
            "rows_failed": p["failed"],
            "rows_pending": p["pending"],
            "rows_flagged": p["flagged"],
            "cost_usd": float(p["cost_usd"]),
            "estimated_cost_usd": float((op.estimate or {}).get("expected_cost_usd", 0)),
            "provider": openai.chat_service().provider,
        }
    )
