"""The change sensor: drains the trigger-filled queue into per-business embedding runs."""

import json
import time
from dataclasses import asdict, dataclass

import dagster as dg

from pipeline.assets.embeddings import embedding_assets
from pipeline.assets.partitions import business_partitions
from pipeline.db import change_queue, emergency_stop
from pipeline.resources.database import DatabaseResource
from pipeline.sensors.run_planning import (
    PartitionWork,
    coalesce,
    pending_coverage,
    plan_runs,
    retry_work,
    should_hold,
)
from pipeline.settings import get_settings
from pipeline.tags import WORKLOAD_TAG


@dataclass(frozen=True)
class ChangeCursor:
    txid: str = "0"
    seq: int = 0

    @classmethod
    def parse(cls, raw: str | None) -> "ChangeCursor":
        return cls(**json.loads(raw)) if raw else cls()

    def dumps(self) -> str:
        return json.dumps(asdict(self))


@dg.sensor(
    name="content_change_sensor",
    target=embedding_assets,
    minimum_interval_seconds=get_settings().sensor_interval_seconds,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Registers new businesses as partitions, drops deleted ones, and launches embedding runs "
    "for exactly the (content type, business) partitions with queued changes or due retries.",
)
def content_change_sensor(
    context: dg.SensorEvaluationContext, database: DatabaseResource
) -> dg.SensorResult | dg.SkipReason:
    settings = get_settings()
    if emergency_stop.is_active(database.engine):
        return dg.SkipReason("Emergency stop is on: no embedding run is requested until it is switched off.")
    cursor = ChangeCursor.parse(context.cursor)
    with database.engine.connect() as conn:
        # The page first: a business whose changes are in it had committed before, so it is in `live`.
        page = change_queue.read_change_page(
            conn, cursor.txid, cursor.seq, settings.sensor_max_changes_per_tick
        )
        live = [str(b) for b in change_queue.business_ids(conn)]
        retries = change_queue.due_retries(conn, settings.embedding_max_row_attempts)
        stuck = change_queue.stuck_partitions(conn, settings.stuck_change_minutes)

    known = context.instance.get_dynamic_partitions(business_partitions.name)
    live_set, known_set = set(live), set(known)
    gone = {p.business_id for p in page.partitions} | {b for _, b in stuck}
    if gone := [b for b in gone if str(b) not in live_set]:
        with database.engine.begin() as conn:
            dropped = change_queue.drop_changes_of_deleted_businesses(conn, gone)
        context.log.info(f"dropped {dropped} queued changes of deleted businesses {sorted(gone)}")
    added = [b for b in live if b not in known_set]
    removed = [b for b in known if b not in live_set]
    order = [k for k in known if k in live_set] + added

    # Partitions a sync run that has not read the change queue yet (queued, or its process still starting)
    # will cover: no second run is requested for them.
    queued = context.instance.get_run_records(
        filters=dg.RunsFilter(
            statuses=[
                dg.DagsterRunStatus.QUEUED,
                dg.DagsterRunStatus.NOT_STARTED,
                dg.DagsterRunStatus.STARTING,
            ],
            tags={WORKLOAD_TAG: "embedding_sync"},
        )
    )
    pending = pending_coverage(
        [
            ([k.path[-1] for k in r.dagster_run.asset_selection or ()], dict(r.dagster_run.tags))
            for r in queued
        ],
        order,
    )
    # Holding behind a starting run would serialise start-ups; only a queued one holds new changes.
    waiting = [
        r.create_timestamp.timestamp() for r in queued if r.dagster_run.status != dg.DagsterRunStatus.STARTING
    ]
    hold = should_hold(waiting, time.time(), settings.sensor_hold_seconds)

    def runs(trigger: str, work: list[PartitionWork]) -> list[dg.RunRequest]:
        return plan_runs(
            coalesce(work, pending),
            order,
            trigger,
            settings.sensor_bulk_threshold,
            settings.sensor_max_partitions_per_run,
        )

    bucket = int(context.last_tick_completion_time or 0) // (settings.stuck_change_minutes * 60)
    changed = [PartitionWork(p.content_type, str(p.business_id), str(p.last_seq)) for p in page.partitions]
    if hold and coalesce(changed, pending):
        # Leave these changes queued (cursor not advanced): once the queued run starts, they all go into
        # one run together instead of one start-up each.
        context.log.info(f"{page.rows} queued changes wait for the sync run already queued")
        changed, page = [], change_queue.ChangePage([], 0, None, None)
    requests = [
        *runs("change", changed),
        *runs("retry", retry_work(retries, bucket)),
        *runs("stuck", [PartitionWork(ct, str(b), str(bucket)) for ct, b in stuck]),
    ]
    next_cursor = ChangeCursor(page.last_txid, page.last_seq) if page.last_txid else cursor
    if page.rows:
        context.log.info(
            f"{page.rows} queued changes in {len(page.partitions)} partitions -> {len(requests)} runs"
        )
    partition_requests = []
    if added:
        partition_requests.append(business_partitions.build_add_request(added))
    if removed:
        partition_requests.append(business_partitions.build_delete_request(removed))
    return dg.SensorResult(
        run_requests=requests, cursor=next_cursor.dumps(), dynamic_partitions_requests=partition_requests
    )
