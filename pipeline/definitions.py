"""Assembles the code location; everything it lists is defined in the folder named for it."""

import dagster as dg

from pipeline.assets.embeddings import embedding_assets
from pipeline.assets.sources import content_source_specs
from pipeline.checks.embedding_checks import embedding_checks
from pipeline.resources.database import DatabaseResource
from pipeline.resources.openai import OpenAIResource
from pipeline.schedules.reconciliation import embedding_reconciliation
from pipeline.sensors.change_sensor import content_change_sensor

defs = dg.Definitions(
    assets=[*content_source_specs, *embedding_assets],
    asset_checks=embedding_checks,
    sensors=[content_change_sensor],
    schedules=[embedding_reconciliation],
    resources={"database": DatabaseResource(), "openai": OpenAIResource()},
    # One process per run: a sync step is I/O-bound, and a process per step would add seconds of
    # start-up to every change's freshness on a small machine.
    executor=dg.in_process_executor,
)
