"""One bad row never blocks its batch or its business, and is retried with backoff up to a limit."""

from __future__ import annotations

import time

import sqlalchemy as sa

from tests.helpers import SensorDriver, add_business, poison_menu_item, vectors


def test_poison_row_is_isolated_and_retried_until_the_limit(engine, instance, standin, monkeypatch):
    monkeypatch.setenv("EMBEDDING_MAX_ROW_ATTEMPTS", "2")
    # A backoff long enough that a slow machine's next sensor tick cannot already find the retry due.
    monkeypatch.setenv("EMBEDDING_RETRY_BASE_SECONDS", "3")
    from pipeline.settings import get_settings

    get_settings.cache_clear()
    standin.poison("POISON")
    b = add_business(engine, "poisoned", menu=6, policies=0, faqs=0)
    bad = poison_menu_item(engine, b)
    driver = SensorDriver(instance)
    driver.sync()

    found = vectors(engine)
    assert len(found) == 5 and ("menu_item", bad) not in found
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT attempts, error_type, last_error FROM embedding_failures")).one()
    assert row.attempts == 1 and row.error_type == "input_rejected" and "index" in row.last_error

    # Not due yet: a tick requests nothing for it.
    assert driver.tick().run_requests == []
    with engine.connect() as conn:
        wait = conn.execute(
            sa.text("SELECT extract(epoch FROM next_retry_at - now()) FROM embedding_failures")
        ).scalar()
    assert 0 < wait <= 3
    time.sleep(float(wait) + 0.1)
    driver.sync()
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT attempts, next_retry_at FROM embedding_failures")).one()
    assert row.attempts == 2 and row.next_retry_at is None  # limit reached: no more automatic retries
    time.sleep(1.0)
    assert driver.tick().run_requests == []

    # Fixing the text retries it at once, whatever the backoff.
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE menu_items SET description = 'fixed' WHERE id = :i"), {"i": bad})
    driver.sync()
    assert ("menu_item", bad) in vectors(engine)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM embedding_failures")).scalar() == 0
    get_settings.cache_clear()


def test_text_far_over_the_limit_is_chunked(engine, instance):
    b = add_business(engine, "longread", menu=0, policies=1, faqs=0)
    long_body = " ".join(f"Clause {i}: guests must be seated within fifteen minutes." for i in range(2500))
    with engine.begin() as conn:
        pid = conn.execute(
            sa.text("UPDATE policies SET body = :t WHERE business_id = :b RETURNING id"),
            {"t": long_body, "b": b},
        ).scalar_one()
    SensorDriver(instance).sync()
    chunks = vectors(engine)[("policy", pid)]
    assert len(chunks) >= 3
    assert sorted(c[0] for c in chunks) == list(range(len(chunks)))
    with engine.connect() as conn:
        tokens = conn.execute(sa.text("SELECT max(token_count) FROM content_embeddings")).scalar()
    assert tokens <= 8191


def test_reverting_a_failed_edit_clears_its_failure_record(engine, instance, standin):
    b = add_business(engine, "revert", menu=2, policies=0, faqs=0)
    driver = SensorDriver(instance)
    driver.sync()
    with engine.connect() as conn:
        (row, original) = conn.execute(
            sa.text("SELECT id, description FROM menu_items WHERE business_id = :b ORDER BY id LIMIT 1"),
            {"b": b},
        ).one()
    standin.poison("POISON")
    poison_menu_item(engine, b)
    driver.sync()  # the edit fails; the old vector stays
    with engine.begin() as conn:  # the editor undoes it: the stored vector is current again
        conn.execute(
            sa.text("UPDATE menu_items SET description = :d WHERE id = :i"), {"d": original, "i": row}
        )
    driver.sync()
    with engine.connect() as conn:  # nothing is failing any more: health and retries must not say otherwise
        assert conn.execute(sa.text("SELECT count(*) FROM embedding_failures")).scalar() == 0
