"""Choosing how a sync maintains the HNSW indexes: insert into them live, or drop them for a bulk load and
build each again once its part of the load is in.

Inserting into HNSW costs a graph search per vector; building the graph from scratch with enough
`maintenance_work_mem` and parallel workers is several times faster per row. The index is split into
shards of businesses (`pipeline.db.vectors.shard_of`), one partial index each. When the queued work is
large, the shards it dominates are dropped and loaders write into the plain table; a ranged run takes
its businesses shard by shard, and as soon as a shard has nothing left queued its index is built
(CONCURRENTLY, while the load goes on with the next shards) if the database has CPU to spare
(`VECTOR_INDEX_BUILD_DURING_LOAD`), so a load that waits on the API has only its last shard left to
build when it ends; a CPU-bound one leaves them to the step's end, plain and side by side. Searches stay
correct meanwhile (exact scans). Unless the account's rate limits are
what bound the load: when they admit rows no faster than live inserts keep up
(`VECTOR_INDEX_LIVE_ROWS_PER_SECOND`), the inserts overlap the waits and the index stays live.

Coordination is by an advisory lock per vector width: loaders hold it shared while they write (and
while they build a finished shard), and a step's final build of whatever is still missing takes it
exclusively, so it never runs under a load. If a loader dies, any later sync (or `pipeline admin
reconcile`) finds shards missing and builds them.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from pipeline.db.change_queue import backlog, backlog_per_shard, sample_queued_texts, shard_has_backlog
from pipeline.db.engine import on_this_machine
from pipeline.db.vectors import (
    INDEX_SHARDS,
    analyze_vectors,
    drop_vector_index,
    ensure_vector_index,
    missing_shards,
    shard_of,
    vector_index_exists,
    vectors_per_shard,
)
from pipeline.lib.host_cpu import idle_meter
from pipeline.lib.tokens import count_tokens
from pipeline.settings import Settings

log = logging.getLogger(__name__)

_INDEX_LOCK_CLASS = 7_316_004
SHARD_BUILD_TIMEOUT = "10min"


def is_bulk_load(
    queued: int, min_rows: int, admitted_rows_per_second: float | None = None, live_rows_per_second: float = 0
) -> bool:
    """Worth dropping indexes for? Only a large load, and not when the account's limits admit rows no
    faster than live inserts keep up: the inserts then fit in the waits."""
    if queued < min_rows:
        return False
    return admitted_rows_per_second is None or admitted_rows_per_second > live_rows_per_second


def shards_to_drop(queued: dict[int, int], indexed: dict[int, int]) -> list[int]:
    """Shards whose queued work at least half-doubles what they index: rebuilding re-inserts what is
    already indexed, which only pays when the new rows dominate."""
    return sorted(k for k, q in queued.items() if q > 0 and 2 * q >= indexed.get(k, 0))


def admitted_rows_per_second(settings: Settings, tokens_per_row: float) -> float:
    """The most rows per second the account's limits let an embedding load send."""
    by_tpm = settings.openai_tpm / 60 / max(tokens_per_row, 1.0)
    by_rpm = settings.openai_rpm / 60 * settings.embedding_max_inputs_per_request
    return min(by_tpm, by_rpm)


def should_build(queued: int, oldest_age_seconds: float | None, min_rows: int, stuck_seconds: float) -> bool:
    """Build missing shards now? Not while a bulk backlog is still being worked through (its loaders would
    drop them again), unless that backlog looks stuck: search must not stay unindexed indefinitely."""
    return queued < min_rows or (oldest_age_seconds or 0) > stuck_seconds


def load_position(business_id: int) -> tuple[int, int]:
    """Where a business comes in a load: shard by shard, so that each shard's load finishes early and its
    index can be built while the next shards load."""
    return shard_of(business_id), business_id


@dataclass
class IndexOutcome:
    mode: str = "live"  # "live": written into the index; "deferred": some shards dropped for this load
    shards_built_during_load: int = 0
    built: bool = False  # the missing shards built when the step ended

    def describe(self) -> str:
        n = self.shards_built_during_load
        during = f", {n} shard(s) built during the load" if n else ""
        return self.mode + during + (", rebuilt" if self.built else "")


