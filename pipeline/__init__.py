"""Embedding sync and LLM cost control for a multi-tenant SaaS app, as a Dagster project."""

import warnings

# Partitioned asset checks (preview) and backfill policies (beta) in Dagster 1.13 are relied on
# knowingly and pinned by the lock file (see docs/architecture.md); their warnings are noise.
warnings.filterwarnings("ignore", message="Specifying a partitions_def on an AssetCheckSpec")
warnings.filterwarnings("ignore", message="Parameter `partitions_def` of function `asset_check`")
warnings.filterwarnings("ignore", message="Parameter `backfill_policy` of function `asset`")
