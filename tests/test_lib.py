"""Pure logic: hashing, chunking, packing, pricing, backoff, sync planning and run planning."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from pipeline.db.partition_snapshot import FailureState, PartitionSnapshot, QueueState, StoredGroup
from pipeline.lib.backoff import parse_duration, retry_delay, server_requested_delay
from pipeline.lib.chunking import CHUNK_TOKEN_BUDGET, chunk_text, clean_text, content_hash
from pipeline.lib.packing import Packable, pack
from pipeline.lib.pricing import ModelPrice, PriceBook, UnknownModelPriceError, cost_usd
from pipeline.lib.tokens import count_tokens
from pipeline.sensors.run_planning import PartitionWork, coalesce, pending_coverage, plan_runs, retry_work
from pipeline.sync.plan import next_retry_at, plan_partition
from pipeline.sync.scope import MAX_TARGETED_ROWS, rows_to_examine
from pipeline.tags import PARTITION_TAG, RANGE_END_TAG, RANGE_START_TAG

MODEL = "text-embedding-3-small"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_token_counts_are_exact_and_offline():
    assert count_tokens("hello world", MODEL) == 2
    assert count_tokens("hello world", "gpt-4o-mini") == 2
    assert count_tokens("<|endoftext|>", MODEL) > 1  # special tokens counted as text, never refused


def test_clean_text_removes_nul_and_lone_surrogates():
    assert clean_text("a\x00b \ud800c ") == "ab ?c"
    assert clean_text(None) == ""


def test_long_text_is_split_into_equal_windows_under_the_limit():
    text = "word " * 30_000
    chunks = chunk_text(text, MODEL)
    assert len(chunks) == 4
    assert all(c.tokens <= CHUNK_TOKEN_BUDGET for c in chunks)
    assert max(c.tokens for c in chunks) - min(c.tokens for c in chunks) <= 4  # re-encoding at the cuts
    assert abs(sum(c.tokens for c in chunks) - count_tokens(text, MODEL)) <= 4
    assert chunk_text("short", MODEL)[0].text == "short"


def test_packing_respects_input_count_tokens_and_byte_estimate():
    items = [Packable(i, 100, 400) for i in range(5000)]
    packs = list(pack(items))
    assert [len(p) for p in packs] == [2048, 2048, 904]
    heavy = [Packable(i, 100_000, 400_000) for i in range(4)]
    assert [len(p) for p in pack(heavy)] == [3, 1]
    # 1.6 MB of text estimates at 400k tokens even when the real count is low.
    bytes_heavy = [Packable(i, 10, 1_600_000) for i in range(2)]
    assert [len(p) for p in pack(bytes_heavy)] == [1, 1]
    assert [p.item for batch in pack(items) for p in batch] == list(range(5000))


def test_cost_uses_the_versioned_price_and_unknown_models_are_refused():
    price = ModelPrice("gpt-4o-mini", "2024-07", Decimal("0.15"), Decimal("0.60"))
    assert cost_usd(price, 1_000_000, 1_000_000) == Decimal("0.75")
    assert cost_usd(price, 1, 0) == Decimal("0.00000015")
    with pytest.raises(UnknownModelPriceError, match=r"gpt-99.*model_prices"):
        PriceBook({"gpt-4o-mini": price}).price("gpt-99")


def test_backoff_honours_the_servers_headers():
    assert (
        parse_duration("6m0s") == 360 and parse_duration("250ms") == 0.25 and parse_duration("soon") is None
    )
    assert server_requested_delay({"Retry-After-Ms": "1500"}) == 1.5
    assert (
        server_requested_delay({"x-ratelimit-reset-requests": "1s", "x-ratelimit-reset-tokens": "2.5s"})
        == 2.5
    )
    assert retry_delay(1, {"retry-after": "7"}) == 7
    delays = [retry_delay(n, {}) for n in range(1, 8)]
    assert all(0 < d <= 60 for d in delays) and delays[-1] > delays[0]


def _snapshot(docs, stored=None, failures=None):
    return PartitionSnapshot([1, 2], docs, stored or {}, failures or {})


def test_plan_embeds_only_changed_text_and_deletes_orphans():
    h = content_hash("same")
    snap = _snapshot(
        {1: "same", 2: "changed", 3: "", 4: "new"},
        {
            1: [StoredGroup(h, MODEL, 1536, 1, 1)],
            2: [StoredGroup("old", MODEL, 1536, 1, 1)],
            3: [StoredGroup("x", MODEL, 1536, 1, 1)],
            9: [StoredGroup("y", MODEL, 1536, 1, 1)],
        },
    )
    plan = plan_partition(snap, MODEL, 1536, NOW, 5)
    assert [d.content_id for d in plan.to_embed] == [2, 4]
    assert plan.up_to_date == 1 and plan.empty == [3] and sorted(plan.to_delete) == [3, 9]


def test_plan_reembeds_on_model_change_or_incomplete_chunks():
    h = content_hash("t")
    other_model = _snapshot({1: "t"}, {1: [StoredGroup(h, "text-embedding-ada-002", 1536, 1, 1)]})
    partial = _snapshot({1: "t"}, {1: [StoredGroup(h, MODEL, 1536, 1, 3)]})
    assert [d.content_id for d in plan_partition(other_model, MODEL, 1536, NOW, 5).to_embed] == [1]
    assert [d.content_id for d in plan_partition(partial, MODEL, 1536, NOW, 5).to_embed] == [1]


def test_plan_defers_failing_rows_until_due_or_changed():
    h = content_hash("bad")
    not_due = FailureState(h, 1, NOW + timedelta(minutes=1))
    exhausted = FailureState(h, 5, None)
    assert plan_partition(_snapshot({1: "bad"}, failures={1: not_due}), MODEL, 1536, NOW, 5).deferred == [1]
    assert plan_partition(_snapshot({1: "bad"}, failures={1: exhausted}), MODEL, 1536, NOW, 5).deferred == [1]
    due = FailureState(h, 1, NOW - timedelta(seconds=1))
    assert len(plan_partition(_snapshot({1: "bad"}, failures={1: due}), MODEL, 1536, NOW, 5).to_embed) == 1
    edited = _snapshot({1: "edited"}, failures={1: exhausted})
    assert len(plan_partition(edited, MODEL, 1536, NOW, 5).to_embed) == 1


def _queue(changed=(), truncated=False, failures=(), foreign=False) -> QueueState:
    failing = {cid: FailureState("h", 1, None) for cid in failures}
    return QueueState(list(range(len(changed))), set(changed), truncated, failing, foreign)


def test_change_driven_syncs_read_only_the_rows_the_queue_and_failures_name():
    assert rows_to_examine(_queue(changed=[5, 3], failures=[9]), change_driven=True) == [3, 5, 9]
    assert rows_to_examine(_queue(), change_driven=True) == []  # an unchanged business in a range
    # The whole partition: a person's or reconciliation's run, a TRUNCATE, another model's vectors,
    # or so many rows that one scan is cheaper.
    assert rows_to_examine(_queue(changed=[5]), change_driven=False) is None
    assert rows_to_examine(_queue(changed=[5], truncated=True), change_driven=True) is None
    assert rows_to_examine(_queue(changed=[5], foreign=True), change_driven=True) is None
    many = _queue(changed=range(MAX_TARGETED_ROWS + 1))
    assert rows_to_examine(many, change_driven=True) is None


def test_row_retry_backoff_doubles_then_stops():
    gaps = [next_retry_at(n, NOW, 30, 4) for n in (1, 2, 3, 4)]
    assert [(g - NOW).total_seconds() for g in gaps[:3]] == [30, 60, 120]
    assert gaps[3] is None


def test_few_partitions_get_one_run_each_with_unique_keys():
    order = [str(i) for i in range(1, 11)]
    runs = plan_runs(
        [PartitionWork("faq", "3", "17"), PartitionWork("faq", "5", "18")], order, "change", 3, 100
    )
    assert [r.partition_key for r in runs] == ["3", "5"]
    again = plan_runs([PartitionWork("faq", "3", "19")], order, "change", 3, 100)
    assert again[0].run_key != runs[0].run_key  # a later change is never deduplicated away


def test_a_retry_that_changed_nothing_is_requested_again_in_the_next_time_bucket():
    order = ["1", "2"]
    due = [("faq", 2, "1767225600")]  # the same failure record, its retry still due

    def key(bucket: int) -> str:
        (run,) = plan_runs(retry_work(due, bucket), order, "retry", 3, 100)
        return run.run_key

    assert key(5) == key(5)  # within a bucket Dagster deduplicates the request
    assert key(6) != key(5)  # after it, a new run key: not swallowed by the run that did nothing


def test_bulk_changes_become_ranges_of_bounded_span():
    order = [str(i) for i in range(1, 501)]
    work = [PartitionWork("menu_item", str(i), "1") for i in range(1, 501, 2)] + [
        PartitionWork("faq", "7", "1")
    ]
    runs = plan_runs(work, order, "change", 3, 100)
    ranged = [r for r in runs if RANGE_START_TAG in r.tags]
    assert [(r.tags[RANGE_START_TAG], r.tags[RANGE_END_TAG]) for r in ranged] == [
        ("1", "99"),
        ("101", "199"),
        ("201", "299"),
        ("301", "399"),
        ("401", "499"),
    ]
    assert [r.partition_key for r in runs if RANGE_START_TAG not in r.tags] == ["7"]
    unknown = plan_runs([PartitionWork("faq", "999", "1")], order, "change", 3, 100)
    assert unknown == []


def test_changes_in_several_businesses_share_one_run_unless_far_apart():
    order = [str(i) for i in range(1, 501)]
    near = plan_runs([PartitionWork("faq", k, "1") for k in ("3", "5", "40")], order, "change", 1, 100)
    assert [(r.tags[RANGE_START_TAG], r.tags[RANGE_END_TAG]) for r in near] == [("3", "40")]
    # Beyond the span, each lone business gets a plain one-partition run, not a range of one.
    far = plan_runs([PartitionWork("faq", k, "1") for k in ("3", "300")], order, "change", 1, 100)
    assert [(r.partition_key, RANGE_START_TAG in r.tags) for r in far] == [("3", False), ("300", False)]


def test_queued_runs_absorb_new_changes_for_the_partitions_they_cover():
    order = [str(i) for i in range(1, 11)]
    queued = [
        (["faq_embeddings"], {PARTITION_TAG: "3"}),
        (["menu_item_embeddings"], {RANGE_START_TAG: "5", RANGE_END_TAG: "7"}),
        (["glossary_something"], {PARTITION_TAG: "9"}),  # not an embedding asset
    ]
    pending = pending_coverage(queued, order)
    assert pending == {("faq", "3"), ("menu_item", "5"), ("menu_item", "6"), ("menu_item", "7")}
    work = [
        PartitionWork("faq", "3", "40"),  # the queued faq run for 3 will read this change
        PartitionWork("menu_item", "3", "41"),  # another content type: needs its own run
        PartitionWork("menu_item", "6", "42"),
        PartitionWork("menu_item", "8", "43"),
    ]
    assert [(w.content_type, w.partition_key) for w in coalesce(work, pending)] == [
        ("menu_item", "3"),
        ("menu_item", "8"),
    ]


def test_token_bucket_allows_one_second_of_burst_and_charges_big_requests_as_debt():
    from pipeline.lib.token_bucket import Bucket, take

    full = Bucket(10_000, 10_000_000)  # whatever was stored, the refill caps it at one second's budget
    granted = 0
    bucket = full
    for _ in range(20):
        bucket, wait = take(bucket, rpm=600, tpm=1_000_000, tokens=10, elapsed=0.0)
        granted += wait == 0
    assert granted == 10  # 600 RPM: 10 per second, not the whole minute at once
    bucket, wait = take(Bucket(10, 20_000), rpm=600, tpm=1_000_000, tokens=50_000, elapsed=0.0)
    assert wait == 0 and bucket.tokens < 0  # a big request goes when the bucket is full ...
    _, wait = take(bucket, rpm=600, tpm=1_000_000, tokens=10, elapsed=0.0)
    assert wait == pytest.approx((10 - bucket.tokens) * 60 / 1_000_000)  # ... and the next one pays it off


def test_embedding_decoding_accepts_base64_and_plain_lists():
    import base64

    import numpy as np

    from pipeline.llm.embeddings import _decode

    values = np.array([0.5, -0.25, 1e-3], dtype="<f4")
    assert np.array_equal(_decode(base64.b64encode(values.tobytes()).decode()), values)
    # A compatible server that ignores encoding_format answers with floats.
    assert np.array_equal(_decode([0.5, -0.25, 1e-3]), values)


def test_changes_are_held_only_behind_a_recently_queued_run():
    from pipeline.sensors.run_planning import should_hold

    assert should_hold([995.0], now=1000.0, hold_seconds=30)
    assert not should_hold([900.0], now=1000.0, hold_seconds=30)  # stuck in the queue: don't wait on it
    assert not should_hold([], now=1000.0, hold_seconds=30)


def test_an_hnsw_shard_build_gets_about_the_memory_its_graph_needs_within_the_cap():
    from pipeline.lib.index_memory import memory_bytes, shard_build_memory

    assert memory_bytes("1GB") == 1 << 30 and memory_bytes("512kB") == 512 << 10
    small, shard_at_100k = shard_build_memory(625, 1536, "1GB"), shard_build_memory(6250, 1536, "1GB")
    assert memory_bytes(small) == 32 << 20  # the floor
    assert 128 << 20 < memory_bytes(shard_at_100k) < 256 << 20
    assert shard_build_memory(10**6, 1536, "1GB") == "1048576kB"  # never above the setting
    with pytest.raises(ValueError, match="like 1GB"):
        memory_bytes("lots")


def test_cpu_idle_share_comes_from_proc_stat_tick_counts(tmp_path):
    from pipeline.lib.host_cpu import IdleMeter, idle_fraction, parse_cpu_times

    # user nice system idle iowait irq softirq steal guest guest_nice: guest is inside user already
    line = "cpu  600 0 200 1000 200 0 0 0 500 0\ncpu0 300 0 100 500 100 0 0 0 250 0\n"
    assert parse_cpu_times(line) == (1200, 2000)
    assert idle_fraction((1200, 2000), (1300, 2400)) == 0.25
    assert idle_fraction((1200, 2000), (1200, 2000)) is None  # no time passed
    with pytest.raises(ValueError, match="not a /proc/stat cpu line"):
        parse_cpu_times("intr 1 2 3\n")

    stat = tmp_path / "stat"
    stat.write_text(line)
    meter = IdleMeter(min_seconds=0, path=stat)
    stat.write_text("cpu  900 0 200 1100 200 0 0 0 500 0\n")  # 100 of 400 more ticks idle
    assert meter.idle() == 0.25
