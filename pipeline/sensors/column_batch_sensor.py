"""Starts queued column-batch operations (and resumed ones) within the global launch limits."""

import dagster as dg

from pipeline.assets.column_batch import column_batch_estimate, column_batch_generation, operation_partitions
from pipeline.db import column_batch as store
from pipeline.db import emergency_stop, spend
from pipeline.jobs.column_batch import column_batch_job
from pipeline.resources.database import DatabaseResource
from pipeline.settings import get_settings
from pipeline.tags import OPERATION_TAG, PARTITION_TAG

ORPHAN_AFTER_SECONDS = 120
_LIVE = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,  # still finishing (and settling) its requests in flight
]


_ASSETS = frozenset({column_batch_estimate.key, column_batch_generation.key})


def _has_live_run(instance: dg.DagsterInstance, op_id: int) -> bool:
    key = str(op_id)
    if instance.get_runs(filters=dg.RunsFilter(statuses=_LIVE, tags={OPERATION_TAG: key}), limit=1):
        return True
    # A run someone launched from the UI (the job or the assets, for this partition) has no operation tag;
    # business partitions share the partition tag's values, so the run's assets tell them apart.
    runs = instance.get_runs(filters=dg.RunsFilter(statuses=_LIVE, tags={PARTITION_TAG: key}))
    return any(
        run.job_name == column_batch_job.name or _ASSETS & (run.asset_selection or frozenset())
        for run in runs
    )


def launch_blocker(counts: dict[str, int], user_count: int) -> str | None:
    """Why another operation may not start now, or None (pure)."""
    s = get_settings()
    if counts["running"] >= s.cb_max_concurrent_operations:
        return f"{counts['running']} operations running (max {s.cb_max_concurrent_operations})"
    if counts["last_hour"] >= s.cb_max_operations_per_hour:
        return (
            f"{counts['last_hour']} operations started in the last hour (max {s.cb_max_operations_per_hour})"
        )
    if counts["last_day"] >= s.cb_max_operations_per_day:
        return f"{counts['last_day']} operations started today (max {s.cb_max_operations_per_day})"
    if user_count >= s.cb_user_max_operations_per_day:
        return f"this user started {user_count} operations today (max {s.cb_user_max_operations_per_day})"
    return None


@dg.sensor(
    name="column_batch_sensor",
    job=column_batch_job,
    minimum_interval_seconds=5,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Launches queued column-batch operations while the concurrency and rate quotas allow.",
)
def column_batch_sensor(context: dg.SensorEvaluationContext, database: DatabaseResource):
    engine = database.engine
    if emergency_stop.is_active(engine):
        return dg.SkipReason("Emergency stop is on: no operation is launched.")
    requests, added = [], []
    known = set(context.instance.get_dynamic_partitions(operation_partitions.name))
    with engine.begin() as conn:
        for op_id in store.launched_or_running(conn, ORPHAN_AFTER_SECONDS):
            if not _has_live_run(context.instance, op_id):
                # Its run died (killed, machine lost): stop claiming it runs; resume continues from here.
                store.set_state(
                    conn,
                    op_id,
                    "paused",
                    "its run ended without finishing; resume to continue",
                    only_from=("running", "queued"),
                )
                store.clear_launch(conn, op_id)
                spend.release_reservations(conn, op_id, store.load_operation(conn, op_id).spec.requested_by)
        for op_id in store.queued_unlaunched(conn):
            op = store.load_operation(conn, op_id, for_update=True)
            counts = store.launch_counts(conn, op.spec.requested_by)
            blocker = launch_blocker(counts, counts["user_last_day"])
            if blocker:
                store.set_state(conn, op_id, "queued", f"waiting: {blocker}")
                continue
            # Stamped as launched so the next tick neither launches it again nor forgets it in the quotas.
            store.set_state(conn, op_id, "launched", "launch requested", only_from=("queued",))
            key = str(op_id)
            if key not in known:
                added.append(key)
            requests.append(dg.RunRequest(partition_key=key, run_key=None, tags={OPERATION_TAG: key}))
    return dg.SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=[operation_partitions.build_add_request(added)] if added else [],
    )
