"""Turning affected (content type, business) partitions into as few Dagster runs as sensible."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import dagster as dg

from pipeline.content_types import CONTENT_TYPES, content_type
from pipeline.tags import PARTITION_TAG, RANGE_END_TAG, RANGE_START_TAG, TRIGGER_TAG, WORKLOAD_TAG


@dataclass(frozen=True)
class PartitionWork:
    content_type: str
    partition_key: str
    marker: str  # changes whenever there is new work, so run keys never swallow a later change


def retry_work(retries: Iterable[tuple[str, int, str]], bucket: int) -> list[PartitionWork]:
    """Partitions with due retries. The time bucket is part of the marker: a retry run that changed no
    failure record (a quota error, a run the emergency stop cancelled) would otherwise leave the same
    marker, and Dagster never launches a run key twice, so those rows would never be retried."""
    return [PartitionWork(ct, str(b), f"{marker}@{bucket}") for ct, b, marker in retries]


def pending_coverage(
    runs: Iterable[tuple[Iterable[str], dict[str, str]]], partition_order: Sequence[str]
) -> set[tuple[str, str]]:
    """(content type, partition key) pairs that runs not yet started will sync. Each run is given as
    (its asset names, its tags): a single partition tag or a partition range."""
    by_asset = {ct.embeddings_asset: ct.name for ct in CONTENT_TYPES}
    position = {key: i for i, key in enumerate(partition_order)}
    covered: set[tuple[str, str]] = set()
    for assets, tags in runs:
        if PARTITION_TAG in tags:
            keys = [tags[PARTITION_TAG]]
        elif tags.get(RANGE_START_TAG) in position and tags.get(RANGE_END_TAG) in position:
            keys = list(partition_order[position[tags[RANGE_START_TAG]] : position[tags[RANGE_END_TAG]] + 1])
        else:
            continue
        covered.update((by_asset[a], k) for a in assets if a in by_asset for k in keys)
    return covered


def coalesce(work: Iterable[PartitionWork], pending: set[tuple[str, str]]) -> list[PartitionWork]:
    """Work that no queued run will already do. A queued run has not read the change queue yet, so it
    picks up every change committed before it starts: a second run for the same partition would only
    repeat its start-up cost, and under a burst of edits those start-ups are what delays freshness."""
    return [w for w in work if (w.content_type, w.partition_key) not in pending]


def should_hold(queued_created_at: Iterable[float], now: float, hold_seconds: int) -> bool:
    """Hold new changes while a recently requested sync run is still queued. Only recently: a run stuck in
    the queue (daemon down, pools full) must not hold back every later change."""
    return any(now - created < hold_seconds for created in queued_created_at)


def plan_runs(
    work: Iterable[PartitionWork],
    partition_order: Sequence[str],
    trigger: str,
    bulk_threshold: int,
    max_partitions_per_run: int,
) -> list[dg.RunRequest]:
    """Up to bulk_threshold changed businesses get a run each; more share runs over ranges of the
    businesses partition, each spanning at most max_partitions_per_run keys. A run's process start-up
    (seconds) costs far more than an unchanged business inside a range (one diff query, no tokens),
    so under a stream of edits one run per tick keeps up where one run per business falls behind."""
    position = {key: i for i, key in enumerate(partition_order)}
    by_type: dict[str, dict[str, str]] = defaultdict(dict)
    for w in work:
        if w.partition_key in position:
            previous = by_type[w.content_type].get(w.partition_key)
            by_type[w.content_type][w.partition_key] = f"{previous}+{w.marker}" if previous else w.marker
    requests: list[dg.RunRequest] = []
    for ctype, markers in sorted(by_type.items()):
        asset = dg.AssetKey(content_type(ctype).embeddings_asset)
        tags = {TRIGGER_TAG: trigger, WORKLOAD_TAG: "embedding_sync"}
        keys = sorted(markers, key=position.__getitem__)
        if len(keys) <= bulk_threshold:
            chunks = [[key] for key in keys]
        else:
            chunks = _span_chunks(keys, position, max_partitions_per_run)
        for chunk in chunks:
            start, end = chunk[0], chunk[-1]
            if len(chunk) == 1:
                requests.append(
                    dg.RunRequest(
                        run_key=f"{trigger}:{ctype}:{start}:{markers[start]}",
                        partition_key=start,
                        asset_selection=[asset],
                        tags=tags,
                    )
                )
                continue
            requests.append(
                dg.RunRequest(
                    run_key=f"{trigger}:{ctype}:{start}-{end}:{_digest(chunk, markers)}",
                    asset_selection=[asset],
                    tags={**tags, RANGE_START_TAG: start, RANGE_END_TAG: end},
                )
            )
    return requests


def _digest(keys: list[str], markers: dict[str, str]) -> str:
    return hashlib.sha1("|".join(f"{k}={markers[k]}" for k in keys).encode()).hexdigest()[:16]


def _span_chunks(keys: list[str], position: dict[str, int], span: int) -> list[list[str]]:
    chunks: list[list[str]] = []
    for key in keys:
        if chunks and position[key] - position[chunks[-1][0]] < span:
            chunks[-1].append(key)
        else:
            chunks.append([key])
    return chunks