# Below this idle share of the machine's CPUs a load is CPU-bound: a shard build beside it (a concurrent
# one, which scans twice and validates) only slows the load, and the build is cheaper once it ends.
MIN_IDLE_FOR_BUILD_DURING_LOAD = 0.25


class LoadIndex:
    """The index side of one sync step: told when each business is done, it builds a shard's index once
    the step has no business of it left and nothing of it is queued, while the load goes on, if the
    database has CPU to spare for it; the rest are left to the step's end."""

    def __init__(self, engine: Engine, dims: int, settings: Settings, business_ids: Iterable[int]) -> None:
        self.engine, self.dims, self.settings = engine, dims, settings
        self.outcome = IndexOutcome()
        self._left = Counter(shard_of(b) for b in business_ids)
        self._lock = threading.Lock()
        self._builder = ThreadPoolExecutor(1, thread_name_prefix="index-build")
        self._unindexed: set[int] = set()
        self._finished: list[int] = []  # loaded shards not built yet
        self._chain_running = False  # a build chain (_build_finished) is on; under _lock
        self._stopping = False
        # Where the database shares this machine, a busy CPU means a CPU-bound load; elsewhere the
        # database's CPU is mostly free during a load (it only stores what the pipeline sends).
        mode = settings.vector_index_build_during_load
        self._never = mode == "never"
        self._meter = idle_meter() if mode == "auto" and on_this_machine(engine.url) else None

    def start(self) -> None:
        """Note the shards without an index once this step has dropped its own: the ones it may build."""
        with self.engine.connect() as conn:
            self._unindexed = set(missing_shards(conn, self.dims))
        if self._meter is not None:
            self._meter.restart()  # the load's CPU, not the run's start-up before it

    def business_done(self, business_id: int) -> None:
        shard = shard_of(business_id)
        with self._lock:
            self._left[shard] -= 1
            if self._left[shard] == 0 and shard in self._unindexed:
                self._finished.append(shard)
            if self._finished and not self._chain_running and self._cpu_to_spare():
                self._chain_running = True
                self._builder.submit(self._build_finished, self._finished.pop(0))

    def _cpu_to_spare(self) -> bool:
        if self._never:
            return False
        if self._meter is None:  # "always", a server elsewhere, or no /proc/stat to read
            return True
        idle = self._meter.idle()
        return idle is not None and idle >= MIN_IDLE_FOR_BUILD_DURING_LOAD

    def _build_finished(self, shard: int) -> None:
        """Build this loaded shard, then those loaded meanwhile while the CPU still has room (a build of
        ours takes one process: a CPU-bound load leaves next to nothing idle beside it)."""
        built = 0
        next_shard: int | None = shard
        try:
            while next_shard is not None:
                built += self._build_shard(next_shard)
                with self._lock:
                    go = self._finished and not self._stopping and self._cpu_to_spare()
                    next_shard = self._finished.pop(0) if go else None
                    # Cleared in the same step as the decision to stop: a shard loaded from now on starts
                    # a chain of its own (set only here, a later chain's flag is never cleared by this one).
                    self._chain_running = next_shard is not None
        except Exception as exc:  # the step's final build makes up for it
            log.warning("building an HNSW index shard during the load failed: %s", exc)
            with self._lock:
                self._chain_running = False
        finally:
            with self._lock:
                self.outcome.shards_built_during_load += built

    def _build_shard(self, shard: int) -> bool:
        """Build the shard's index unless changes of it are queued (ensure_vector_index skips it if it
        exists, or if another session is building it)."""
        with self.engine.connect() as conn:
            if shard_has_backlog(conn, shard, INDEX_SHARDS):
                return False
        built = ensure_vector_index(
            self.engine,
            self.dims,
            self.settings.vector_index_build_memory,
            0,  # one process: the loaders, which the step waits for, keep the other cores
            [shard],
            concurrently=True,
            timeout=SHARD_BUILD_TIMEOUT,  # a build stuck behind an old transaction is left to the step's end
        )
        if built:
            log.info("HNSW index shard %d for %d dimensions built while the load goes on", shard, self.dims)
        return built

    def finish(self) -> None:
        """Wait for the build in progress; loaded shards not built yet are left to the step's end, which
        builds them faster as plain CREATE INDEX, side by side, with no loader left to write meanwhile
        (or, if the step failed, to the next sync)."""
        with self._lock:
            self._stopping = True
        self._builder.shutdown(wait=True)  # each chain counts and logs its own builds


