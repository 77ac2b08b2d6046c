"""Bulk loads drop the HNSW index and build it once; an interrupted load's index is rebuilt by the next sync."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from pipeline.health.report import health_report
from pipeline.search import search
from pipeline.sync.vector_index import should_build, should_defer
from tests.helpers import SensorDriver, add_business, vectors

INDEX = "content_embeddings_hnsw_1536"


def _index_exists(engine: sa.Engine) -> bool:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT to_regclass(:n) IS NOT NULL"), {"n": INDEX}).scalar_one()


def _index_modes(results) -> list[str]:
    return [
        event.materialization.metadata["vector_index"].value
        for result in results
        for event in result.get_asset_materialization_events()
        if event.asset_key.path[-1] == "menu_item_embeddings"
    ]


@pytest.fixture
def small_bulk_threshold(monkeypatch):
    from pipeline.settings import get_settings

    monkeypatch.setenv("VECTOR_INDEX_DEFER_MIN_ROWS", "5")
    monkeypatch.setenv("VECTOR_INDEX_LIVE_ROWS_PER_SECOND", "0")  # as if the limits admitted any rate
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_defer_only_for_a_large_load_that_dominates_the_index():
    assert should_defer(queued=5000, indexed=0, min_rows=2000)
    assert should_defer(queued=5000, indexed=10_000, min_rows=2000)
    assert not should_defer(queued=5000, indexed=10_001, min_rows=2000)  # re-inserting 10k to add 5k
    assert not should_defer(queued=1999, indexed=0, min_rows=2000)  # small: live inserts are cheap


def test_a_load_the_rate_limits_hold_below_live_insert_speed_keeps_the_index():
    assert not should_defer(5000, 0, 2000, admitted_rows_per_second=450, live_rows_per_second=500)
    assert should_defer(5000, 0, 2000, admitted_rows_per_second=2250, live_rows_per_second=500)
    assert should_defer(5000, 0, 2000, admitted_rows_per_second=None, live_rows_per_second=500)  # unknown


def test_admitted_rate_follows_the_binding_limit():
    from pipeline.settings import Settings
    from pipeline.sync.vector_index import admitted_rows_per_second

    # 1M tokens/min, 37 tokens a row: ~450 rows/s, the 200 ms benchmark's ceiling.
    default = Settings(OPENAI_TPM=1_000_000, OPENAI_RPM=3000)
    assert admitted_rows_per_second(default, 37) == pytest.approx(1_000_000 / 60 / 37)
    # RPM binds when requests may carry only one input each.
    one_per_request = Settings(OPENAI_TPM=1_000_000, OPENAI_RPM=60, EMBEDDING_MAX_INPUTS=1)
    assert admitted_rows_per_second(one_per_request, 37) == pytest.approx(1.0)


def test_rate_bound_bulk_load_keeps_the_index_live(engine, instance, small_bulk_threshold, monkeypatch):
    from pipeline.settings import get_settings

    monkeypatch.setenv("VECTOR_INDEX_LIVE_ROWS_PER_SECOND", str(10**9))  # the database outpaces the limits
    get_settings.cache_clear()
    add_business(engine, "rate-bound", menu=8, policies=0, faqs=0)

    results = SensorDriver(instance).sync()

    assert _index_modes(results) == ["live"]
    assert _index_exists(engine)
    assert len(vectors(engine, "menu_item")) == 8


def test_build_waits_for_the_backlog_unless_it_is_stuck():
    assert should_build(queued=0, oldest_age_seconds=None, min_rows=2000, stuck_seconds=600)
    assert not should_build(queued=3000, oldest_age_seconds=30, min_rows=2000, stuck_seconds=600)
    assert should_build(queued=3000, oldest_age_seconds=601, min_rows=2000, stuck_seconds=600)


def test_bulk_load_defers_the_index_and_builds_it_once_at_the_end(
    engine, instance, small_bulk_threshold, monkeypatch
):
    from pipeline.settings import get_settings

    monkeypatch.setenv("SENSOR_BULK_THRESHOLD", "2")  # two runs, as for businesses far apart
    get_settings.cache_clear()
    first = add_business(engine, "bulk-a", menu=8, policies=0, faqs=0)
    add_business(engine, "bulk-b", menu=8, policies=0, faqs=0)

    results = SensorDriver(instance).sync()

    # The first run dropped the index; the second found it gone, wrote plainly and built it at the end.
    assert _index_modes(results) == ["deferred", "live, rebuilt"]
    assert _index_exists(engine)
    assert len(vectors(engine, "menu_item")) == 16
    own = {cid for (_, cid), chunks in vectors(engine, "menu_item").items() if chunks[0][3] == first}
    hits = search(first, "bulk-a dish number 3 with tomato and basil", k=3)
    assert {h.content_id for h in hits} <= own
    assert "number 3" in hits[0].text


def test_index_lost_by_an_interrupted_load_is_flagged_and_rebuilt_by_the_next_sync(engine, instance):
    b = add_business(engine, "crashy", menu=2, policies=0, faqs=0)
    driver = SensorDriver(instance)
    driver.sync()
    with engine.begin() as conn:  # what a loader killed between drop and build leaves behind
        conn.execute(sa.text(f"DROP INDEX {INDEX}"))

    report = health_report(engine, instance=instance)
    assert report["components"]["embedding_sync"]["vector_index"] is False
    assert any("no HNSW index" in reason for reason in report["reasons"])

    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE menu_items SET description = 'now grilled' WHERE business_id = :b"), {"b": b}
        )
    assert _index_modes(driver.sync()) == ["live, rebuilt"]
    assert _index_exists(engine)
    assert health_report(engine, instance=instance)["components"]["embedding_sync"]["vector_index"] is True


def test_a_run_over_large_businesses_keeps_its_requests_and_connections_bounded(
    engine, instance, standin, monkeypatch
):
    """Many requests per business in one ranged run, and more businesses than request slots in progress:
    requests waiting for a slot must not hold the connections that requests in flight need (that
    deadlocked the pool until its 30 s timeout)."""
    from pipeline.settings import get_settings

    monkeypatch.setenv("EMBEDDING_MAX_INPUTS", "1")
    monkeypatch.setenv("OPENAI_MAX_CONCURRENCY", "4")
    get_settings.cache_clear()
    for i in range(10):
        add_business(engine, f"large-{i}", menu=6, policies=0, faqs=0)
    standin.latency = 0.2  # keeps every slot busy, so later requests queue
    try:
        results = SensorDriver(instance).sync()
    finally:
        standin.latency = 0.0
        get_settings.cache_clear()

    assert len(results) == 1 and results[0].success
    restarts = [e for e in results[0].all_events if e.event_type_value == "STEP_RESTARTED"]
    assert restarts == []
    assert len(vectors(engine, "menu_item")) == 60
