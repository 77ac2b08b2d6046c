"""Dagster's own storage (runs, event logs, schedules) on PostgreSQL, with pooled connections.

dagster-postgres opens a new connection for every statement (NullPool). A sync run writes one
materialization and three check evaluations per business partition, so that bookkeeping, not the sync,
was most of a small incremental run: `benchmarks/dagster_bookkeeping` measures ~200 ms per business on
stock dagster-postgres, ~30 ms on these classes.

These subclasses keep dagster-postgres's tables, migrations and configuration (`postgres_url` or
`postgres_db`) and change only the engine: a small pool per process whose connections are checked before
use, so a PostgreSQL restart costs one reconnect instead of a failed event. The check is free for a
connection handed straight back out within a burst of events (its socket is polled: a connection the
server terminated has its farewell or EOF waiting); one that sat idle, or whose socket has something to
read, is pinged. (`pool_pre_ping` pinged on every checkout, which doubled the round trips of a run's
bookkeeping.) Configured in `dagster_home/dagster.yaml` and `deploy/dagster.yaml` as `run_storage`,
`event_log_storage` and `schedule_storage`, which is how run workers receive them too. The event log
also remembers which of Dagster's tables exist instead of asking the catalog each time, and inside a
`known_partitions()` block answers dynamic-partition lookups from one read (see
pipeline.instance.partition_lookups), and inside a `batched_check_evaluations()` block stores a step's
check evaluations together (pipeline.instance.check_evaluation_batch).

Building these storages also turns on Dagster's batched event writes for the whole process
(`DAGSTER_EVENT_BATCH_SIZE`, off by default in OSS; an explicit setting in the environment wins): a
ranged run's per-business materializations are then stored with one INSERT instead of a write each.
"""

from __future__ import annotations

import os
import select
import time
from collections.abc import Mapping, Sequence
from typing import Any, Self

import sqlalchemy as sa
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.schema import SqlEventLogStorageTable
from dagster._serdes import ConfigurableClassData
from dagster_postgres.event_log import PostgresEventLogStorage
from dagster_postgres.run_storage import PostgresRunStorage
from dagster_postgres.schedule_storage import PostgresScheduleStorage
from dagster_postgres.utils import (
    create_pg_engine,
    get_token_provider_from_config,
    pg_url_from_config,
)

from pipeline.instance import check_evaluation_batch, partition_lookups

# Idle connections each storage keeps per process; more are opened under concurrency and closed after use.
POOL_SIZE = 1
MAX_OVERFLOW = 8
# Server-side idle timeouts or failovers should never hand out a connection older than this.
POOL_RECYCLE_SECONDS = 1800
# A connection back in the pool for longer than this is pinged before reuse, whatever its socket says
# (a peer that vanished without closing leaves nothing to read); within a burst of event writes a
# connection is reused after milliseconds.
PING_AFTER_IDLE_SECONDS = 0.25
# Materializations of one ranged run per INSERT. If the batch's second statement (tags, asset record)
# fails, Dagster's fallback writes the events again one by one: duplicates in the event log, no loss.
EVENT_BATCH_SIZE = 1000


def pooled_engine(postgres_url: str, token_provider: Any = None) -> sa.Engine:
    engine = create_pg_engine(
        postgres_url,
        token_provider,
        isolation_level="AUTOCOMMIT",
        pool_size=POOL_SIZE,
        max_overflow=MAX_OVERFLOW,
        pool_recycle=POOL_RECYCLE_SECONDS,
    )
    _check_before_use(engine, PING_AFTER_IDLE_SECONDS)
    return engine


