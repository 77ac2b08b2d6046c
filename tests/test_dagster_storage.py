"""Dagster's own storage as shipped in dagster_home/dagster.yaml: dagster-postgres's tables on pooled
connections, which carry a run's events across a PostgreSQL restart."""

import contextlib
import os
import time

import dagster as dg
import pytest
import sqlalchemy as sa


@dg.asset(partitions_def=dg.StaticPartitionsDefinition(["a", "b"]))
def probe(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"key": context.partition_key})


@dg.asset(
    partitions_def=dg.StaticPartitionsDefinition(["a", "b", "c"]),
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def ranged_probe(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    for key in context.partition_keys:
        context.add_asset_metadata({"key": key}, partition_key=key)
    return dg.MaterializeResult()


probe_businesses = dg.DynamicPartitionsDefinition(name="probe_businesses")


def _ranged_dynamic_probe(name: str, in_one_read: bool) -> dg.AssetsDefinition:
    from pipeline.instance.partition_lookups import known_partitions

    @dg.asset(name=name, partitions_def=probe_businesses, backfill_policy=dg.BackfillPolicy.single_run())
    def _probe(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        with known_partitions() if in_one_read else contextlib.nullcontext():
            for key in context.partition_keys:
                context.add_asset_metadata({"key": key}, partition_key=key)
        return dg.MaterializeResult()

    return _probe


def _materialized(instance: dg.DagsterInstance) -> list[str | None]:
    records = instance.fetch_materializations(dg.AssetKey("probe"), limit=100).records
    return sorted(r.partition_key for r in records if r.partition_key)


def test_shipped_instance_stores_runs_and_events_in_postgresql(shipped_instance):
    from pipeline.instance.postgres_storage import PooledPostgresEventLogStorage, PooledPostgresRunStorage

    assert isinstance(shipped_instance.event_log_storage, PooledPostgresEventLogStorage)
    assert isinstance(shipped_instance.run_storage, PooledPostgresRunStorage)
    # Run workers rebuild the instance from its reference: they must get the pooled classes too.
    ref = shipped_instance.get_ref()
    assert ref.event_storage_data.class_name == "PooledPostgresEventLogStorage"

    result = dg.materialize([probe], partition_key="a", instance=shipped_instance)

    assert result.success
    assert _materialized(shipped_instance) == ["a"]
    assert shipped_instance.get_run_by_id(result.run_id).is_success


@pytest.mark.skipif(
    "DATABASE_URL_IS_EXTERNAL" in os.environ, reason="needs the embedded server to restart it"
)
def test_pooled_connections_survive_a_database_restart(shipped_instance):
    from pipeline.db.embedded import ensure_embedded_server, stop_embedded_server
    from pipeline.settings import get_settings

    assert dg.materialize([probe], partition_key="a", instance=shipped_instance).success
    data_dir = get_settings().data_dir
    stop_embedded_server(data_dir)
    ensure_embedded_server(data_dir)

    # Every pooled connection died with the server; the next events reconnect instead of failing.
    result = dg.materialize([probe], partition_key="b", instance=shipped_instance)

    assert result.success
    assert _materialized(shipped_instance) == ["a", "b"]


def test_a_ranged_runs_materializations_are_one_batch_and_keep_their_partitions(
    shipped_instance, monkeypatch
):
    storage = shipped_instance.event_log_storage
    batches: list[list[str]] = []
    store_batch = storage.store_event_batch

    def recording(events):
        batches.append([e.dagster_event_type.value for e in events])
        return store_batch(events)

    monkeypatch.setattr(storage, "store_event_batch", recording)
    result = dg.materialize(
        [ranged_probe],
        instance=shipped_instance,
        tags={"dagster/asset_partition_range_start": "a", "dagster/asset_partition_range_end": "c"},
    )

    assert result.success
    assert ["ASSET_MATERIALIZATION"] * 3 in batches  # one write for the three businesses
    records = shipped_instance.fetch_materializations(dg.AssetKey("ranged_probe"), limit=10).records
    stored = {r.partition_key: r.asset_materialization.metadata["key"].value for r in records}
    assert stored == {"a": "a", "b": "b", "c": "c"}
    # What the UI's partition bar and asset page read.
    assert shipped_instance.get_materialized_partitions(dg.AssetKey("ranged_probe")) == {"a", "b", "c"}
    entry = shipped_instance.get_asset_records([dg.AssetKey("ranged_probe")])[0].asset_entry
    assert entry.last_materialization_record.storage_id == max(r.storage_id for r in records)


def _kill_pooled_connection(storage, database_url: str) -> int:
    """Terminate the backend of the storage pool's idle connection; returns once it has exited."""
    with storage._engine.connect() as conn:
        pid = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
    admin = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    with admin.begin() as conn:
        assert conn.execute(sa.text("SELECT pg_terminate_backend(:p, 5000)"), {"p": pid}).scalar_one()
    admin.dispose()
    return pid


@pytest.mark.parametrize("idle", ["just_returned", "idle"])
def test_a_pooled_connection_killed_in_the_pool_is_replaced(shipped_instance, database_url, idle):
    from pipeline.instance.postgres_storage import PING_AFTER_IDLE_SECONDS

    storage = shipped_instance.event_log_storage
    pid = _kill_pooled_connection(storage, database_url)
    if idle == "idle":
        time.sleep(PING_AFTER_IDLE_SECONDS * 2)

    # The pool's only connection is dead; the next storage call gets a new one instead of an error.
    shipped_instance.add_dynamic_partitions("killed", ["x"])
    assert shipped_instance.has_dynamic_partition("killed", "x")
    with storage._engine.connect() as conn:
        assert conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one() != pid


@pytest.mark.skipif(
    "DATABASE_URL_IS_EXTERNAL" in os.environ, reason="needs the embedded server to restart it"
)
def test_a_connection_used_just_before_a_restart_is_replaced_without_waiting_to_idle(
    shipped_instance, monkeypatch
):
    """Within a burst of event writes the next checkout comes milliseconds after the last: the socket
    check, not the idle ping, must catch a connection the restart killed."""
    from dagster_postgres.utils import create_pg_connection

    from pipeline.db.embedded import ensure_embedded_server, stop_embedded_server
    from pipeline.instance import postgres_storage
    from pipeline.settings import get_settings

    monkeypatch.setattr(postgres_storage, "PING_AFTER_IDLE_SECONDS", 3600.0)  # never idle long enough
    engine = postgres_storage.pooled_engine(os.environ["DAGSTER_PG_URL"])
    try:
        with create_pg_connection(engine) as conn:
            conn.execute(sa.text("SELECT 1"))
        data_dir = get_settings().data_dir
        stop_embedded_server(data_dir)
        ensure_embedded_server(data_dir)

        # dagster-postgres's own connect path, as every storage call takes it.
        with create_pg_connection(engine) as conn:
            assert conn.execute(sa.text("SELECT 1")).scalar_one() == 1
    finally:
        engine.dispose()


def test_a_table_created_later_is_seen(shipped_instance):
    storage = shipped_instance.event_log_storage
    assert storage.has_table("event_logs")
    assert not storage.has_table("added_by_a_later_migration")
    with storage._engine.connect() as conn:
        conn.execute(sa.text("CREATE TABLE added_by_a_later_migration (id int)"))
    # Existing tables are remembered; a missing one is asked for again.
    assert storage.has_table("added_by_a_later_migration")


def _partition_reads(storage) -> list[str]:
    """Statements this storage sends that read the dynamic partitions table, from now on."""
    reads: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:
        if "dynamic_partitions" in statement and statement.lstrip().upper().startswith("SELECT"):
            reads.append(statement)

    sa.event.listen(storage._engine, "before_cursor_execute", record)
    return reads


def test_a_ranged_run_checks_its_businesses_keys_with_one_read(shipped_instance):
    """Dagster checks each key a run attaches metadata to against the instance: three queries per
    business, one of them reading every key (5,000 with 5,000 businesses). Inside known_partitions the
    storage reads the keys once; each business still gets its own metadata."""
    keys = [f"b{i:03d}" for i in range(40)]
    shipped_instance.add_dynamic_partitions("probe_businesses", keys)
    tags = {"dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": keys[-1]}
    reads = _partition_reads(shipped_instance.event_log_storage)

    per_key = _ranged_dynamic_probe("per_key_probe", in_one_read=False)
    assert dg.materialize([per_key], instance=shipped_instance, tags=tags).success
    reads_per_key = len(reads)
    reads.clear()
    one_read = _ranged_dynamic_probe("one_read_probe", in_one_read=True)
    assert dg.materialize([one_read], instance=shipped_instance, tags=tags).success

    assert reads_per_key >= 3 * len(keys)
    assert len(reads) <= reads_per_key - 3 * len(keys) + 1  # the block's one read replaced 120
    records = shipped_instance.fetch_materializations(dg.AssetKey("one_read_probe"), limit=100).records
    assert {r.partition_key: r.asset_materialization.metadata["key"].value for r in records} == {
        k: k for k in keys
    }


def test_known_partitions_follow_this_processs_changes_and_end_with_the_block(shipped_instance):
    from dagster_postgres.event_log import PostgresEventLogStorage

    from pipeline.instance.partition_lookups import known_partitions

    other_process = PostgresEventLogStorage(os.environ["DAGSTER_PG_URL"])  # what another process writes
    shipped_instance.add_dynamic_partitions("tenants", ["a"])
    with known_partitions():
        assert shipped_instance.has_dynamic_partition("tenants", "a")
        shipped_instance.add_dynamic_partitions("tenants", ["b"])  # through this storage: read again
        assert list(shipped_instance.get_dynamic_partitions("tenants")) == ["a", "b"]
        other_process.add_dynamic_partitions("tenants", ["c"])
        assert not shipped_instance.has_dynamic_partition("tenants", "c")  # the block's one read
        shipped_instance.delete_dynamic_partition("tenants", "a")
        assert not shipped_instance.has_dynamic_partition("tenants", "a")
    assert shipped_instance.has_dynamic_partition("tenants", "c")  # outside a block: the database
    assert list(shipped_instance.get_dynamic_partitions("tenants")) == ["b", "c"]
    other_process.dispose()
