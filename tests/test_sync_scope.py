"""Change-driven runs read only the rows their queued changes name, and their checks verify exactly
those; runs a person launches (and reconciliation) diff and verify the whole partition."""

from __future__ import annotations

import time

import dagster as dg
import pytest
import sqlalchemy as sa

from pipeline.assets.embeddings import embedding_assets
from pipeline.checks.embedding_checks import embedding_checks
from pipeline.definitions import defs
from tests.helpers import SensorDriver, add_business, ledger, vectors


def _menu_ids(engine, business: int) -> list[int]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                sa.text("SELECT id FROM menu_items WHERE business_id = :b ORDER BY id"), {"b": business}
            ).scalars()
        )


def _sync_metadata(result: dg.ExecuteInProcessResult) -> dict:
    event = result.get_asset_materialization_events()[0]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def _checks(result: dg.ExecuteInProcessResult) -> dict[str, tuple[bool, dict]]:
    return {
        e.check_name: (e.passed, {k: v.value for k, v in e.metadata.items()})
        for e in result.get_asset_check_evaluations()
    }


def _launched_by_hand(instance, business: int) -> dg.ExecuteInProcessResult:
    """As from the UI's Materialize button: no trigger tag."""
    return dg.materialize(
        [*embedding_assets, *embedding_checks],
        selection=[dg.AssetKey("menu_item_embeddings")],
        partition_key=str(business),
        instance=instance,
        resources=defs.resources,
    )


def test_a_change_run_reads_only_the_changed_row_and_a_full_run_repairs_the_rest(engine, instance):
    b = add_business(engine, "scoped", menu=4, policies=0, faqs=0)
    driver = SensorDriver(instance)
    driver.sync()
    lost, edited = _menu_ids(engine, b)[:2]
    with engine.begin() as conn:  # a vector removed behind the queue's back
        conn.execute(sa.text("DELETE FROM content_embeddings WHERE content_id = :i"), {"i": lost})
        conn.execute(
            sa.text("UPDATE menu_items SET description = 'Now with burrata' WHERE id = :i"), {"i": edited}
        )
    calls = len(ledger(engine))

    (run,) = driver.sync()

    meta = _sync_metadata(run)
    assert (meta["rows_examined"], meta["rows_embedded"], meta["sync_scope"]) == (1, 1, "changed rows")
    assert [c.input_count for c in ledger(engine)[calls:]] == [1]
    assert ("menu_item", lost) not in vectors(engine)
    checks = _checks(run)
    assert all(passed for passed, _ in checks.values())
    assert checks["vectors_current"][1]["scope"] == "changed rows"
    assert checks["vectors_current"][1]["rows"] == 1
    (current,) = [e for e in run.get_asset_check_evaluations() if e.check_name == "vectors_current"]
    assert current.description.startswith("Among the rows this run's changes named: 1 of 1 rows")

    full = _launched_by_hand(instance, b)

    meta = _sync_metadata(full)
    assert (meta["rows_examined"], meta["rows_embedded"], meta["sync_scope"]) == (4, 1, "whole partition")
    assert ("menu_item", lost) in vectors(engine)
    checks = _checks(full)
    assert checks["vectors_current"] == (True, checks["vectors_current"][1])
    assert checks["vectors_current"][1]["scope"] == "whole partition"
    assert checks["vectors_current"][1]["rows"] == 4
    with engine.connect() as conn:  # the checks took what the syncs left for them
        assert conn.execute(sa.text("SELECT count(*) FROM synced_rows")).scalar_one() == 0


