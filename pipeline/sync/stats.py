"""Counters reported as asset metadata after a sync."""

from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import Decimal


@dataclass
class SyncStats:
    embedded: int = 0
    skipped: int = 0
    deleted: int = 0
    failed: int = 0
    empty: int = 0
    deferred: int = 0
    chunks: int = 0
    tokens: int = 0
    requests: int = 0
    cost_usd: Decimal = Decimal(0)
    examined: int = 0  # rows read and compared with their stored vectors
    partitions: int = 0
    whole_partitions: int = 0  # partitions diffed whole rather than by their queued rows

    def merge(self, other: SyncStats) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def as_metadata(self) -> dict[str, int | float | str]:
        return {
            "rows_embedded": self.embedded,
            "rows_skipped": self.skipped,
            "rows_deleted": self.deleted,
            "rows_failed": self.failed,
            "rows_empty": self.empty,
            "rows_waiting_retry": self.deferred,
            "chunks_embedded": self.chunks,
            "tokens": self.tokens,
            "requests": self.requests,
            "cost_usd": float(self.cost_usd),
            "rows_examined": self.examined,
            "sync_scope": self.scope,
        }

    @property
    def scope(self) -> str:
        if self.whole_partitions == 0:
            return "changed rows"
        return "whole partition" if self.whole_partitions == self.partitions else "mixed"
