"""Jobs a person launches from the Dagster UI: create an operation (launchpad config), run one."""

import dagster as dg
from pydantic import Field

from pipeline.assets.column_batch import column_batch_estimate, column_batch_generation, operation_partitions
from pipeline.column_batch import service
from pipeline.column_batch.spec import OperationSpec
from pipeline.resources.database import DatabaseResource
from pipeline.tags import WORKLOAD_TAG

column_batch_job = dg.define_asset_job(
    "column_batch_job",
    selection=dg.AssetSelection.assets(column_batch_estimate, column_batch_generation),
    tags={WORKLOAD_TAG: "column_batch"},
    description="Estimate, check and generate one operation (partition = operation id).",
)


class CreateOperationConfig(dg.Config):
    """Launchpad form for a new operation; validated by OperationSpec (see README for each field)."""

    target_table: str = "menu_items"
    target_column: str = "description"
    prompt_template: str = "Write a one-sentence menu description for {name} ({category})."
    row_filter: dict[str, str] = Field(default_factory=dict)
    model: str = "gpt-4o-mini"
    temperature: float = 0.2
    max_output_tokens: int = 120
    batch_size: int = 50
    rows_per_request: int = 10
    max_concurrent_batches: int = 2
    regenerate_existing: bool = False
    pause_on_error: bool = True
    max_total_cost_usd: float = 5.0
    max_cost_per_row_usd: float | None = None
    warning_threshold_pct: float = 80
    max_error_rate: float = 0.2
    requested_by: str
    start: bool = True


@dg.op(description="Validate, create and estimate an operation; with start=true queue it for the sensor.")
def create_column_batch_operation(
    context: dg.OpExecutionContext, config: CreateOperationConfig, database: DatabaseResource
) -> int:
    fields = config.model_dump()
    start = fields.pop("start")
    spec = OperationSpec.model_validate(fields)
    op_id = service.create(database.engine, spec)
    context.instance.add_dynamic_partitions(operation_partitions.name, [str(op_id)])
    result = service.estimate(database.engine, op_id)
    context.log.info(f"operation {op_id}: {result.estimate.as_json()}")
    if result.violations:
        raise dg.Failure(
            description=f"Operation {op_id} is over its limits and was not started: "
            + "; ".join(v.message for v in result.violations),
            metadata={"operation_id": op_id},
        )
    if start:
        service.queue(database.engine, op_id)
        context.log.info(f"operation {op_id} queued; the column_batch_sensor launches it")
    return op_id


@dg.job(tags={WORKLOAD_TAG: "column_batch_admin"}, description="Create a column-batch operation from the UI.")
def create_column_batch_operation_job() -> None:
    create_column_batch_operation()
