"""Bringing one (content type, business) partition's vectors in line with its rows."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from concurrent.futures import CancelledError, Executor
from contextlib import contextmanager
from dataclasses import dataclass, field
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
from pipeline.llm.embeddings import EmbeddingBatch, EmbeddingService
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
class RequestOutcome:
    embedded: list[tuple[list[PreparedDocument], EmbeddingBatch]] = field(default_factory=list)
    failed: list[tuple[list[PreparedDocument], str, str]] = field(default_factory=list)
    requests: int = 0
    # An error that ends the sync (quota, key, emergency stop): raised once `embedded` is stored.
    fatal: Exception | None = None


@dataclass
class PartitionSyncer:
    engine: Engine
    service: EmbeddingService
    settings: Settings
    # Shared by every partition the run syncs: it bounds the requests in flight per process (per-partition
    # pools multiplied them). Its threads only call the provider; writes happen on the partition's thread.
    request_pool: Executor
    run_id: str | None = None
    # Change-driven runs read only the rows the queue names (see pipeline.sync.scope).
    change_driven: bool = False

    def sync(self, content_type: ContentType, business_id: int) -> SyncStats:
        # One connection carries the partition lock, the snapshot, every write and the final transaction,
        # so a sync holds one pooled connection however long its requests take.
        with self._locked_connection(content_type.name, business_id) as conn:
            snapshot = self._read(conn, content_type.name, business_id)
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
            stats.merge(self._embed_all(conn, content_type.name, business_id, plan, snapshot))
            with conn.begin():
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
                if plan.resolved:
                    store.clear_failures(conn, content_type.name, plan.resolved, business_id)
                gone = [cid for cid in snapshot.failures if cid not in snapshot.documents]
                store.rehome_failures(conn, content_type.name, business_id, gone)
                store.consume_changes(conn, content_type.name, business_id, snapshot.queue_seqs)
                if self.run_id is not None:
                    synced_rows.record(conn, self.run_id, content_type.name, business_id, snapshot.examined)
        return stats

    def _read(self, conn: sa.Connection, content_type: str, business_id: int) -> PartitionSnapshot:
        model, dims = self.service.model, self.service.dimensions
        with _isolation(conn, "REPEATABLE READ"), conn.begin():
            queue = read_queue_state(conn, content_type, business_id, model, dims)
            rows = rows_to_examine(queue, self.change_driven)
            return read_partition(conn, content_type, business_id, queue, rows)

    @contextmanager
    def _locked_connection(self, content_type: str, business_id: int) -> Iterator[sa.Connection]:
        """A connection holding the partition's lock, which serialises syncs of one partition across
        runs; the server releases it if we die."""
        key = {"c": _PARTITION_LOCK_CLASS, "k": f"{content_type}:{business_id}"}
        with self.engine.connect() as conn:
            with _isolation(conn, "AUTOCOMMIT"):
                conn.execute(sa.text("SELECT pg_advisory_lock(:c, hashtext(:k))"), key)
            try:
                yield conn
            finally:
                if not conn.invalidated:  # a lost connection has lost its lock with it
                    try:
                        conn.rollback()  # an exception may have left a transaction open
                        with _isolation(conn, "AUTOCOMMIT"):
                            conn.execute(sa.text("SELECT pg_advisory_unlock(:c, hashtext(:k))"), key)
                    except sa.exc.DBAPIError as exc:  # the server went away: so did the lock
                        log.warning("partition lock of %s not released: %s", key["k"], exc.orig)

    def _embed_all(
        self,
        conn: sa.Connection,
        content_type: str,
        business_id: int,
        plan: SyncPlan,
        snapshot: PartitionSnapshot,
    ) -> SyncStats:
        stats = SyncStats()
        prepared: list[Packable[PreparedDocument]] = []
        too_long: list[PreparedDocument] = []
        for doc in plan.to_embed:
            p = PreparedDocument(doc, chunk_text(doc.text, self.service.model))
            if len(p.chunks) > MAX_CHUNKS_PER_ROW:
                too_long.append(p)
                continue
            prepared.append(Packable(p, p.tokens, len(doc.text.encode("utf-8"))))
        for p in too_long:
            message = (
                f"Text has {p.tokens} tokens, over the {MAX_CHUNKS_PER_ROW}-chunk limit; shorten it and it "
                "will be embedded."
            )
            self._fail(conn, content_type, business_id, [p.doc], snapshot, "text_too_long", message)
            stats.failed += 1
        requests = list(
            pack(
                prepared,
                self.settings.embedding_max_inputs_per_request,
                self.settings.embedding_max_tokens_per_request,
            )
        )
        # The request threads only call the provider; this thread writes each answer. A request slot is
        # therefore free again as soon as its answer arrives, while the (with a live HNSW index, slow)
        # write proceeds, and other businesses' requests fill the slot meanwhile.
        futures = [
            self.request_pool.submit(self._embed_request, content_type, business_id, [p.item for p in r])
            for r in requests
        ]
        failure: Exception | None = None
        try:
            for future in futures:
                try:
                    outcome = future.result()
                except CancelledError:
                    continue
                except Exception as exc:  # not a provider answer (e.g. the limiter's database)
                    outcome = RequestOutcome(fatal=exc)
                if outcome.fatal is not None and failure is None:
                    failure = outcome.fatal
                    for pending in futures:
                        pending.cancel()  # requests not yet sent never will be
                # Answers already paid for are stored even when another request failed, so a re-run
                # does not pay for them again.
                try:
                    stats.merge(self._store(conn, content_type, business_id, outcome, snapshot))
                except Exception as exc:
                    if failure is not None:  # the provider's error decides whether a retry can help
                        raise failure from exc
                    raise
        finally:
            for future in futures:
                future.cancel()  # a failed write: the requests not yet sent are not sent
        if failure is not None:
            raise failure
        return stats

    def _store(
        self,
        conn: sa.Connection,
        content_type: str,
        business_id: int,
        outcome: RequestOutcome,
        snapshot: PartitionSnapshot,
    ) -> SyncStats:
        stats = SyncStats(requests=outcome.requests)
        for docs, batch in outcome.embedded:
            stats.merge(self._write(conn, content_type, business_id, docs, batch, snapshot))
        for docs, error_type, message in outcome.failed:
            rows = [d.doc for d in docs]
            self._fail(conn, content_type, business_id, rows, snapshot, error_type, message)
            stats.failed += len(docs)
        return stats

    def _embed_request(
        self, content_type: str, business_id: int, docs: Sequence[PreparedDocument]
    ) -> RequestOutcome:
        """Provider calls only (no database work but the limiter's and the ledger's)."""
        texts = [c.text for d in docs for c in d.chunks]
        tokens = sum(d.tokens for d in docs)
        ctx = CallContext("embedding_sync", business_id, content_type, self.run_id)
        try:
            batch = self.service.embed(texts, tokens, ctx)
        except InputRejectedError as exc:
            if len(docs) == 1:
                return RequestOutcome(failed=[(list(docs), exc.error_type, str(exc))], requests=1)
            # Bisect to isolate the rejected row(s); the others still get their vectors.
            half = len(docs) // 2
            left = self._embed_request(content_type, business_id, docs[:half])
            if left.fatal is not None:
                left.requests += 1
                return left
            right = self._embed_request(content_type, business_id, docs[half:])
            return RequestOutcome(
                left.embedded + right.embedded,
                left.failed + right.failed,
                left.requests + right.requests + 1,
                right.fatal,
            )
        except RequestFailedError as exc:
            return RequestOutcome(failed=[(list(docs), exc.error_type, str(exc))], requests=1)
        except Exception as exc:  # fatal: returned with nothing, so the halves already answered are kept
            return RequestOutcome(requests=1, fatal=exc)
        return RequestOutcome(embedded=[(list(docs), batch)], requests=1)

    def _write(
        self,
        conn: sa.Connection,
        content_type: str,
        business_id: int,
        docs: Sequence[PreparedDocument],
        batch: EmbeddingBatch,
        snapshot: PartitionSnapshot,
    ) -> SyncStats:
        vectors = iter(batch.vectors)
        rows = [
            store.ChunkVector(
                d.doc.content_id, c.index, len(d.chunks), d.doc.content_hash, c.tokens, c.text, next(vectors)
            )
            for d in docs
            for c in d.chunks
        ]
        per_token = batch.cost_usd / max(sum(d.tokens for d in docs), 1)
        with conn.begin():
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
            embedded=len(docs), chunks=len(rows), tokens=batch.input_tokens, cost_usd=batch.cost_usd
        )

    def _has_partial(self, snapshot: PartitionSnapshot, doc: Document) -> bool:
        """Are some chunks of this exact text already stored (an interrupted earlier write)?"""
        target = (doc.content_hash, self.service.model, self.service.dimensions)
        return any(
            (g.content_hash, g.model, g.dimensions) == target for g in snapshot.stored.get(doc.content_id, ())
        )

    def _fail(
        self,
        conn: sa.Connection,
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
        with conn.begin():
            store.record_failures(conn, content_type, business_id, records, error_type, message)


@contextmanager
def _isolation(conn: sa.Connection, level: str) -> Iterator[sa.Connection]:
    """The connection at `level` for what runs inside, then back at its default. psycopg sends the
    level with BEGIN (and AUTOCOMMIT sends no BEGIN or COMMIT), so switching costs no round trip, where a
    SET TRANSACTION, or a session lock inside a transaction, costs one or two."""
    conn.execution_options(isolation_level=level)
    try:
        yield conn
    finally:
        if not conn.invalidated:
            if conn.in_transaction():  # autobegun under AUTOCOMMIT: the server saw no BEGIN
                conn.commit()
            conn.execution_options(isolation_level=conn.default_isolation_level)
