"""Admin actions: the same implementation behind the Dagster jobs and the CLI, each one audited."""

from __future__ import annotations

import json

import sqlalchemy as sa
from click.testing import CliRunner

from pipeline.cli.main import cli
from pipeline.definitions import defs
from pipeline.lib.chunking import content_hash
from tests.helpers import SensorDriver, add_business, vectors


def _cli(*args: str):
    return CliRunner().invoke(cli, list(args))


def _job(name: str, op: str, config: dict, instance):
    return defs.get_job_def(name).execute_in_process(
        instance=instance, run_config={"ops": {op: {"config": config}}}, raise_on_error=False
    )


def test_retry_failed_makes_rows_due_and_the_sensor_reembeds_them(engine, instance, standin):
    b = add_business(engine, "retry", menu=3, policies=0, faqs=0)
    standin.poison("tomato")  # every row of this business mentions tomato
    driver = SensorDriver(instance)
    driver.sync()
    standin.reset()
    assert vectors(engine) == {}
    result = _job("retry_failed_job", "retry_failed_rows", {"actor": "ops", "business_id": b}, instance)
    assert result.success and result.output_for_node("retry_failed_rows")["rows_made_due"] == 3
    driver.sync()
    assert len(vectors(engine)) == 3
    history = json.loads(_cli("admin", "history").output)
    assert history[0]["action"] == "retry_failed" and history[0]["actor"] == "ops"
    assert history[0]["status"] == "succeeded" and history[0]["params"] == {"business_id": b}


def test_regenerate_with_new_dimensions_swaps_one_business_atomically(engine, instance):
    a = add_business(engine, "regen", menu=3, policies=1, faqs=1)
    other = add_business(engine, "untouched", menu=2, policies=0, faqs=0)
    SensorDriver(instance).sync()
    before_other = {k: v for k, v in vectors(engine).items() if v[0][3] == other}
    out = _cli("admin", "regenerate", "--business", str(a), "--dimensions", "512", "--by", "ml")
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["rows_embedded"] == 5
    with engine.connect() as conn:
        widths = dict(
            conn.execute(
                sa.text(
                    "SELECT business_id, array_agg(DISTINCT dimensions) FROM content_embeddings GROUP BY 1"
                )
            ).all()
        )
        shadow = conn.execute(sa.text("SELECT count(*) FROM content_embeddings_shadow")).scalar()
    assert widths == {a: [512], other: [1536]} and shadow == 0
    assert {k: v for k, v in vectors(engine).items() if v[0][3] == other} == before_other


def test_cleanup_deletes_only_outside_the_retention_window(engine, instance):
    add_business(engine, "old", menu=1, policies=0, faqs=0)
    with engine.begin() as conn:
        for age in (200, 91, 89, 1):
            conn.execute(
                sa.text(
                    "INSERT INTO usage_ledger (created_at, workload, provider, model, endpoint, latency_ms, status)"
                    " VALUES (now() - make_interval(days => :a), 'search', 'openai', 'm', 'embeddings', 1, 'ok')"
                ),
                {"a": age},
            )
        conn.execute(
            sa.text(
                "INSERT INTO content_embeddings (business_id, content_type, content_id, chunk_index, chunk_count,"
                " content_hash, model, dimensions, token_count, chunk_text, embedding)"
                " SELECT id, 'faq', 999, 0, 1, 'h', 'm', 3, 1, 'gone', '[1,0,0]' FROM businesses"
            )
        )
    result = _job("cleanup_job", "cleanup_old_data", {"actor": "ops"}, instance)
    counts = result.output_for_node("cleanup_old_data")
    assert counts["usage_rows"] == 2 and counts["orphaned_vectors"] == 1
    with engine.connect() as conn:
        ages = conn.execute(
            sa.text(
                "SELECT round(extract(epoch FROM now() - created_at) / 86400) FROM usage_ledger ORDER BY 1"
            )
        ).scalars()
        assert [int(a) for a in ages] == [1, 89]
    assert "days must be at least 1" in _cli("admin", "cleanup", "--days", "0").output


def test_reconcile_queues_drifted_partitions_for_the_sensor(engine, instance):
    b = add_business(engine, "drift", menu=2, policies=0, faqs=0)
    driver = SensorDriver(instance)
    driver.sync()
    with engine.begin() as conn:
        conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
        conn.execute(sa.text("UPDATE menu_items SET description = 'changed behind the triggers'"))
    out = json.loads(_cli("admin", "reconcile", "--by", "ops").output)
    assert out["partitions_queued"] == 1
    results = driver.sync()
    assert [r.success for r in results] == [True]
    with engine.connect() as conn:
        assert (
            conn.execute(
                sa.text("SELECT count(*) FROM content_embeddings WHERE chunk_text LIKE '%behind%'")
            ).scalar()
            == 2
        )
    assert b


def test_unknown_business_is_refused(engine):
    assert "Unknown business 999" in _cli("admin", "retry-failed", "--business", "999").output
    assert "Unknown business 999" in _cli("admin", "regenerate", "--business", "999").output


def test_a_row_edited_during_regeneration_is_queued_again_at_the_swap(engine, instance):
    from pipeline.db import admin as sql

    b = add_business(engine, "racing", menu=2, policies=0, faqs=0)
    driver = SensorDriver(instance)
    driver.sync()
    with engine.begin() as conn:  # the shadow set, built from the texts as they were
        conn.execute(
            sa.text(
                "INSERT INTO content_embeddings_shadow SELECT e.*, 99 FROM content_embeddings e"
                " WHERE business_id = :b"
            ),
            {"b": b},
        )
        edited = conn.execute(
            sa.text(
                "UPDATE menu_items SET description = 'edited mid-regeneration' WHERE id ="
                " (SELECT min(id) FROM menu_items WHERE business_id = :b) RETURNING id"
            ),
            {"b": b},
        ).scalar_one()
    driver.sync()  # the edit's own sync, before the swap
    with engine.begin() as conn:
        sql.swap_in_shadow(conn, b, 99)
        queued = conn.execute(sa.text("SELECT content_id, operation FROM content_changes")).all()
    assert queued == [(edited, "U")]
    driver.sync()
    with engine.connect() as conn:
        text = conn.execute(
            sa.text("SELECT embedding_text(m) FROM menu_items m WHERE id = :i"), {"i": edited}
        ).scalar_one()
    assert vectors(engine)[("menu_item", edited)][0][1] == content_hash(text)
