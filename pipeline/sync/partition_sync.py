"""Bringing one (content type, business) partition's vectors in line with its rows."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from pipeline.content_types import ContentType
from pipeline.db import embedding_store as store
from pipeline.db import synced_rows
from pipeline.db.partition_snapshot import PartitionSnapshot, read_partition, read_queue_state
from pipeline.lib.chunking import Chunk, chunk_text
from pipeline.lib.packing import Packable, pack
from pipeline.llm.calls import CallContext
from pipeline.llm.embeddings import EmbeddingService
from pipeline.llm.errors import InputRejectedError, RequestFailedError
from pipeline.settings import Settings
from pipeline.sync.plan import Document, SyncPlan, next_retry_at, plan_partition
from pipeline.sync.scope import rows_to_examine
from pipeline.sync.stats import SyncStats

log = logging.getLogger(__name__)

_PARTITION_LOCK_CLASS = 7_316_003
# Beyond this many chunks a text is refused rather than embedded (about 260k tokens, a novel).
MAX_CHUNKS_PER_ROW = 32


@dataclass(frozen=True)
class PreparedDocument:
    doc: Document
    chunks: list[Chunk]

    @property
    def tokens(self) -> int:
        return sum(c.tokens for c in self.chunks)


@dataclass
class PartitionSyncer:
    engine: Engine
    service: EmbeddingService
    settings: Settings
    # Shared by every partition the run syncs: it bounds the requests in flight, and the database
    # connections they hold, per process (per-partition pools multiplied both and exhausted the pool).
    request_pool: Executor
    run_id: str | None = None
    # Change-driven runs read only the rows the queue names (see pipeline.sync.scope).
    change_driven: bool = False

    def sync(self, content_type: ContentType, business_id: int) -> SyncStats:
        with self._partition_lock(content_type.name, business_id):
            snapshot = self._read(content_type.name, business_id)
            plan = plan_partition(
                snapshot,
                self.service.model,
                self.service.dimensions,
                datetime.now(UTC),
                self.settings.embedding_max_row_attempts,
            )
            stats = SyncStats(
                skipped=plan.up_to_date,
                empty=len(plan.empty),
                deferred=len(plan.deferred),
                examined=len(snapshot.documents) if snapshot.examined is None else len(snapshot.examined),
                partitions=1,
                whole_partitions=int(snapshot.examined is None),
            )
            stats.merge(self._embed_all(content_type.name, business_id, plan, snapshot))
            with self.engine.begin() as conn:
                stats.deleted += len(plan.to_delete)
                store.delete_vectors(conn, content_type.name, business_id, plan.to_delete)
                store.delete_superseded(
                    conn,
                    content_type.name,
                    business_id,
                    self.service.model,
                    self.service.dimensions,
                    plan.superseded,
                )
                gone = [cid for cid in snapshot.failures if cid not in snapshot.documents]
                store.rehome_failures(conn, content_type.name, business_id, gone)
                store.consume_changes(conn, content_type.name, business_id, snapshot.queue_seqs)
                if self.run_id is not None:
                    synced_rows.record(conn, self.run_id, content_type.name, business_id, snapshot.examined)
        return stats

    def _read(self, content_type: str, business_id: int) -> PartitionSnapshot:
        model, dims = self.service.model, self.service.dimensions
        with self.engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, conn.begin():
            queue = read_queue_state(conn, content_type, business_id, model, dims)
            rows = rows_to_examine(queue, self.change_driven)
            return read_partition(conn, content_type, business_id, queue, rows)

    @contextmanager
    def _partition_lock(self, content_type: str, business_id: int) -> Iterator[None]:
        """Serialise syncs of one partition across runs; released by the server if we die."""
        key = {"c": _PARTITION_LOCK_CLASS, "k": f"{content_type}:{business_id}"}
        with self.engine.connect() as conn:
            conn.execute(sa.text("SELECT pg_advisory_lock(:c, hashtext(:k))"), key)
            conn.commit()
            try:
                yield
            finally:
                conn.execute(sa.text("SELECT pg_advisory_unlock(:c, hashtext(:k))"), key)
                conn.commit()

    def _embed_all(
        self, content_type: str, business_id: int, plan: SyncPlan, snapshot: PartitionSnapshot
    ) -> SyncStats:
        stats = SyncStats()
        prepared: list[Packable[PreparedDocument]] = []
        for doc in plan.to_embed:
            chunks = chunk_text(doc.text, self.service.model)
            if len(chunks) > MAX_CHUNKS_PER_ROW:
                self._fail(
                    content_type,
                    business_id,
                    [doc],
                    snapshot,
                    "text_too_long",
                    f"Text has {sum(c.tokens for c in chunks)} tokens, over the "
                    f"{MAX_CHUNKS_PER_ROW}-chunk limit; shorten it and it will be embedded.",
                )
                stats.failed += 1
                continue
            p = PreparedDocument(doc, chunks)
            prepared.append(Packable(p, p.tokens, len(doc.text.encode("utf-8"))))
        requests = list(
            pack(
                prepared,
                self.settings.embedding_max_inputs_per_request,
                self.settings.embedding_max_tokens_per_request,
            )
        )
        if not requests:
            return stats
        futures = [
            self.request_pool.submit(
                self._embed_request, content_type, business_id, [p.item for p in r], snapshot
            )
            for r in requests
        ]
        try:
            for future in futures:
                stats.merge(future.result())  # a fatal provider error propagates from here
        finally:
            for future in futures:
                future.cancel()  # after a failure, this partition's queued requests are not sent
        return stats

    def _embed_request(
        self,
        content_type: str,
        business_id: int,
        docs: Sequence[PreparedDocument],
        snapshot: PartitionSnapshot,
    ) -> SyncStats:
        texts = [c.text for d in docs for c in d.chunks]
        tokens = sum(d.tokens for d in docs)
        ctx = CallContext("embedding_sync", business_id, content_type, self.run_id)
        try:
            batch = self.service.embed(texts, tokens, ctx)
        except InputRejectedError as exc:
            if len(docs) == 1:
                self._fail(content_type, business_id, [docs[0].doc], snapshot, exc.error_type, str(exc))
                return SyncStats(failed=1, requests=1)
            # Bisect to isolate the rejected row(s); the others still get their vectors.
            half = len(docs) // 2
            left = self._embed_request(content_type, business_id, docs[:half], snapshot)
            left.merge(self._embed_request(content_type, business_id, docs[half:], snapshot))
            left.requests += 1
            return left
        except RequestFailedError as exc:
            self._fail(content_type, business_id, [d.doc for d in docs], snapshot, exc.error_type, str(exc))
            return SyncStats(failed=len(docs), requests=1)
        vectors = iter(batch.vectors)
        rows = [
            store.ChunkVector(
                d.doc.content_id, c.index, len(d.chunks), d.doc.content_hash, c.tokens, c.text, next(vectors)
            )
            for d in docs
            for c in d.chunks
        ]
        per_token = batch.cost_usd / max(sum(d.tokens for d in docs), 1)
        with self.engine.begin() as conn:
            store.count_embeds(
                conn,
                content_type,
                business_id,
                [
                    (d.doc.content_id, d.tokens, (per_token * d.tokens).quantize(Decimal("1E-8")))
                    for d in docs
                ],
            )
            store.write_vectors(
                conn,
                content_type,
                business_id,
                self.service.model,
                self.service.dimensions,
                rows,
                conflict_free=not any(self._has_partial(snapshot, d.doc) for d in docs),
            )
        return SyncStats(
            embedded=len(docs),
            chunks=len(rows),
            tokens=batch.input_tokens,
            cost_usd=batch.cost_usd,
            requests=1,
        )

    def _has_partial(self, snapshot: PartitionSnapshot, doc: Document) -> bool:
        """Are some chunks of this exact text already stored (an interrupted earlier write)?"""
        target = (doc.content_hash, self.service.model, self.service.dimensions)
        return any(
            (g.content_hash, g.model, g.dimensions) == target for g in snapshot.stored.get(doc.content_id, ())
        )

    def _fail(
        self,
        content_type: str,
        business_id: int,
        docs: Sequence[Document],
        snapshot: PartitionSnapshot,
        error_type: str,
        message: str,
    ) -> None:
        now = datetime.now(UTC)
        records = []
        for doc in docs:
            previous = snapshot.failures.get(doc.content_id)
            attempts = previous.attempts + 1 if previous and previous.content_hash == doc.content_hash else 1
            retry_at = next_retry_at(
                attempts,
                now,
                self.settings.embedding_retry_base_seconds,
                self.settings.embedding_max_row_attempts,
            )
            records.append((doc.content_id, doc.content_hash, attempts, retry_at))
        log.warning("%d %s row(s) of business %s failed: %s", len(docs), content_type, business_id, message)
        with self.engine.begin() as conn:
            store.record_failures(conn, content_type, business_id, records, error_type, message)