def _check_before_use(engine: sa.Engine, idle_seconds: float) -> None:
    """SQLAlchemy's pessimistic disconnect handling, without a round trip for a connection just used. A
    connection that sat idle, or has unread bytes (a terminated backend's FATAL message, or EOF), is
    pinged; a dead one raises InvalidatePoolError, and the pool replaces it, and every connection older
    than it, before handing one out (as `pool_pre_ping` does; dagster-postgres retries the connect while
    the server is still down)."""

    def _stamp(_dbapi_conn: Any, record: Any) -> None:  # a new connection counts as just used
        record.info["returned_at"] = time.monotonic()

    sa.event.listen(engine, "connect", _stamp)
    sa.event.listen(engine, "checkin", _stamp)

    @sa.event.listens_for(engine, "checkout")
    def _check(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        idle = time.monotonic() - record.info.get("returned_at", 0.0)
        if idle <= idle_seconds and not _has_unread_bytes(dbapi_conn):
            return
        try:
            with dbapi_conn.cursor() as cursor:
                cursor.execute("SELECT 1")
        except Exception as exc:
            raise sa.exc.InvalidatePoolError("pooled Dagster storage connection is dead") from exc


def _has_unread_bytes(dbapi_conn: Any) -> bool:
    """Between statements a healthy autocommit connection has nothing to read from the server."""
    try:
        # poll, not select: a busy process's descriptors can exceed select's FD_SETSIZE.
        poller = select.poll()
        poller.register(dbapi_conn.fileno(), select.POLLIN)
        return bool(poller.poll(0))
    except Exception:  # a closed connection or descriptor
        return True


class _PooledEngine:
    """Mixin for the three dagster-postgres storages, whose constructors share one signature."""

    _engine: sa.Engine
    postgres_url: str
    _token_provider: Any

    def __init__(
        self,
        postgres_url: str,
        should_autocreate_tables: bool = True,
        inst_data: ConfigurableClassData | None = None,
        token_provider: Any = None,
    ) -> None:
        super().__init__(  # type: ignore[call-arg]
            postgres_url=postgres_url,
            should_autocreate_tables=should_autocreate_tables,
            inst_data=inst_data,
            token_provider=token_provider,
        )
        self._engine.dispose()
        self._engine = pooled_engine(postgres_url, token_provider)
        # Dagster reads this at every event, so setting it when the instance's storage is built covers
        # every process that stores events through it (run workers, the daemon, the webserver).
        os.environ.setdefault("DAGSTER_EVENT_BATCH_SIZE", str(EVENT_BATCH_SIZE))

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> Self:
        return cls(
            inst_data=inst_data,
            postgres_url=pg_url_from_config(config_value),
            should_autocreate_tables=config_value.get("should_autocreate_tables", True),
            token_provider=get_token_provider_from_config(config_value),
        )

    def dispose(self) -> None:
        self._engine.dispose()
        super().dispose()  # type: ignore[misc]


class PooledPostgresRunStorage(_PooledEngine, PostgresRunStorage):
    pass


class PooledPostgresEventLogStorage(_PooledEngine, PostgresEventLogStorage):
    def store_event(self, event: EventLogEntry) -> None:
        if not check_evaluation_batch.hold(self, event):
            super().store_event(event)

    def store_check_evaluations(self, events: Sequence[EventLogEntry]) -> None:
        """Called as a batched_check_evaluations block ends, with the evaluations it held."""

        def insert_events(batch: Sequence[EventLogEntry]) -> list[int]:
            statement = self.prepare_insert_event_batch(batch).returning(SqlEventLogStorageTable.c.id)
            with self._connect() as conn:
                return [int(i) for i in conn.execute(statement).scalars()]

        def update_records(batch: Sequence[EventLogEntry], ids: list[int]) -> set[int]:
            with self.index_connection() as conn:
                return check_evaluation_batch.update_records(conn, batch, ids)

        check_evaluation_batch.store_together(
            events, insert_events, update_records, self.store_asset_check_event, super().store_event
        )

    def _known_partitions(self, name: str) -> tuple[tuple[str, ...], frozenset[str]] | None:
        stored = super()  # Dagster's read, outside any known_partitions block
        return partition_lookups.lookup(self, name, lambda: stored.get_dynamic_partitions(name))

    def get_dynamic_partitions(self, partitions_def_name: str) -> Sequence[str]:
        known = self._known_partitions(partitions_def_name)
        return super().get_dynamic_partitions(partitions_def_name) if known is None else known[0]

    def has_dynamic_partition(self, partitions_def_name: str, partition_key: str) -> bool:
        known = self._known_partitions(partitions_def_name)
        if known is None:
            return super().has_dynamic_partition(partitions_def_name, partition_key)
        return partition_key in known[1]

    def add_dynamic_partitions(self, partitions_def_name: str, partition_keys: Sequence[str]) -> None:
        partition_lookups.forget(self, partitions_def_name)
        super().add_dynamic_partitions(partitions_def_name, partition_keys)

    def delete_dynamic_partition(self, partitions_def_name: str, partition_key: str) -> None:
        partition_lookups.forget(self, partitions_def_name)
        super().delete_dynamic_partition(partitions_def_name, partition_key)

    def has_table(self, table_name: str) -> bool:
        # Dagster asks the catalog before every dynamic-partition lookup and event-tag write (a third of a
        # small sync's storage time). Tables are created by migrations and never dropped while Dagster
        # runs, so a table once seen is remembered; a missing one is asked again, to see a migration.
        seen: set[str] = self.__dict__.setdefault("_tables_seen", set())
        if table_name not in seen:
            if not super().has_table(table_name):
                return False
            seen.add(table_name)
        return True


class PooledPostgresScheduleStorage(_PooledEngine, PostgresScheduleStorage):
    pass