def test_truncate_and_foreign_vectors_make_a_change_run_diff_the_whole_partition(engine, instance):
    b = add_business(engine, "wiped", menu=3, policies=2, faqs=0)
    driver = SensorDriver(instance)
    driver.sync()
    with engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE policies"))  # the queue names no rows, only the business
    driver.sync()
    assert not [k for k in vectors(engine) if k[0] == "policy"]

    menu = _menu_ids(engine, b)
    with engine.begin() as conn:  # a vector of another model, e.g. left from a model change
        conn.execute(
            sa.text("UPDATE content_embeddings SET model = 'text-embedding-ada-002' WHERE content_id = :i"),
            {"i": menu[0]},
        )
        conn.execute(sa.text("UPDATE menu_items SET name = 'New name' WHERE id = :i"), {"i": menu[1]})
    (run,) = driver.sync()
    meta = _sync_metadata(run)
    assert (meta["rows_examined"], meta["sync_scope"]) == (3, "whole partition")
    assert meta["rows_embedded"] == 2  # the renamed row and the one stored for another model
    with engine.connect() as conn:
        models = conn.execute(sa.text("SELECT DISTINCT model FROM content_embeddings")).scalars()
        assert list(models) == ["text-embedding-3-small"]


@pytest.mark.parametrize(
    "model, dimensions",
    [("a-model-sorting-first", 1536), ("z-model-sorting-last", 1536), (None, 512), (None, 3072)],
)
def test_a_vector_of_any_other_model_or_width_is_found_by_the_sync_and_the_check(
    engine, instance, model, dimensions
):
    """Both ask the model index for the models in use with a few probes: a foreign vector sorting before or
    after the current model, or of a narrower or wider width, must be seen all the same."""
    from pipeline.db.coverage import partitions_coverage
    from pipeline.db.vector_models import has_foreign_vectors

    b = add_business(engine, "models", menu=3, policies=0, faqs=0)
    other = add_business(engine, "neighbour", menu=2, policies=0, faqs=0)
    SensorDriver(instance).sync()
    current = ("text-embedding-3-small", 1536)
    menu = _menu_ids(engine, b)
    with engine.begin() as conn:
        assert not has_foreign_vectors(conn, "menu_item", b, *current)
        conn.execute(
            sa.text(
                "UPDATE content_embeddings SET model = coalesce(:m, model), dimensions = :d,"
                " embedding = CAST(array_fill(CAST(0.5 AS real), ARRAY[:d]) AS vector) WHERE content_id = :i"
            ),
            {"m": model, "d": dimensions, "i": menu[0]},
        )
        assert has_foreign_vectors(conn, "menu_item", b, *current)
        assert not has_foreign_vectors(conn, "menu_item", other, *current)  # tenants stay apart
        found = partitions_coverage(conn, *current, "menu_item", [b, other], content_ids=[menu[1]])
        truth = conn.execute(
            sa.text(
                "SELECT array_agg(DISTINCT model || '/' || dimensions ORDER BY model || '/' || dimensions)"
                " FROM content_embeddings WHERE business_id = :b AND content_type = 'menu_item'"
            ),
            {"b": b},
        ).scalar_one()
    assert len(found[b].models) == 2
    assert list(found[b].models) == truth
    assert found[other].models == ("text-embedding-3-small/1536",)


def test_a_change_run_check_flags_the_changed_row_that_got_no_vector(engine, instance, standin):
    b = add_business(engine, "flagged", menu=3, policies=0, faqs=0)
    driver = SensorDriver(instance)
    driver.sync()
    standin.poison("POISON")  # the API rejects this text
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE menu_items SET description = 'POISON here' WHERE id = :i"),
            {"i": _menu_ids(engine, b)[0]},
        )

    # One tick and its run only: a later tick may already find the (short, in tests) retry due.
    (request,) = driver.tick().run_requests
    run = driver.execute(request)

    passed, meta = _checks(run)["vectors_current"]
    assert passed is False
    assert (meta["scope"], meta["rows"], meta["failed"]) == ("changed rows", 1, 1)


