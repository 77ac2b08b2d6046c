"""The SaaS app's content tables, owned by the app and observed by the pipeline."""

import dagster as dg

from pipeline.content_types import CONTENT_TYPES

content_source_specs = [
    dg.AssetSpec(
        ct.table,
        description=f"The app's `{ct.table}` table (PostgreSQL). Every write is captured by triggers into "
        "`content_changes`, which the change sensor drains.",
        group_name="app_content",
        kinds={"postgres"},
        metadata={"table": ct.table, "content_type": ct.name},
    )
    for ct in CONTENT_TYPES
]
