"""The scheduled reconciliation repairs what the queue missed: writes with triggers disabled, lost
deletes and a model change."""

from __future__ import annotations

import dagster as dg
import sqlalchemy as sa

from pipeline.assets.embeddings import embedding_assets
from pipeline.resources.database import DatabaseResource
from pipeline.resources.openai import OpenAIResource
from pipeline.schedules.reconciliation import embedding_reconciliation
from pipeline.tags import RANGE_END_TAG, RANGE_START_TAG
from tests.helpers import SensorDriver, add_business, vectors


def _reconcile(instance, driver: SensorDriver, openai: OpenAIResource | None = None) -> list[dg.RunRequest]:
    with dg.build_schedule_context(
        instance=instance, resources={"database": DatabaseResource(), "openai": openai or OpenAIResource()}
    ) as ctx:
        result = embedding_reconciliation(ctx)
    if isinstance(result, dg.SkipReason):
        return []
    for request in result:
        assert driver.execute(request).success
    return list(result)


def _behind_the_triggers(engine, sql: str, params: dict) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("SET LOCAL session_replication_role = replica"))  # as a bulk loader might
        conn.execute(sa.text(sql), params)


def test_nothing_to_do_when_in_sync(engine, instance):
    add_business(engine, "synced")
    driver = SensorDriver(instance)
    driver.sync()
    assert _reconcile(instance, driver) == []


def test_repairs_writes_and_deletes_the_triggers_never_saw(engine, instance):
    b = add_business(engine, "drifted", menu=3, policies=0, faqs=0)
    driver = SensorDriver(instance)
    driver.sync()
    _behind_the_triggers(
        engine, "INSERT INTO menu_items (business_id, name) VALUES (:b, 'Ghost pepper wings')", {"b": b}
    )
    _behind_the_triggers(engine, "DELETE FROM menu_items WHERE id = (SELECT min(id) FROM menu_items)", {})
    assert driver.tick().run_requests == []  # the queue knows nothing

    runs = _reconcile(instance, driver)
    assert [r.partition_key for r in runs] == [str(b)]
    with engine.connect() as conn:
        live = {r[0] for r in conn.execute(sa.text("SELECT id FROM menu_items"))}
    assert {cid for _, cid in vectors(engine)} == live
    assert _reconcile(instance, driver) == []


def test_model_change_reembeds_every_partition(engine, instance, standin):
    a = add_business(engine, "one", menu=2, policies=0, faqs=0)
    b = add_business(engine, "two", menu=2, policies=0, faqs=0)
    driver = SensorDriver(instance)
    driver.sync()
    new_model = OpenAIResource(embedding_model="text-embedding-3-small", embedding_dimensions=512)
    with dg.build_schedule_context(
        instance=instance, resources={"database": DatabaseResource(), "openai": new_model}
    ) as ctx:
        runs = embedding_reconciliation(ctx)
    # Both businesses need work: one ranged run covers them (SENSOR_BULK_THRESHOLD).
    assert [(r.tags.get(RANGE_START_TAG), r.tags.get(RANGE_END_TAG)) for r in runs] == [(str(a), str(b))]
    for r in runs:
        result = dg.materialize(
            embedding_assets,
            selection=r.asset_selection,
            partition_key=r.partition_key,
            tags=r.tags,
            instance=instance,
            resources={"database": DatabaseResource(), "openai": new_model},
        )
        assert result.success
    with engine.connect() as conn:
        models = conn.execute(sa.text("SELECT DISTINCT model, dimensions FROM content_embeddings")).all()
    assert models == [("text-embedding-3-small", 512)]


def test_incomplete_chunks_of_a_long_row_are_completed_without_duplicates(engine, instance):
    b = add_business(engine, "longread", menu=1, policies=0, faqs=0)
    with engine.begin() as conn:
        item = conn.execute(
            sa.text("SELECT id FROM menu_items WHERE business_id = :b"), {"b": b}
        ).scalar_one()
        conn.execute(
            sa.text("UPDATE menu_items SET description = :d WHERE id = :i"),
            {"d": " ".join(f"ingredient{i % 500}" for i in range(6000)), "i": item},
        )
    driver = SensorDriver(instance)
    driver.sync()
    stored = vectors(engine, "menu_item")[("menu_item", item)]
    assert len(stored) >= 2  # over the model's input limit: several chunks

    embeds_before = _embeds_today(engine, item)
    with engine.begin() as conn:  # one chunk lost, e.g. by a manual cleanup
        conn.execute(
            sa.text("DELETE FROM content_embeddings WHERE content_id = :i AND chunk_index = 1"), {"i": item}
        )
    assert _reconcile(instance, driver)

    assert vectors(engine, "menu_item")[("menu_item", item)] == stored
    assert _embeds_today(engine, item) == embeds_before + 1  # the repair is counted against the row


def _embeds_today(engine, item: int) -> int:
    with engine.connect() as conn:
        return conn.execute(
            sa.text(
                "SELECT embeds FROM row_embed_counts"
                " WHERE day = current_date AND content_type = 'menu_item' AND content_id = :i"
            ),
            {"i": item},
        ).scalar_one()