def test_a_retried_sync_keeps_what_its_first_attempt_left_for_the_checks(engine):
    from pipeline.db import synced_rows

    with engine.begin() as conn:
        synced_rows.record(conn, "run-1", "menu_item", 7, [1, 2])
        synced_rows.record(conn, "run-1", "menu_item", 7, [])  # the retry found the queue consumed
        synced_rows.record(conn, "run-1", "menu_item", 8, [3])
        synced_rows.record(conn, "run-1", "menu_item", 8, None)  # the retry diffed the whole partition
    with engine.begin() as conn:
        taken = synced_rows.take(conn, "run-1", "menu_item", [7, 8])
        assert sorted(taken[7]) == [1, 2]
        assert 8 not in taken  # verified whole
        assert synced_rows.take(conn, "run-1", "menu_item", [7, 8]) == {}


def test_a_failing_row_that_moves_business_is_retried_by_its_new_business(engine, instance, standin):
    a = add_business(engine, "from", menu=1, policies=0, faqs=0)
    b = add_business(engine, "to", menu=1, policies=0, faqs=0)
    driver = SensorDriver(instance)
    driver.sync()
    standin.poison("POISON")
    with engine.begin() as conn:  # a new row, never embedded: no vector in a to clean up on the move
        row = conn.execute(
            sa.text(
                "INSERT INTO menu_items (business_id, name, description) VALUES (:a, 'Dish', 'POISON')"
                " RETURNING id"
            ),
            {"a": a},
        ).scalar_one()
    driver.sync()  # fails in business a
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE menu_items SET business_id = :b WHERE id = :i"), {"b": b, "i": row})
    driver.sync()  # fails again, now in business b
    with engine.connect() as conn:
        owner = conn.execute(sa.text("SELECT business_id FROM embedding_failures")).scalar_one()
    assert owner == b

    standin.reset()  # the API accepts the text now; the retry is due after the backoff
    for _ in range(20):
        driver.sync()
        if ("menu_item", row) in vectors(engine):
            break
        time.sleep(0.5)
    assert vectors(engine)[("menu_item", row)][0][3] == b


def test_a_row_moved_with_its_vector_syncs_in_its_new_business_first(engine, instance, standin):
    a = add_business(engine, "from", menu=1, policies=0, faqs=0)
    b = add_business(engine, "to", menu=1, policies=0, faqs=0)
    driver = SensorDriver(instance)
    driver.sync()
    (row,) = _menu_ids(engine, a)
    embeds = standin.count("/embeddings")
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE menu_items SET business_id = :b WHERE id = :i"), {"b": b, "i": row})
    # The new owner's partition runs before the old one's (its run waits elsewhere in the queue).
    menu = next(x for x in embedding_assets if x.key.path[-1] == "menu_item_embeddings")
    result = dg.materialize([menu], partition_key=str(b), instance=instance, resources=defs.resources)
    assert result.success
    assert vectors(engine)[("menu_item", row)][0][3] == b  # one vector, under the new owner
    driver.sync()  # then the old owner's delete: nothing left to remove, nothing paid
    assert [v[3] for v in vectors(engine)[("menu_item", row)]] == [b]
    assert standin.count("/embeddings") == embeds + 1


def test_a_sync_that_read_a_row_before_it_moved_never_takes_its_new_owners_vector(engine, instance):
    import numpy as np
    import psycopg

    from pipeline.db import embedding_store as store

    a = add_business(engine, "stale", menu=1, policies=0, faqs=0)
    b = add_business(engine, "owner", menu=1, policies=0, faqs=0)
    SensorDriver(instance).sync()
    (row,) = _menu_ids(engine, b)
    model, dims, hash_ = next((v[2], 1536, v[1]) for v in vectors(engine)[("menu_item", row)])
    # Business a's sync read the row while it was a's, and writes its answer after the row moved to b.
    chunk = store.ChunkVector(row, 0, 1, hash_, 5, "text", np.full(dims, 1 / np.sqrt(dims), dtype=np.float32))
    with pytest.raises(psycopg.errors.UniqueViolation), engine.begin() as conn:  # failed, and retried
        store.write_vectors(conn, "menu_item", a, model, dims, [chunk], conflict_free=True)
    assert [v[3] for v in vectors(engine)[("menu_item", row)]] == [b]  # b's vector is untouched
