"""Helpers for column-batch tests: create operations and run them through the real sensor and job."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import dagster as dg
import sqlalchemy as sa

from pipeline.assets.column_batch import (
    column_batch_estimate,
    column_batch_generation,
    estimate_within_limits,
)
from pipeline.checks.column_batch_checks import column_batch_generation_checks
from pipeline.column_batch import service
from pipeline.column_batch.spec import OperationSpec
from pipeline.definitions import defs
from pipeline.resources.database import DatabaseResource
from pipeline.sensors.column_batch_sensor import column_batch_sensor

COLUMN_BATCH_DEFS = [
    column_batch_estimate,
    column_batch_generation,
    estimate_within_limits,
    column_batch_generation_checks,
]


def menu_without_descriptions(engine: sa.Engine, n: int, business: str = "cb") -> int:
    with engine.begin() as conn:
        b = conn.execute(
            sa.text("INSERT INTO businesses (slug, name) VALUES (:s, :s) RETURNING id"), {"s": business}
        ).scalar_one()
        conn.execute(
            sa.text("INSERT INTO menu_items (business_id, name, category) VALUES (:b, :n, 'Mains')"),
            [{"b": b, "n": f"Dish number {i}"} for i in range(n)],
        )
    return b


def spec(**overrides: Any) -> OperationSpec:
    fields: dict[str, Any] = {
        "target_table": "menu_items",
        "target_column": "description",
        "prompt_template": "Write a one-sentence menu description for {name} ({category}).",
        "max_output_tokens": 40,
        "batch_size": 4,
        "rows_per_request": 2,
        "max_concurrent_batches": 1,
        "max_total_cost_usd": Decimal("1"),
        "requested_by": "alice",
    }
    return OperationSpec.model_validate({**fields, **overrides})


def queue_new(engine: sa.Engine, **overrides: Any) -> int:
    op_id = service.create(engine, spec(**overrides))
    service.queue(engine, op_id)
    return op_id


def tick(instance: dg.DagsterInstance) -> dg.SensorResult | dg.SkipReason:
    with dg.build_sensor_context(
        instance=instance, resources={"database": DatabaseResource()}, definitions=defs
    ) as ctx:
        result = column_batch_sensor(ctx)
    if isinstance(result, dg.SensorResult):
        for request in result.dynamic_partitions_requests or []:
            instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return result


def run_operation(instance: dg.DagsterInstance, op_id: int) -> dg.ExecuteInProcessResult:
    if str(op_id) not in instance.get_dynamic_partitions("column_batch_operations"):
        instance.add_dynamic_partitions("column_batch_operations", [str(op_id)])
    return dg.materialize(
        COLUMN_BATCH_DEFS,
        partition_key=str(op_id),
        instance=instance,
        resources=defs.resources,
        raise_on_error=False,
    )


def descriptions(engine: sa.Engine) -> dict[int, str | None]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.text("SELECT id, description FROM menu_items ORDER BY id")).all())


def op_state(engine: sa.Engine, op_id: int) -> tuple[str, str | None]:
    with engine.connect() as conn:
        return tuple(
            conn.execute(
                sa.text("SELECT state, state_reason FROM column_batch_operations WHERE id = :i"), {"i": op_id}
            ).one()
        )


def run_with_action_at(
    instance: dg.DagsterInstance, standin: Any, op_id: int, requests: int, action: Callable[[], None]
) -> dg.ExecuteInProcessResult:
    """Run the operation and, from another thread, do `action` (a pause, a delete...) once the stand-in
    has received `requests` chat requests; set a latency first so that they are still in flight."""

    def act() -> None:
        deadline = time.monotonic() + 60  # never hang the suite: the test's own asserts then fail
        while standin.count("/chat/completions") < requests:
            if time.monotonic() > deadline:
                return
            time.sleep(0.02)
        action()

    actor = threading.Thread(target=act)
    actor.start()
    result = run_operation(instance, op_id)
    actor.join()
    standin.latency = 0
    return result
