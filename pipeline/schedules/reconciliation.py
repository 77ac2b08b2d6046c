"""Scheduled reconciliation: compare content hashes with stored vectors for every business and
launch runs for any partition the queue missed (lost deletes, writes with triggers disabled, a
model change)."""

import time

import dagster as dg

from pipeline.assets.embeddings import embedding_assets
from pipeline.assets.partitions import business_partitions
from pipeline.db.coverage import coverage
from pipeline.resources.database import DatabaseResource
from pipeline.resources.openai import OpenAIResource
from pipeline.sensors.run_planning import PartitionWork, plan_runs
from pipeline.settings import get_settings


def drifted_partitions(database: DatabaseResource, openai: OpenAIResource) -> list[PartitionWork]:
    model, dims = openai.embedding_target()
    with database.engine.connect() as conn:
        rows = coverage(conn, model, dims)
    marker = str(int(time.time()))
    return [PartitionWork(c.content_type, str(c.business_id), marker) for c in rows if c.drifted(model, dims)]


@dg.schedule(
    name="embedding_reconciliation",
    cron_schedule="*/30 * * * *",
    target=embedding_assets,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every 30 minutes, hash-compares every business's rows with their vectors and repairs drift.",
)
def embedding_reconciliation(
    context: dg.ScheduleEvaluationContext, database: DatabaseResource, openai: OpenAIResource
) -> list[dg.RunRequest] | dg.SkipReason:
    settings = get_settings()
    drift = drifted_partitions(database, openai)
    if not drift:
        return dg.SkipReason("Every partition's vectors match its rows.")
    order = context.instance.get_dynamic_partitions(business_partitions.name)
    return plan_runs(
        drift, order, "reconcile", settings.sensor_bulk_threshold, settings.sensor_max_partitions_per_run
    )
