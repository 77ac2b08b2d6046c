"""Bulk loads drop the HNSW index shards they dominate and build each once its businesses are loaded;
an interrupted load's shards are rebuilt by the next sync; searches use their business's shard."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from pipeline.db.vectors import INDEX_SHARDS, missing_shards, shard_of, vector_index_name
from pipeline.health.report import health_report
from pipeline.search import search
from pipeline.sync.vector_index import is_bulk_load, load_position, shards_to_drop, should_build
from tests.helpers import SensorDriver, add_business, vectors


def _missing(engine: sa.Engine) -> list[int]:
    with engine.connect() as conn:
        return missing_shards(conn, 1536)


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


@pytest.fixture
def build_during_load(monkeypatch):
    """Set VECTOR_INDEX_BUILD_DURING_LOAD: "auto" reads how busy this (shared, test-loaded) machine is."""
    from pipeline.settings import get_settings

    def choose(mode: str) -> None:
        monkeypatch.setenv("VECTOR_INDEX_BUILD_DURING_LOAD", mode)
        get_settings.cache_clear()

    yield choose
    get_settings.cache_clear()


def test_a_load_drops_only_large_loads_shards_it_dominates():
    assert is_bulk_load(queued=5000, min_rows=2000)
    assert not is_bulk_load(queued=1999, min_rows=2000)  # small: live inserts are cheap
    queued, indexed = {0: 900, 1: 900, 2: 10, 3: 0}, {0: 0, 1: 1801, 2: 20, 3: 500}
    # Shard 1 would re-insert 1,801 vectors to add 900; shard 3 has nothing queued.
    assert shards_to_drop(queued, indexed) == [0, 2]


def test_a_load_the_rate_limits_hold_below_live_insert_speed_keeps_the_index():
    assert not is_bulk_load(5000, 2000, admitted_rows_per_second=450, live_rows_per_second=500)
    assert is_bulk_load(5000, 2000, admitted_rows_per_second=2250, live_rows_per_second=500)
    assert is_bulk_load(5000, 2000, admitted_rows_per_second=None, live_rows_per_second=500)  # unknown


def test_a_load_takes_businesses_shard_by_shard():
    ordered = sorted(range(1, 40), key=load_position)
    assert [shard_of(b) for b in ordered] == sorted(shard_of(b) for b in ordered)
    assert ordered[:3] == [16, 32, 1]


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
    assert _missing(engine) == []
    assert len(vectors(engine, "menu_item")) == 8


def test_build_waits_for_the_backlog_unless_it_is_stuck():
    assert should_build(queued=0, oldest_age_seconds=None, min_rows=2000, stuck_seconds=600)
    assert not should_build(queued=3000, oldest_age_seconds=30, min_rows=2000, stuck_seconds=600)
    assert should_build(queued=3000, oldest_age_seconds=601, min_rows=2000, stuck_seconds=600)


def test_bulk_load_defers_the_index_and_builds_it_once_at_the_end(
    engine, instance, small_bulk_threshold, build_during_load, monkeypatch
):
    monkeypatch.setenv("SENSOR_BULK_THRESHOLD", "2")  # two runs, as for businesses far apart
    build_during_load("always")  # (clears the cached settings)
    first = add_business(engine, "bulk-a", menu=8, policies=0, faqs=0)
    add_business(engine, "bulk-b", menu=8, policies=0, faqs=0)
    with engine.connect() as conn:
        started = conn.execute(sa.text("SELECT clock_timestamp()")).scalar_one()

    results = SensorDriver(instance).sync()

    # The first run dropped both businesses' shards and built its own once loaded; the second found the
    # other shard gone, wrote plainly and built it once its business was in.
    built_during = "1 shard(s) built during the load"
    assert _index_modes(results) == [f"deferred, {built_during}", f"live, {built_during}"]
    assert _missing(engine) == []
    assert len(vectors(engine, "menu_item")) == 16
    own = {cid for (_, cid), chunks in vectors(engine, "menu_item").items() if chunks[0][3] == first}
    hits = search(first, "bulk-a dish number 3 with tomato and basil", k=3)
    assert {h.content_id for h in hits} <= own
    assert "number 3" in hits[0].text
    with engine.connect() as conn:  # the planner sees the loaded table, not the one before the load
        analyzed = conn.execute(
            sa.text("SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'content_embeddings'")
        ).scalar_one()
    assert analyzed is not None and analyzed > started


def test_the_analyze_after_a_load_gives_way_to_a_session_holding_the_table(engine, caplog):
    from pipeline.db.vectors import analyze_vectors

    with engine.connect() as holder:
        holder.execute(sa.text("LOCK TABLE content_embeddings IN SHARE UPDATE EXCLUSIVE MODE"))  # as VACUUM
        analyze_vectors(engine, lock_timeout_ms=200)  # returns instead of waiting or failing the sync
        holder.rollback()
    assert "ANALYZE content_embeddings after the load skipped" in caplog.text


def test_index_lost_by_an_interrupted_load_is_flagged_and_rebuilt_by_the_next_sync(engine, instance):
    b = add_business(engine, "crashy", menu=2, policies=0, faqs=0)
    driver = SensorDriver(instance)
    driver.sync()
    with engine.begin() as conn:  # what loaders killed between drop and build, or mid-build, leave behind
        conn.execute(sa.text(f"DROP INDEX {vector_index_name(1536, shard_of(b))}"))
        conn.execute(  # a CREATE INDEX CONCURRENTLY that did not finish leaves its index invalid
            sa.text("UPDATE pg_index SET indisvalid = false WHERE indexrelid = CAST(:n AS regclass)"),
            {"n": vector_index_name(1536, shard_of(b + 1))},
        )

    report = health_report(engine, instance=instance)
    assert report["components"]["embedding_sync"]["vector_index"] is False
    assert any(
        f"no HNSW index for 1536-dimension vectors of 2 of {INDEX_SHARDS}" in r for r in report["reasons"]
    )

    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE menu_items SET description = 'now grilled' WHERE business_id = :b"), {"b": b}
        )
    # Its own shard once its business is done; the other when the step ends.
    assert _index_modes(driver.sync()) == ["live, 1 shard(s) built during the load, rebuilt"]
    assert _missing(engine) == []  # the invalid one was replaced
    assert health_report(engine, instance=instance)["components"]["embedding_sync"]["vector_index"] is True


def test_a_ranged_bulk_load_builds_shards_during_the_load_and_search_uses_them(
    engine, instance, small_bulk_threshold, build_during_load
):
    import re

    build_during_load("always")
    ids = [add_business(engine, f"shard-{i}", menu=4, policies=0, faqs=0) for i in range(5)]

    results = SensorDriver(instance).sync()

    assert len(results) == 1  # one ranged run; each business's materialization carries the run's mode
    (mode,) = set(_index_modes(results))
    # Shards loaded while a build ran wait for it; those still waiting when the load ends (the last,
    # at least, when the load outpaces the builder) are built by the step's end.
    during = re.fullmatch(r"deferred, (\d) shard\(s\) built during the load(, rebuilt)?", mode)
    assert during, mode
    assert 1 <= int(during.group(1)) <= 5 and (int(during.group(1)) == 5) == (during.group(2) is None)
    assert _missing(engine) == []
    hits = search(ids[2], "shard-2 dish number 1 with tomato and basil", k=2)
    assert hits and "number 1" in hits[0].text
    # The planner can answer a tenant's query from its shard's index (at 4 rows it would rather not: the
    # other indexes go, in a transaction rolled back, and sequential scans are off).
    with engine.connect() as conn, conn.begin() as tx:
        others = conn.execute(
            sa.text(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'content_embeddings'"
                " AND indexname NOT LIKE 'content_embeddings_hnsw_%'"
            )
        ).scalars()
        for name in list(others):
            conn.execute(sa.text(f'ALTER TABLE content_embeddings DROP CONSTRAINT IF EXISTS "{name}"'))
            conn.execute(sa.text(f'DROP INDEX IF EXISTS "{name}"'))
        conn.execute(sa.text("SET LOCAL enable_seqscan = off"))
        plan = _nearest_plan(conn, ids[2])
        tx.rollback()
    assert vector_index_name(1536, shard_of(ids[2])) in plan, plan


def _nearest_plan(conn: sa.Connection, business_id: int) -> str:
    """EXPLAIN of the statement pipeline.db.search.nearest sends, for a stored vector of the business."""
    from pipeline.db.search import nearest

    captured: list[tuple[str, object]] = []

    def capture(_conn, _cursor, statement, parameters, _context, _executemany) -> None:
        if "candidates" in statement:
            captured.append((statement, parameters))

    query = conn.execute(
        sa.text("SELECT embedding FROM content_embeddings WHERE business_id = :b LIMIT 1"), {"b": business_id}
    ).scalar_one()
    sa.event.listen(conn, "before_cursor_execute", capture)
    try:
        nearest(conn, business_id, query, "text-embedding-3-small", 1536, k=3)
    finally:
        sa.event.remove(conn, "before_cursor_execute", capture)
    statement, parameters = captured[-1]
    return "\n".join(conn.exec_driver_sql("EXPLAIN " + statement, parameters).scalars())


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


def test_a_shard_another_session_is_building_is_neither_dropped_nor_built_again(engine):
    from pipeline.db.vectors import _shard_lock, drop_vector_index, ensure_vector_index

    name = vector_index_name(1536, 3)
    with engine.begin() as conn:  # an unfinished concurrent build looks like this: an invalid index
        conn.execute(
            sa.text("UPDATE pg_index SET indisvalid = false WHERE indexrelid = CAST(:n AS regclass)"),
            {"n": name},
        )
    with engine.connect() as builder, _shard_lock(builder, 1536, 3) as held:
        assert held  # another session is building shard 3
        assert ensure_vector_index(engine, 1536) is False  # e.g. `pipeline admin reconcile` meanwhile
        assert drop_vector_index(engine, 1536, [2, 3]) == [2]  # e.g. another run's bulk load
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT to_regclass(:n) IS NOT NULL"), {"n": name}).scalar_one()
        builder.commit()
    assert ensure_vector_index(engine, 1536) is True  # the lock is free: the dead build is replaced
    assert _missing(engine) == []


def test_shard_builds_the_load_outpaced_are_left_to_the_steps_plain_build(engine, build_during_load):
    """At 0 ms a load finishes shards faster than one builder builds them concurrently: the builds still
    waiting when the load ends are done by the step's end, without the concurrent builds' extra passes."""
    import threading

    build_during_load("always")

    from pipeline.db.vectors import drop_vector_index
    from pipeline.settings import get_settings
    from pipeline.sync.vector_index import vector_index_for_load

    assert drop_vector_index(engine, 1536, [0, 1, 2]) == [0, 1, 2]
    writer = engine.connect()  # a write in progress: a concurrent build waits for it to end
    writer.execute(sa.text("LOCK TABLE content_embeddings IN ROW EXCLUSIVE MODE"))
    release = threading.Timer(1.0, writer.rollback)
    with vector_index_for_load(engine, 1536, get_settings(), [16, 1, 2]) as load:
        for business in (16, 1, 2):  # shards 0, 1 and 2 finish loading; shard 0's build waits on the writer
            load.business_done(business)
        release.start()
    writer.close()
    assert load.outcome.describe() == "live, 1 shard(s) built during the load, rebuilt"
    assert _missing(engine) == []


def test_a_load_that_leaves_no_cpu_to_spare_builds_its_shards_at_the_end(
    engine, instance, small_bulk_threshold, build_during_load
):
    build_during_load("never")  # what "auto" decides when the machine's CPUs are busy with the load
    ids = [add_business(engine, f"busy-{i}", menu=4, policies=0, faqs=0) for i in range(3)]

    results = SensorDriver(instance).sync()

    assert set(_index_modes(results)) == {"deferred, rebuilt"}  # no concurrent build beside the load
    assert _missing(engine) == []
    hits = search(ids[1], "busy-1 dish number 2 with tomato and basil", k=1)
    assert hits and "number 2" in hits[0].text


def _write_stat(path, idle: int, busy: int) -> None:
    path.write_text(f"cpu  {busy} 0 0 {idle} 0 0 0 0 0 0\ncpu0 {busy} 0 0 {idle} 0 0 0 0 0 0\n")


def test_auto_builds_during_the_load_only_while_the_machine_has_idle_cpu(
    engine, build_during_load, tmp_path, monkeypatch
):
    import time

    import pipeline.lib.host_cpu as host_cpu
    from pipeline.db.vectors import drop_vector_index
    from pipeline.settings import get_settings
    from pipeline.sync.vector_index import vector_index_for_load

    build_during_load("auto")  # the embedded server is on this machine, so its CPU readings count
    stat = tmp_path / "stat"
    _write_stat(stat, idle=1000, busy=1000)
    monkeypatch.setattr(host_cpu, "PROC_STAT", stat)
    assert drop_vector_index(engine, 1536, [0, 1]) == [0, 1]
    with vector_index_for_load(engine, 1536, get_settings(), [16, 1]) as load:
        time.sleep(0.6)
        _write_stat(stat, idle=1010, busy=1990)  # 1% idle: a CPU-bound load
        load.business_done(16)  # shard 0 loaded: no build beside the load
        time.sleep(0.6)
        _write_stat(stat, idle=1510, busy=2490)  # half idle: a load waiting on the API
        load.business_done(1)  # shard 1 loaded: the first shard waiting (0) is built now
    # The load ended while shard 0 was building: shard 1 was left to the step's end.
    assert load.outcome.describe() == "live, 1 shard(s) built during the load, rebuilt"
    assert _missing(engine) == []


def test_several_missing_shards_build_side_by_side_and_all_of_them(engine):
    from pipeline.db.vectors import drop_vector_index, ensure_vector_index

    shards = [0, 3, 5, 7, 9]  # more than the two sessions, which take them from one queue
    assert drop_vector_index(engine, 1536, shards) == shards
    assert ensure_vector_index(engine, 1536, "64MB", workers=2) is True
    assert _missing(engine) == []
    assert ensure_vector_index(engine, 1536, "64MB", workers=2) is False  # nothing left to build
