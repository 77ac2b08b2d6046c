"""Create, update and delete of each content type, end to end through the sensor and the assets."""

from __future__ import annotations

import dagster as dg
import sqlalchemy as sa

from pipeline.assets.embeddings import embedding_assets
from pipeline.definitions import defs
from pipeline.lib.chunking import content_hash
from tests.helpers import SensorDriver, add_business, ledger, partitions, vectors


def test_new_business_is_registered_and_fully_embedded(engine, instance):
    b = add_business(engine, "alpha", menu=3, policies=2, faqs=2)
    driver = SensorDriver(instance)
    results = driver.sync()

    assert partitions(instance) == [str(b)]
    assert all(r.success for r in results)
    found = vectors(engine)
    assert {ct for ct, _ in found} == {"menu_item", "policy", "faq"}
    assert len(found) == 7
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM content_changes")).scalar() == 0
    evaluations = [e for r in results for e in r.get_asset_check_evaluations()]
    assert evaluations and all(e.passed and e.partition == str(b) for e in evaluations)
    materialization = results[0].get_asset_materialization_events()[0].materialization
    assert materialization.metadata["rows_embedded"].value >= 1
    assert materialization.metadata["provider"].value == "openai"


def test_update_reembeds_only_the_changed_row_and_replaces_its_vector(engine, instance):
    b = add_business(engine, "beta", menu=3, policies=0, faqs=0)
    driver = SensorDriver(instance)
    driver.sync()
    before = vectors(engine)
    calls_before = len(ledger(engine))

    with engine.begin() as conn:
        item = conn.execute(
            sa.text("SELECT id FROM menu_items WHERE business_id = :b ORDER BY id LIMIT 1"), {"b": b}
        ).scalar_one()
        conn.execute(
            sa.text("UPDATE menu_items SET description = 'Now with smoked mozzarella' WHERE id = :i"),
            {"i": item},
        )
    results = driver.sync()

    after = vectors(engine)
    assert len(results) == 1
    meta = results[0].get_asset_materialization_events()[0].materialization.metadata
    assert meta["rows_embedded"].value == 1
    # A change-driven run reads only the row its queued change names, not the two unchanged ones.
    assert meta["rows_examined"].value == 1 and meta["sync_scope"].value == "changed rows"
    with engine.connect() as conn:
        text = conn.execute(
            sa.text("SELECT embedding_text(m) FROM menu_items m WHERE id = :i"), {"i": item}
        ).scalar()
    assert after[("menu_item", item)] == [(0, content_hash(text), "text-embedding-3-small", b)]
    assert after[("menu_item", item)] != before[("menu_item", item)]
    unchanged = [k for k in before if k != ("menu_item", item)]
    assert all(after[k] == before[k] for k in unchanged)
    new_calls = ledger(engine)[calls_before:]
    assert [c.input_count for c in new_calls] == [1]


def test_price_only_update_costs_nothing(engine, instance):
    b = add_business(engine, "gamma", menu=2, policies=0, faqs=0)
    driver = SensorDriver(instance)
    driver.sync()
    calls = len(ledger(engine))

    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE menu_items SET price = price + 1, is_available = false WHERE business_id = :b"),
            {"b": b},
        )
    assert driver.tick().run_requests == []
    assert len(ledger(engine)) == calls


def test_whitespace_only_edit_runs_but_sends_nothing(engine, instance):
    """Capture compares columns (cheap on the app's write path); the sync compares hashes of the text."""
    b = add_business(engine, "spaces", menu=1, policies=0, faqs=0)
    driver = SensorDriver(instance)
    driver.sync()
    calls = len(ledger(engine))
    before = vectors(engine)

    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE menu_items SET description = description || '   ' WHERE business_id = :b"),
            {"b": b},
        )
    assert len(driver.sync()) == 1
    assert len(ledger(engine)) == calls
    assert vectors(engine) == before


def test_text_ending_in_a_non_breaking_space_is_current_after_its_sync(engine, instance):
    """Rich-text editors leave U+00A0; the sync and the SQL-side checks must hash the same text."""
    b = add_business(engine, "nbsp", menu=1, policies=0, faqs=0)
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE menu_items SET description = 'Slow-cooked\u00a0' WHERE business_id = :b"),
            {"b": b},
        )
    driver = SensorDriver(instance)
    (run,) = driver.sync()
    checks = {e.check_name: e.passed for e in run.get_asset_check_evaluations()}
    assert checks and all(checks.values()), checks
    calls = len(ledger(engine))
    menu = next(x for x in embedding_assets if x.key.path[-1] == "menu_item_embeddings")
    whole = dg.materialize([menu], partition_key=str(b), instance=instance, resources=defs.resources)
    assert whole.success and len(ledger(engine)) == calls  # a whole-partition diff finds nothing to pay for


