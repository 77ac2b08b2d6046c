"""Dagster's own bookkeeping per business in a ranged sync run: what a run over N business partitions
costs in Dagster's storage when the work itself is nothing, on the storage `dagster_home/dagster.yaml`
ships (pooled connections checked without a round trip when just used, batched materialization and
check evaluation writes), against stock dagster-postgres (a new connection per statement, one write per
event) and against the shipped classes as they were before (a ping on every checkout, one write per
event); same run, same database server, each variant on a fresh Dagster database.

The run has the embedding assets' shape: one asset over a range of N dynamic partitions that records
each partition's own metadata, and three partitioned checks evaluated per partition. Figures: seconds
for the whole run, the asset step (per-partition metadata, materializations) and the check step, and
milliseconds per business. No target in the issue; the shipped storage must cost less than either.

    .venv/bin/python -m benchmarks.dagster_bookkeeping [--businesses 100] [--repeats 3]
"""

import argparse
import time
from typing import Any

import dagster as dg
import sqlalchemy as sa
from dagster_postgres.event_log import PostgresEventLogStorage
from dagster_postgres.utils import create_pg_engine

from benchmarks import _common as c
from pipeline.instance import postgres_storage as shipped
from pipeline.instance.check_evaluation_batch import batched_check_evaluations

PARTITIONS = dg.DynamicPartitionsDefinition(name="bookkeeping_businesses")
CHECKS = ("vectors_current", "no_orphan_vectors", "single_model")


@dg.asset(partitions_def=PARTITIONS, backfill_policy=dg.BackfillPolicy.single_run())
def synced(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    for key in context.partition_keys:
        context.add_asset_metadata({"rows_embedded": 10, "tokens": 400}, partition_key=key)
    return dg.MaterializeResult(metadata={"businesses_in_run": len(context.partition_keys)})


@dg.multi_asset_check(
    specs=[dg.AssetCheckSpec(n, asset="synced", partitions_def=PARTITIONS) for n in CHECKS],
    can_subset=True,
)
def synced_health(context: dg.AssetCheckExecutionContext):
    # As the embedding checks: stored together on the shipped storage, one by one on the others.
    with batched_check_evaluations():
        for key in context.partition_keys:
            for name in CHECKS:
                context.op_execution_context.log_event(
                    dg.AssetCheckEvaluation(
                        asset_key=dg.AssetKey("synced"), check_name=name, passed=True, partition=key
                    )
                )
    yield from ()


class _PingEveryCheckout:
    """The shipped classes with the engine they had before: `pool_pre_ping`, a ping per checkout."""

    _engine: sa.Engine
    postgres_url: str

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[call-arg]
        self._engine.dispose()
        self._engine = create_pg_engine(
            self.postgres_url,
            isolation_level="AUTOCOMMIT",
            pool_size=shipped.POOL_SIZE,
            max_overflow=shipped.MAX_OVERFLOW,
            pool_recycle=shipped.POOL_RECYCLE_SECONDS,
            pool_pre_ping=True,
        )


class PingedRunStorage(_PingEveryCheckout, shipped.PooledPostgresRunStorage):
    pass


class PingedEventLogStorage(_PingEveryCheckout, shipped.PooledPostgresEventLogStorage):
    def store_event(self, event: Any) -> None:  # one write per event, check evaluations too
        PostgresEventLogStorage.store_event(self, event)


class PingedScheduleStorage(_PingEveryCheckout, shipped.PooledPostgresScheduleStorage):
    pass


def _classes(module: str, run: str, event_log: str, schedule: str) -> dict[str, dict[str, str]]:
    names = {"run_storage": run, "event_log_storage": event_log, "schedule_storage": schedule}
    return {key: {"module": module, "class": cls} for key, cls in names.items()}


# variant -> (storage classes, None for dagster_home/dagster.yaml's; DAGSTER_EVENT_BATCH_SIZE to set).
VARIANTS: dict[str, tuple[dict[str, dict[str, str]] | None, str | None]] = {
    "shipped": (None, None),
    "before_this_change": (
        _classes(__name__, "PingedRunStorage", "PingedEventLogStorage", "PingedScheduleStorage"),
        "0",
    ),
    "stock_dagster_postgres": (
        {
            "run_storage": {"module": "dagster_postgres.run_storage", "class": "PostgresRunStorage"},
            "event_log_storage": {"module": "dagster_postgres.event_log", "class": "PostgresEventLogStorage"},
            "schedule_storage": {
                "module": "dagster_postgres.schedule_storage",
                "class": "PostgresScheduleStorage",
            },
        },
        "0",
    ),
}


def timed_run(instance: Any, keys: list[str]) -> dict[str, float]:
    started = time.perf_counter()
    result = dg.materialize(
        [synced, synced_health],
        instance=instance,
        tags={"dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": keys[-1]},
    )
    seconds = time.perf_counter() - started
    if not result.success:
        raise RuntimeError("bookkeeping run failed")
    at: dict[tuple[str, str], float] = {}  # (event type, step) -> timestamp
    for record in instance.all_logs(result.run_id):
        event = record.dagster_event
        if event and event.event_type_value in ("STEP_START", "STEP_SUCCESS"):
            at[(event.event_type_value, event.step_key)] = record.timestamp

    def step(key: str) -> float:
        return at[("STEP_SUCCESS", key)] - at[("STEP_START", key)]

    return {"run": seconds, "asset_step": step("synced"), "check_step": step("synced_health")}


def measure(engine: sa.Engine, variant: str, businesses: int, repeats: int) -> dict[str, Any]:
    classes, batch_size = VARIANTS[variant]
    # The shipped storage turns batching on; the others write one event at a time, as they did.
    with c.restored_env(), c.dagster_instance(engine, classes=classes) as instance:
        if batch_size is not None:
            c.set_env(DAGSTER_EVENT_BATCH_SIZE=batch_size)
        keys = [str(i) for i in range(1, businesses + 1)]
        instance.add_dynamic_partitions(PARTITIONS.name, keys)
        timed_run(instance, keys)  # warm-up: imports, table checks, first connections
        runs = [timed_run(instance, keys) for _ in range(repeats)]
    best = {k: min(r[k] for r in runs) for k in runs[0]}
    return {
        **{f"{k}_seconds": c.r(v, 3) for k, v in best.items()},
        "ms_per_business": c.r(best["run"] / businesses * 1000, 2),
        "check_evaluation_ms": c.r(best["check_step"] / (businesses * len(CHECKS)) * 1000, 2),
        "runs_measured": repeats,
    }


def bench(args: argparse.Namespace) -> dict[str, Any]:
    params = {"businesses": args.businesses, "checks_per_business": len(CHECKS), "repeats": args.repeats}
    with c.bench_database() as engine:
        runs = {v: measure(engine, v, args.businesses, args.repeats) for v in VARIANTS}
    shipped_seconds = runs.pop("shipped")
    return c.result(
        "dagster_bookkeeping",
        params,
        {"shipped_storage": shipped_seconds},
        runs,
        [
            c.check(
                f"shipped / {name} seconds per ranged run",
                c.r(shipped_seconds["run_seconds"] / figures["run_seconds"]),
                "<",
                1.0,
            )
            for name, figures in runs.items()
        ],
    )


if __name__ == "__main__":
    parser = c.parser(__doc__.split("\n\n")[0])
    parser.add_argument("--businesses", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    c.main("dagster_bookkeeping", parser, bench)
