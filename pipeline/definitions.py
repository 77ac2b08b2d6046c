"""Assembles the code location; everything it lists is defined in the folder named for it."""

import dagster as dg

from pipeline.assets.column_batch import (
    column_batch_estimate,
    column_batch_generation,
    estimate_within_limits,
)
from pipeline.assets.embeddings import embedding_assets
from pipeline.assets.health import health_schedule
from pipeline.assets.sources import content_source_specs
from pipeline.assets.usage import usage_daily, usage_ledger_spec, usage_report
from pipeline.checks.column_batch_checks import column_batch_generation_checks
from pipeline.checks.embedding_checks import embedding_checks
from pipeline.checks.usage_checks import usage_daily_checks
from pipeline.jobs.admin import admin_jobs, cleanup_schedule
from pipeline.jobs.column_batch import column_batch_job, create_column_batch_operation_job
from pipeline.resources.database import DatabaseResource
from pipeline.resources.openai import OpenAIResource
from pipeline.schedules.reconciliation import embedding_reconciliation
from pipeline.schedules.usage import usage_reports_schedule
from pipeline.sensors.alert_sensor import alert_sensor
from pipeline.sensors.change_sensor import content_change_sensor
from pipeline.sensors.column_batch_sensor import column_batch_sensor
from pipeline.sensors.emergency_stop_sensor import emergency_stop_sensor

defs = dg.Definitions(
    assets=[
        *content_source_specs,
        *embedding_assets,
        column_batch_estimate,
        column_batch_generation,
        usage_ledger_spec,
        usage_daily,
        usage_report,
    ],
    asset_checks=[
        *embedding_checks,
        estimate_within_limits,
        column_batch_generation_checks,
        usage_daily_checks,
    ],
    jobs=[column_batch_job, create_column_batch_operation_job, *admin_jobs],
    sensors=[content_change_sensor, column_batch_sensor, emergency_stop_sensor, alert_sensor],
    schedules=[embedding_reconciliation, usage_reports_schedule, health_schedule, cleanup_schedule],
    resources={"database": DatabaseResource(), "openai": OpenAIResource()},
    # One process per run: a sync step is I/O-bound, and a process per step would add seconds of
    # start-up to every change's freshness on a small machine.
    executor=dg.in_process_executor,
)
