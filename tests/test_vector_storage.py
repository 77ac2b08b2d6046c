"""How vectors are stored: a row that fits a page is written as it is; wider ones still store."""

from __future__ import annotations

import dagster as dg
import sqlalchemy as sa

from pipeline.assets.embeddings import embedding_assets
from pipeline.resources.database import DatabaseResource
from pipeline.resources.openai import OpenAIResource
from tests.helpers import SensorDriver, add_business


def _storage(engine: sa.Engine) -> list[tuple]:
    with engine.connect() as conn:
        return conn.execute(
            sa.text(
                "SELECT dimensions, vector_dims(embedding), pg_column_compression(embedding),"
                " pg_column_size(embedding) FROM content_embeddings ORDER BY id"
            )
        ).all()


def _toast_bytes(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(
            sa.text(
                "SELECT pg_relation_size(reltoastrelid) FROM pg_class WHERE oid = 'content_embeddings'::regclass"
            )
        ).scalar_one()


def test_page_sized_vectors_are_stored_inline_without_a_compression_attempt(engine, instance):
    # The stand-in's test vectors are mostly zeros: pglz would shrink them if it were tried. Real
    # embeddings never shrink, so trying costs every write CPU for nothing.
    add_business(engine, "inline", menu=3, policies=0, faqs=0)
    assert all(r.success for r in SensorDriver(instance).sync())
    stored = _storage(engine)
    assert len(stored) == 3
    for dims, width, compression, size in stored:
        assert (dims, width, compression) == (1536, 1536, None)
        assert size >= 1536 * 4  # the whole vector in the row, not a TOAST pointer
    assert _toast_bytes(engine) == 0


def test_vectors_wider_than_a_page_are_still_stored(engine, instance, standin):
    b = add_business(engine, "wide", menu=2, policies=0, faqs=0)
    assert all(r.success for r in SensorDriver(instance).sync())
    standin.dense_vectors = True  # as OpenAI's: they do not compress to fit a page
    large = OpenAIResource(embedding_model="text-embedding-3-large")  # 3,072 dimensions: 12 KB a vector
    result = dg.materialize(
        embedding_assets,
        selection=["menu_item_embeddings"],
        partition_key=str(b),
        instance=instance,
        resources={"database": DatabaseResource(), "openai": large},
    )
    assert result.success
    stored = _storage(engine)
    assert [(dims, width) for dims, width, _, _ in stored] == [(3072, 3072)] * 2
    assert _toast_bytes(engine) > 0  # out of line, where a row this wide has to go
