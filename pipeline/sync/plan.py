"""Deciding what a partition sync must do: pure functions over a snapshot of the partition."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pipeline.db.partition_snapshot import FailureState, PartitionSnapshot
from pipeline.lib.chunking import content_hash


@dataclass(frozen=True)
class Document:
    content_id: int
    text: str
    content_hash: str


@dataclass
class SyncPlan:
    to_embed: list[Document] = field(default_factory=list)
    up_to_date: int = 0
    empty: list[int] = field(default_factory=list)  # live rows with no text to embed
    deferred: list[int] = field(default_factory=list)  # failing rows whose retry is not due yet
    to_delete: list[int] = field(default_factory=list)  # vectors of deleted or emptied rows
    superseded: dict[int, str] = field(default_factory=dict)  # current rows with leftover old vectors
    resolved: list[int] = field(default_factory=list)  # failure records whose row needs nothing now


def plan_partition(
    snapshot: PartitionSnapshot, model: str, dims: int, now: datetime, max_attempts: int
) -> SyncPlan:
    plan = SyncPlan()
    for content_id, body in sorted(snapshot.documents.items()):
        # As embedding_text() returned it: the checks and reconciliation hash that same text in SQL, so
        # any trimming here (Python's strip() also takes non-breaking spaces) would leave it stale forever.
        text = body or ""
        groups = snapshot.stored.get(content_id, [])
        if not text:
            plan.empty.append(content_id)
            if groups:
                plan.to_delete.append(content_id)
            elif content_id in snapshot.failures:
                plan.resolved.append(content_id)
            continue
        digest = content_hash(text)
        current = [g for g in groups if (g.content_hash, g.model, g.dimensions) == (digest, model, dims)]
        if current and current[0].complete:
            plan.up_to_date += 1
            if content_id in snapshot.failures:  # an edit that failed was reverted to the stored text
                plan.resolved.append(content_id)
            if len(groups) > 1:
                plan.superseded[content_id] = digest
            continue
        failure = snapshot.failures.get(content_id)
        if (
            failure is not None
            and failure.content_hash == digest
            and not retry_due(failure, now, max_attempts)
        ):
            plan.deferred.append(content_id)
            continue
        plan.to_embed.append(Document(content_id, text, digest))
    plan.to_delete.extend(cid for cid in snapshot.stored if cid not in snapshot.documents)
    return plan


def retry_due(failure: FailureState, now: datetime, max_attempts: int) -> bool:
    if failure.attempts >= max_attempts:
        return False
    return failure.next_retry_at is None or failure.next_retry_at <= now


def next_retry_at(attempts: int, now: datetime, base_seconds: float, max_attempts: int) -> datetime | None:
    """Exponential backoff for a failing row: base, 2x base, 4x base ... then no automatic retry."""
    if attempts >= max_attempts:
        return None
    return now + timedelta(seconds=base_seconds * 2 ** (attempts - 1))
