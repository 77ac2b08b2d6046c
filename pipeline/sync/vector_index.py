"""Choosing how a sync maintains the HNSW index: insert into it live, or drop it for a bulk load and build
it once when the backlog has drained.

Inserting into HNSW costs a graph search per vector; building the graph from scratch with enough
`maintenance_work_mem` and parallel workers is several times faster per row. So when the queued work is
large and not small next to what is already indexed, the index is dropped, loaders write into the plain
table, and the last loader to finish builds it. Searches stay correct meanwhile (exact scans). Unless
the account's rate limits are what bound the load: when they admit rows no faster than live inserts keep
up (`VECTOR_INDEX_LIVE_ROWS_PER_SECOND`), the inserts overlap the waits and the index stays live.

Coordination is by an advisory lock per vector width: deferred loaders hold it shared while they write,
and the index is built only under the exclusive lock, so it is never built under a running load. If a
loader dies, any later sync (or `pipeline admin reindex`) finds the index missing and builds it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from pipeline.db.change_queue import backlog, sample_queued_texts
from pipeline.db.vectors import count_vectors, drop_vector_index, ensure_vector_index, vector_index_exists
from pipeline.lib.tokens import count_tokens
from pipeline.settings import Settings

log = logging.getLogger(__name__)

_INDEX_LOCK_CLASS = 7_316_004


def should_defer(
    queued: int,
    indexed: int,
    min_rows: int,
    admitted_rows_per_second: float | None = None,
    live_rows_per_second: float = 0,
) -> bool:
    """Drop the index for this load? Only for a large load that at least half-doubles the index: rebuilding
    re-inserts what is already indexed, which only pays when the new rows dominate. And not when the
    account's limits admit rows no faster than live inserts keep up: the inserts then fit in the waits."""
    if queued < min_rows or 2 * queued < indexed:
        return False
    rate_bound = admitted_rows_per_second is not None and admitted_rows_per_second <= live_rows_per_second
    return not rate_bound


def admitted_rows_per_second(settings: Settings, tokens_per_row: float) -> float:
    """The most rows per second the account's limits let an embedding load send."""
    by_tpm = settings.openai_tpm / 60 / max(tokens_per_row, 1.0)
    by_rpm = settings.openai_rpm / 60 * settings.embedding_max_inputs_per_request
    return min(by_tpm, by_rpm)


def should_build(queued: int, oldest_age_seconds: float | None, min_rows: int, stuck_seconds: float) -> bool:
    """Build a missing index now? Not while a bulk backlog is still being worked through (its loaders would
    drop it again), unless that backlog looks stuck: search must not stay unindexed indefinitely."""
    return queued < min_rows or (oldest_age_seconds or 0) > stuck_seconds


@dataclass
class IndexOutcome:
    mode: str = "live"  # "live": written into the index; "deferred": index dropped for this load
    built: bool = False


@contextmanager
def vector_index_for_load(engine: Engine, dims: int, settings: Settings) -> Iterator[IndexOutcome]:
    """Wrap one sync step; afterwards the index exists unless a bulk backlog remains."""
    outcome = IndexOutcome()
    key = {"c": _INDEX_LOCK_CLASS, "k": int(dims)}
    with engine.connect() as lock_conn:
        lock_conn.execute(sa.text("SELECT pg_advisory_lock_shared(:c, :k)"), key)
        lock_conn.commit()
        try:
            if _defer(engine, dims, settings):
                outcome.mode = "deferred"
            yield outcome
        finally:
            lock_conn.execute(sa.text("SELECT pg_advisory_unlock_shared(:c, :k)"), key)
            lock_conn.commit()
        outcome.built = _build_if_due(engine, lock_conn, key, dims, settings)


def _defer(engine: Engine, dims: int, settings: Settings) -> bool:
    min_rows = settings.vector_index_defer_min_rows
    with engine.connect() as conn:
        queued, _ = backlog(conn)
        if queued < min_rows or not vector_index_exists(conn, dims):
            return False
        indexed = count_vectors(conn, dims)
        if not should_defer(queued, indexed, min_rows):
            return False
        texts = sample_queued_texts(conn)
    tokens = [count_tokens(t, settings.embedding_model) for t in texts]
    admitted = admitted_rows_per_second(settings, sum(tokens) / len(tokens)) if tokens else None
    if not should_defer(queued, indexed, min_rows, admitted, settings.vector_index_live_rows_per_second):
        log.info(
            "bulk load of %d queued changes: the rate limits admit ~%.0f rows/s, which live HNSW inserts "
            "keep up with (VECTOR_INDEX_LIVE_ROWS_PER_SECOND %d); the index stays live",
            queued,
            admitted or 0,
            settings.vector_index_live_rows_per_second,
        )
        return False
    if not drop_vector_index(engine, dims):
        return False
    log.info("bulk load of %d queued changes: HNSW index dropped, to be built once at the end", queued)
    return True


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
