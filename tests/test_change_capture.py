"""Triggers capture every write that changes embedded text, by any writer, in the same transaction."""

from __future__ import annotations

import sqlalchemy as sa

from tests.helpers import add_business


def _queue(engine) -> list[tuple]:
    with engine.connect() as conn:
        return conn.execute(
            sa.text(
                "SELECT content_type, content_id, business_id, operation FROM content_changes ORDER BY seq"
            )
        ).all()


def _clear(engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM content_changes"))


def test_each_content_column_that_is_embedded_is_captured(engine):
    b = add_business(engine, "capture", menu=1, policies=1, faqs=1)
    _clear(engine)
    updates = {
        "menu_items": ["name = 'x'", "category = 'x'", "description = 'x'", "dietary_tags = '{vegan}'"],
        "policies": ["title = 'x'", "category = 'x'", "body = 'x'"],
        "faqs": ["question = 'x'", "answer = 'x'"],
    }
    for table, sets in updates.items():
        for assignment in sets:
            with engine.begin() as conn:
                conn.execute(sa.text(f"UPDATE {table} SET {assignment} WHERE business_id = :b"), {"b": b})
            assert len(_queue(engine)) == 1, f"{table}: {assignment} was not captured"
            _clear(engine)


def test_non_text_updates_and_no_op_updates_are_not_captured(engine):
    b = add_business(engine, "quiet", menu=2, policies=1, faqs=1)
    _clear(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE menu_items SET price = 99, is_available = false, updated_at = now()"))
        conn.execute(sa.text("UPDATE menu_items SET description = description"))
        conn.execute(sa.text("UPDATE faqs SET updated_at = now() WHERE business_id = :b"), {"b": b})
    assert _queue(engine) == []


# A value of each column type that differs from anything add_business writes.
_NEW_VALUE = {
    "text": "'changed value'",
    "ARRAY": "ARRAY['changed']",
    "numeric": "4242",
    "boolean": "NOT {col}",
    "timestamp with time zone": "{col} + interval '1 day'",
    "bigint": None,  # ids and foreign keys: moving rows is tested on its own
}


def test_capture_follows_exactly_the_columns_embedding_text_reads(engine):
    """The update triggers list columns for speed; that list must match what embedding_text() reads.

    Every column of every content table is changed on its own; a change must be queued exactly when
    embedding_text() of the row changed, so adding a column to embedding_text() without adding it to
    the trigger (or the reverse) fails here.
    """
    b = add_business(engine, "columns", menu=1, policies=1, faqs=1)
    with engine.connect() as conn:
        columns = conn.execute(
            sa.text(
                "SELECT table_name, column_name, data_type FROM information_schema.columns"
                " WHERE table_name IN ('menu_items', 'policies', 'faqs') ORDER BY table_name, ordinal_position"
            )
        ).all()
    checked = 0
    for table, column, data_type in columns:
        value = _NEW_VALUE[data_type]
        if value is None:
            continue
        _clear(engine)
        with engine.begin() as conn:
            before = conn.execute(
                sa.text(f"SELECT embedding_text(t) FROM {table} t WHERE business_id = :b"), {"b": b}
            ).scalar_one()
            conn.execute(
                sa.text(f"UPDATE {table} SET {column} = {value.format(col=column)} WHERE business_id = :b"),
                {"b": b},
            )
            after = conn.execute(
                sa.text(f"SELECT embedding_text(t) FROM {table} t WHERE business_id = :b"), {"b": b}
            ).scalar_one()
        assert (len(_queue(engine)) == 1) == (before != after), (
            f"{table}.{column}: capture disagrees with embedding_text()"
        )
        checked += 1
    assert checked >= 12


def test_insert_delete_and_move_between_businesses(engine):
    a = add_business(engine, "one", menu=1, policies=0, faqs=0)
    b = add_business(engine, "two", menu=0, policies=0, faqs=0)
    with engine.connect() as conn:
        item = conn.execute(sa.text("SELECT id FROM menu_items")).scalar_one()
    assert _queue(engine) == [("menu_item", item, a, "I")]
    _clear(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE menu_items SET business_id = :b"), {"b": b})
    assert sorted(_queue(engine)) == sorted([("menu_item", item, b, "U"), ("menu_item", item, a, "D")])
    _clear(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM menu_items"))
    assert _queue(engine) == [("menu_item", item, b, "D")]


def test_rolled_back_writes_leave_no_work(engine):
    b = add_business(engine, "rollback", menu=0, policies=0, faqs=0)
    _clear(engine)
    with engine.connect() as conn:
        conn.execute(sa.text("INSERT INTO faqs (business_id, question) VALUES (:b, 'q?')"), {"b": b})
        conn.rollback()
    assert _queue(engine) == []


def test_truncate_flags_every_business_with_vectors(engine):
    b = add_business(engine, "truncated", menu=1, policies=0, faqs=0)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO content_embeddings (business_id, content_type, content_id, chunk_index,"
                " chunk_count,"
                " content_hash, model, dimensions, token_count, chunk_text, embedding)"
                " VALUES (:b, 'policy', 1, 0, 1, 'h', 'm', 3, 1, 't', '[1,0,0]')"
            ),
            {"b": b},
        )
    _clear(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE policies"))
    assert _queue(engine) == [("policy", 0, b, "T")]


def test_bulk_copy_is_captured_row_by_row(engine):
    b = add_business(engine, "copied", menu=0, policies=0, faqs=0)
    _clear(engine)
    with engine.begin() as conn:
        cursor = conn.connection.dbapi_connection.cursor()
        with cursor.copy("COPY menu_items (business_id, name) FROM STDIN") as copy:
            for i in range(500):
                copy.write_row((b, f"item {i}"))
    assert len(_queue(engine)) == 500