@contextmanager
def vector_index_for_load(
    engine: Engine, dims: int, settings: Settings, business_ids: Iterable[int] = ()
) -> Iterator[LoadIndex]:
    """Wrap one sync step over `business_ids`; afterwards every shard is indexed unless a bulk backlog
    remains."""
    key = {"c": _INDEX_LOCK_CLASS, "k": int(dims)}
    load = LoadIndex(engine, dims, settings, business_ids)
    with engine.connect() as lock_conn:
        lock_conn.execute(sa.text("SELECT pg_advisory_lock_shared(:c, :k)"), key)
        lock_conn.commit()
        try:
            if _defer(engine, dims, settings):
                load.outcome.mode = "deferred"
            load.start()
            yield load
        finally:
            try:
                load.finish()
            finally:
                lock_conn.execute(sa.text("SELECT pg_advisory_unlock_shared(:c, :k)"), key)
                lock_conn.commit()
        if _build_if_due(engine, lock_conn, key, dims, settings):
            load.outcome.built = True
    if load.outcome.mode == "deferred":
        analyze_vectors(engine)


def _defer(engine: Engine, dims: int, settings: Settings) -> list[int]:
    """Drop the shards this load dominates; returns those dropped."""
    min_rows = settings.vector_index_defer_min_rows
    with engine.connect() as conn:
        queued, _ = backlog(conn)
        if not is_bulk_load(queued, min_rows):
            return []
        missing = set(missing_shards(conn, dims))
        per_shard = backlog_per_shard(conn, INDEX_SHARDS)
        candidates = [k for k in shards_to_drop(per_shard, vectors_per_shard(conn, dims)) if k not in missing]
        if not candidates:
            return []
        texts = sample_queued_texts(conn)
    tokens = [count_tokens(t, settings.embedding_model) for t in texts]
    admitted = admitted_rows_per_second(settings, sum(tokens) / len(tokens)) if tokens else None
    if not is_bulk_load(queued, min_rows, admitted, settings.vector_index_live_rows_per_second):
        log.info(
            "bulk load of %d queued changes: the rate limits admit ~%.0f rows/s, which live HNSW inserts "
            "keep up with (VECTOR_INDEX_LIVE_ROWS_PER_SECOND %d); the index stays live",
            queued,
            admitted or 0,
            settings.vector_index_live_rows_per_second,
        )
        return []
    dropped = drop_vector_index(engine, dims, candidates)
    if dropped:
        log.info(
            "bulk load of %d queued changes: HNSW index shards %s dropped, each to be built once loaded",
            queued,
            dropped,
        )
    return dropped


def _build_if_due(
    engine: Engine, lock_conn: sa.Connection, key: dict[str, int], dims: int, settings: Settings
) -> bool:
    with engine.connect() as conn:
        if vector_index_exists(conn, dims):
            return False
        queued, oldest = backlog(conn)
    stuck_seconds = settings.stuck_change_minutes * 60
    if not should_build(queued, oldest, settings.vector_index_defer_min_rows, stuck_seconds):
        return False
    if not lock_conn.execute(sa.text("SELECT pg_try_advisory_lock(:c, :k)"), key).scalar_one():
        return False  # another loader is still writing; it builds when it finishes
    lock_conn.commit()
    try:
        built = ensure_vector_index(
            engine, dims, settings.vector_index_build_memory, settings.vector_index_build_workers
        )
        if built:
            log.info("HNSW index for %d dimensions built", dims)
        return built
    finally:
        lock_conn.execute(sa.text("SELECT pg_advisory_unlock(:c, :k)"), key)
        lock_conn.commit()