def test_edits_to_a_business_whose_run_is_still_queued_ride_on_that_run(engine, instance, monkeypatch):
    from pipeline.settings import get_settings

    monkeypatch.setenv("SENSOR_HOLD_SECONDS", "30")  # off by default
    get_settings.cache_clear()
    b = add_business(engine, "burst", menu=2, policies=0, faqs=0)
    driver = SensorDriver(instance)
    (first,) = driver.tick().run_requests
    # The daemon's queue is busy: the requested run waits, not started.
    queued = instance.add_run(
        dg.DagsterRun(
            job_name="__ASSET_JOB",
            status=dg.DagsterRunStatus.NOT_STARTED,
            tags={**first.tags, "dagster/partition": first.partition_key},
            asset_selection=frozenset(first.asset_selection),
        )
    )
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE menu_items SET description = 'Burst edit' WHERE business_id = :b"), {"b": b}
        )
    assert driver.tick().run_requests == []  # no second start-up cost for the same partition

    other = add_business(engine, "other", menu=1, policies=0, faqs=0)
    held = driver.tick()
    assert held.run_requests == []  # waits until the queued run starts, to share the next run
    instance.delete_run(queued.run_id)  # the queued run has started
    assert [r.partition_key for r in driver.tick().run_requests] == [str(other)]

    driver.execute(first)  # when the queued run starts, it reads the later edit too
    with engine.connect() as conn:
        texts = conn.execute(
            sa.text("SELECT embedding_text(m) FROM menu_items m WHERE business_id = :b"), {"b": b}
        ).scalars()
        expected = {content_hash(t) for t in texts}
    assert {chunks[0][1] for chunks in vectors(engine, "menu_item").values()} == expected
    monkeypatch.delenv("SENSOR_HOLD_SECONDS")
    get_settings.cache_clear()


def test_delete_of_each_content_type_removes_its_vectors(engine, instance):
    b = add_business(engine, "delta", menu=2, policies=2, faqs=2)
    driver = SensorDriver(instance)
    driver.sync()
    with engine.begin() as conn:
        for table in ("menu_items", "policies", "faqs"):
            conn.execute(
                sa.text(
                    f"DELETE FROM {table} WHERE id = (SELECT min(id) FROM {table} WHERE business_id = :b)"
                ),
                {"b": b},
            )
    results = driver.sync()

    assert len(results) == 3
    found = vectors(engine)
    assert len(found) == 3
    with engine.connect() as conn:
        live = conn.execute(sa.text("SELECT content_type, content_id FROM content_documents")).all()
    assert set(found) == {(r[0], r[1]) for r in live}
    assert all(e.passed for r in results for e in r.get_asset_check_evaluations())


def test_emptied_text_removes_the_vector_and_is_not_an_error(engine, instance):
    b = add_business(engine, "epsilon", menu=0, policies=1, faqs=0)
    driver = SensorDriver(instance)
    driver.sync()
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE policies SET title = '', body = NULL WHERE business_id = :b"), {"b": b})
    results = driver.sync()
    assert vectors(engine) == {}
    meta = results[0].get_asset_materialization_events()[0].materialization.metadata
    assert meta["rows_empty"].value == 1 and meta["rows_deleted"].value == 1
    assert all(e.passed for e in results[0].get_asset_check_evaluations())


def test_deleted_business_loses_its_partition_and_vectors(engine, instance):
    keep = add_business(engine, "zeta", menu=1, policies=0, faqs=0)
    gone = add_business(engine, "eta", menu=1, policies=0, faqs=0)
    driver = SensorDriver(instance)
    driver.sync()
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM businesses WHERE id = :b"), {"b": gone})
    driver.sync()
    assert partitions(instance) == [str(keep)]
    assert {v[0][3] for v in vectors(engine).values()} == {keep}
    with engine.connect() as conn:  # its rows' delete events are not left queued (health would stay red)
        assert conn.execute(sa.text("SELECT count(*) FROM content_changes")).scalar_one() == 0


def test_bulk_import_across_many_businesses_uses_few_runs(engine, instance):
    menus = {
        add_business(engine, f"bulk-{i}", menu=1 + i % 3, policies=1, faqs=1): 1 + i % 3 for i in range(12)
    }
    ids = list(menus)
    driver = SensorDriver(instance)
    results = driver.sync()

    # 12 businesses x 3 content types would be 36 one-partition runs; ranges make it one per type.
    assert len(results) == 3
    assert all(r.success for r in results)
    assert len(vectors(engine)) == sum(menus.values()) + 12 * 2
    # Each business's materialization reports its own rows, not the whole run's.
    menu_run = next(r for r in results if r.asset_materializations_for_node("menu_item_embeddings"))
    embedded = {
        m.partition: m.metadata["rows_embedded"].value
        for m in menu_run.asset_materializations_for_node("menu_item_embeddings")
    }
    assert embedded == {str(b): n for b, n in menus.items()}
    evaluations = [e for r in results for e in r.get_asset_check_evaluations()]
    assert {e.partition for e in evaluations} == {str(i) for i in ids}
    assert all(e.passed for e in evaluations)


def test_repeated_changes_to_one_row_collapse_into_one_embedding(engine, instance):
    b = add_business(engine, "theta", menu=1, policies=0, faqs=0)
    driver = SensorDriver(instance)
    driver.sync()
    calls = len(ledger(engine))
    with engine.begin() as conn:
        for n in range(5):
            conn.execute(
                sa.text("UPDATE menu_items SET description = :d WHERE business_id = :b"),
                {"d": f"version {n}", "b": b},
            )
    driver.sync()
    assert [c.input_count for c in ledger(engine)[calls:]] == [1]
