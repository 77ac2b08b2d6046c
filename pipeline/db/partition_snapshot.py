"""SQL that reads what one partition's sync needs, in the caller's REPEATABLE READ snapshot."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pipeline.db.vector_models import has_foreign_vectors


@dataclass(frozen=True)
class StoredGroup:
    content_hash: str
    model: str
    dimensions: int
    chunks: int
    chunk_count: int

    @property
    def complete(self) -> bool:
        return self.chunks == self.chunk_count


@dataclass(frozen=True)
class FailureState:
    content_hash: str
    attempts: int
    next_retry_at: datetime | None


@dataclass(frozen=True)
class QueueState:
    """The partition's queued changes and failure records: what decides how much of it a sync reads."""

    seqs: list[int]
    changed_ids: set[int]
    truncated: bool  # a TRUNCATE names no rows
    failures: dict[int, FailureState]
    foreign_vectors: bool  # vectors of another model or width are stored


@dataclass(frozen=True)
class PartitionSnapshot:
    queue_seqs: list[int]
    documents: dict[int, str]
    stored: dict[int, list[StoredGroup]]
    failures: dict[int, FailureState]
    examined: list[int] | None = None  # the rows read; None: the whole partition


def read_queue_state(
    conn: Connection, content_type: str, business_id: int, model: str, dims: int
) -> QueueState:
    params = {"ct": content_type, "b": business_id, "m": model, "d": dims}
    queued = conn.execute(
        sa.text(
            "SELECT seq, content_id, operation FROM content_changes WHERE content_type = :ct AND business_id = :b"
        ),
        params,
    ).all()
    failures = {
        row[0]: FailureState(row[1], row[2], row[3])
        for row in conn.execute(
            sa.text(
                "SELECT content_id, content_hash, attempts, next_retry_at FROM embedding_failures"
                " WHERE content_type = :ct AND business_id = :b"
            ),
            params,
        )
    }
    foreign = has_foreign_vectors(conn, content_type, business_id, model, dims)
    return QueueState(
        [r[0] for r in queued],
        {r[1] for r in queued if r[2] != "T"},
        any(r[2] == "T" for r in queued),
        failures,
        foreign,
    )


def read_partition(
    conn: Connection, content_type: str, business_id: int, queue: QueueState, rows: list[int] | None
) -> PartitionSnapshot:
    """The texts and stored vector state of `rows` (None: every row of the partition)."""
    params = {"ct": content_type, "b": business_id, "ids": rows}
    only = "" if rows is None else " AND content_id = ANY(CAST(:ids AS bigint[]))"
    docs = conn.execute(
        sa.text(
            "SELECT content_id, body FROM content_documents WHERE content_type = :ct AND business_id = :b"
            + only
        ),
        params,
    ).all()
    stored: dict[int, list[StoredGroup]] = {}
    for row in conn.execute(
        sa.text(
            "SELECT content_id, content_hash, model, dimensions, count(*), max(chunk_count)"
            " FROM content_embeddings WHERE business_id = :b AND content_type = :ct"
            + only
            + " GROUP BY content_id, content_hash, model, dimensions"
        ),
        params,
    ):
        stored.setdefault(row[0], []).append(StoredGroup(row[1], row[2], row[3], row[4], row[5]))
    return PartitionSnapshot(queue.seqs, dict(docs), stored, queue.failures, rows)
