"""Dagster's own storage as shipped in dagster_home/dagster.yaml: dagster-postgres's tables on pooled
connections, which carry a run's events across a PostgreSQL restart."""

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent


@dg.asset(partitions_def=dg.StaticPartitionsDefinition(["a", "b"]))
def probe(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"key": context.partition_key})


@pytest.fixture
def shipped_instance(database_url: str, tmp_path: Path, monkeypatch) -> Iterator[dg.DagsterInstance]:
    """An instance built from the repository's dagster_home/dagster.yaml, on a database of its own."""
    name = f"dagster_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(database_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(database_url).set(drivername="postgresql+psycopg2", database=name)
    monkeypatch.setenv("DAGSTER_PG_URL", url.render_as_string(hide_password=False))
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", tmp_path / "dagster.yaml")
    try:
        with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
            yield instance
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


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


def test_a_table_created_later_is_seen(shipped_instance):
    storage = shipped_instance.event_log_storage
    assert storage.has_table("event_logs")
    assert not storage.has_table("added_by_a_later_migration")
    with storage._engine.connect() as conn:
        conn.execute(sa.text("CREATE TABLE added_by_a_later_migration (id int)"))
    # Existing tables are remembered; a missing one is asked for again.
    assert storage.has_table("added_by_a_later_migration")
