"""While the emergency stop is on, terminates every in-flight pipeline run that calls the provider."""

import dagster as dg

from pipeline.db import emergency_stop
from pipeline.resources.database import DatabaseResource
from pipeline.tags import WORKLOAD_TAG

_PROVIDER_WORKLOADS = ("embedding_sync", "column_batch")
_IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


@dg.sensor(
    name="emergency_stop_sensor",
    minimum_interval_seconds=2,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Terminates in-flight embedding and column-batch runs within seconds of the emergency stop.",
)
def emergency_stop_sensor(context: dg.SensorEvaluationContext, database: DatabaseResource):
    if not emergency_stop.is_active(database.engine):
        return dg.SkipReason("Emergency stop is off.")
    stopped = []
    for workload in _PROVIDER_WORKLOADS:
        runs = context.instance.get_runs(
            filters=dg.RunsFilter(statuses=_IN_FLIGHT, tags={WORKLOAD_TAG: workload})
        )
        for run in runs:
            if run.status in (dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED):  # no process yet
                context.instance.report_run_canceled(run, message="emergency stop")
            else:
                context.instance.run_launcher.terminate(run.run_id)
            stopped.append(run.run_id)
    if stopped:
        context.log.warning(f"Emergency stop: terminated {len(stopped)} runs: {', '.join(stopped)}")
    return dg.SkipReason(f"Emergency stop is on; terminated {len(stopped)} runs.")
