"""Run tags the project sets and reads (one place, so sensors, jobs and docs agree)."""

PARTITION_TAG = "dagster/partition"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
TRIGGER_TAG = "pipeline/trigger"  # change | retry | stuck | reconcile
WORKLOAD_TAG = "pipeline/workload"  # embedding_sync | column_batch | column_batch_admin
OPERATION_TAG = "pipeline/operation"  # column-batch operation id
