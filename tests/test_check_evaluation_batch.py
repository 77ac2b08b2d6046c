"""A step's check evaluations stored together (pipeline.instance.check_evaluation_batch): the same records
Dagster stores one by one, with one write per table."""

import contextlib

import dagster as dg
import pytest
import sqlalchemy as sa
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.event_log.base import PartitionKeyFilter

from pipeline.content_types import CONTENT_TYPES
from pipeline.instance.check_evaluation_batch import batched_check_evaluations, store_together
from tests.helpers import SensorDriver, add_business, poison_menu_item

SUCCEEDED, FAILED = AssetCheckExecutionRecordStatus.SUCCEEDED, AssetCheckExecutionRecordStatus.FAILED
probe_tenants = dg.DynamicPartitionsDefinition(name="probe_tenants")


def _probe(name: str, batched: bool, verdicts: list[tuple[str, bool]]) -> list:
    """An asset and a partitioned check logging `verdicts` (partition, passed) in order."""

    @dg.asset(name=name, partitions_def=probe_tenants, backfill_policy=dg.BackfillPolicy.single_run())
    def _asset(context: dg.AssetExecutionContext) -> None:
        return None

    spec = dg.AssetCheckSpec("ok", asset=name, partitions_def=probe_tenants)

    @dg.multi_asset_check(specs=[spec], name=f"{name}_check", can_subset=True)
    def _check(context: dg.AssetCheckExecutionContext):
        with batched_check_evaluations() if batched else contextlib.nullcontext():
            for key, passed in verdicts:
                evaluation = dg.AssetCheckEvaluation(
                    asset_key=dg.AssetKey(name), check_name="ok", passed=passed, partition=key
                )
                context.op_execution_context.log_event(evaluation)
        yield from ()

    return [_asset, _check]


def _records(instance: dg.DagsterInstance, asset: str, check: str, key: str) -> list:
    check_key = dg.AssetCheckKey(dg.AssetKey(asset), check)
    return instance.event_log_storage.get_asset_check_execution_history(
        check_key, limit=10, partition_filter=PartitionKeyFilter(key=key)
    )


def _statements(storage, table: str, verb: str) -> list[str]:
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:
        if table in statement and statement.lstrip().upper().startswith(verb):
            seen.append(statement)

    sa.event.listen(storage._engine, "before_cursor_execute", record)
    return seen


def _latest(instance: dg.DagsterInstance, asset: str, check: str, key: str):
    return _records(instance, asset, check, key)[0]


def test_a_runs_checks_are_stored_in_one_write_per_table_with_each_businesss_verdict(
    engine, shipped_instance, standin
):
    """Three checks by four businesses by three content types: 36 evaluations, one UPDATE of the
    execution records per check step (Dagster's own path sends one per evaluation), and the records the
    UI reads carry each business's own verdict, a failing one included."""
    businesses = [add_business(engine, f"batch{i}", menu=3) for i in range(4)]
    driver = SensorDriver(shipped_instance)
    updates = _statements(shipped_instance.event_log_storage, "asset_check_executions", "UPDATE")

    first = driver.sync()

    check_steps = [e for r in first for e in r.get_step_success_events() if e.step_key.endswith("_health")]
    assert len(check_steps) == len(CONTENT_TYPES)
    assert len(updates) == len(check_steps)
    evaluations = [
        shipped_instance.get_records_for_run(r.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
        for r in first
    ]
    assert sum(len(e.records) for e in evaluations) == 3 * len(businesses) * len(CONTENT_TYPES)
    standin.poison("POISON")  # the stand-in rejects that text: its row fails, and vectors_current with it
    poison_menu_item(engine, businesses[1])
    (result,) = driver.sync()
    for b in businesses:
        record = _latest(shipped_instance, "menu_item_embeddings", "vectors_current", str(b))
        assert record.status == (FAILED if b == businesses[1] else SUCCEEDED)
        evaluation = record.event.dagster_event.asset_check_evaluation_data
        assert evaluation.partition == str(b)
        assert record.run_id in ({result.run_id} if b == businesses[1] else {r.run_id for r in first})
        assert _latest(shipped_instance, "faq_embeddings", "single_model", str(b)).status == SUCCEEDED


@pytest.mark.parametrize(
    "verdicts, expected",
    [
        # "c" is not in the run, so it has no planned record: Dagster's own insert makes one.
        ([("a", False), ("b", True), ("c", True)], {"a": FAILED, "b": SUCCEEDED, "c": SUCCEEDED}),
        # The same check and partition twice: the later verdict stands, as one by one.
        ([("a", False), ("b", True), ("a", True)], {"a": SUCCEEDED, "b": SUCCEEDED}),
    ],
)
def test_stored_together_the_records_equal_those_stored_one_by_one(shipped_instance, verdicts, expected):
    shipped_instance.add_dynamic_partitions("probe_tenants", ["a", "b", "c"])
    tags = {"dagster/asset_partition_range_start": "a", "dagster/asset_partition_range_end": "b"}
    for name, batched in (("one_by_one", False), ("together", True)):
        assert dg.materialize(_probe(name, batched, verdicts), instance=shipped_instance, tags=tags).success

    for key, status in expected.items():
        alone, together = (_records(shipped_instance, n, "ok", key) for n in ("one_by_one", "together"))
        assert [r.status for r in together] == [r.status for r in alone] == [status]
        assert together[0].event.dagster_event.asset_check_evaluation_data.partition == key


def test_a_batch_whose_insert_fails_is_stored_one_by_one_and_records_found_missing_get_their_own():
    events = ["e1", "e2", "e3"]
    one_by_one: list[str] = []

    def failing_insert(batch):
        raise RuntimeError("connection lost")

    store_together(events, failing_insert, lambda *_: set(), lambda *_: None, one_by_one.append, _key)
    assert one_by_one == events

    inserted: list[tuple[str, int]] = []
    store_together(
        events,
        lambda batch: [10, 11, 12],
        lambda batch, ids: {10, 12},  # e2 had no planned record
        lambda event, event_id: inserted.append((event, event_id)),
        one_by_one.append,
        _key,
    )
    assert inserted == [("e2", 11)]


def _key(event: str) -> str:
    return event
