"""Search is tenant-isolated by the database itself (row-level security), not only by a WHERE."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from pipeline.db.search import as_tenant
from pipeline.search import SearchInputError, search
from tests.helpers import SensorDriver, add_business


@pytest.fixture
def two_tenants(engine, instance):
    a = add_business(engine, "pizzeria", menu=0, policies=0, faqs=0)
    b = add_business(engine, "ramenbar", menu=0, policies=0, faqs=0)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO menu_items (business_id, name, description) VALUES"
                " (:a, 'Margherita', 'Tomato, mozzarella and basil pizza'),"
                " (:a, 'Tiramisu', 'Coffee soaked ladyfingers with mascarpone'),"
                " (:b, 'Tonkotsu ramen', 'Pork bone broth with noodles and egg'),"
                " (:b, 'Vegan pizza ramen', 'Tomato basil broth with noodles')"
            ),
            {"a": a, "b": b},
        )
        conn.execute(
            sa.text(
                "INSERT INTO faqs (business_id, question, answer) VALUES"
                " (:a, 'Can I bring my dog?', 'Dogs are welcome on the terrace.')"
            ),
            {"a": a},
        )
    SensorDriver(instance).sync()
    return a, b


def test_search_ranks_the_matching_row_first(two_tenants):
    a, _ = two_tenants
    hits = search(a, "tomato mozzarella pizza", k=3)
    assert hits[0].content_type == "menu_item" and "Margherita" in hits[0].text
    assert hits == sorted(hits, key=lambda h: h.score, reverse=True)
    assert search(a, "can I bring my dog", k=1)[0].content_type == "faq"


def test_search_never_returns_another_tenants_rows(two_tenants, engine):
    a, _ = two_tenants
    with engine.connect() as conn:
        own = {
            r[0] for r in conn.execute(sa.text("SELECT id FROM menu_items WHERE business_id = :a"), {"a": a})
        }
    hits = search(a, "ramen noodles broth", k=10)
    assert hits and {h.content_id for h in hits if h.content_type == "menu_item"} <= own


def test_row_level_security_hides_other_tenants_even_without_a_where(two_tenants, engine):
    a, b = two_tenants
    with engine.begin() as conn:
        as_tenant(conn, a)
        seen = conn.execute(sa.text("SELECT DISTINCT business_id FROM content_embeddings")).scalars().all()
        explicit = conn.execute(
            sa.text("SELECT count(*) FROM content_embeddings WHERE business_id = :b"), {"b": b}
        ).scalar()
    assert seen == [a] and explicit == 0
    with engine.begin() as conn:
        conn.execute(sa.text("SET LOCAL ROLE pipeline_app"))  # no tenant set: nothing at all
        assert conn.execute(sa.text("SELECT count(*) FROM content_embeddings")).scalar() == 0
        with pytest.raises(sa.exc.ProgrammingError):
            conn.execute(sa.text("SELECT count(*) FROM menu_items"))  # the app role reads vectors only


@pytest.mark.parametrize(
    ("business", "query", "k", "message"),
    [
        (999, "pizza", 5, "Unknown business 999"),
        (1, "  ", 5, "empty"),
        (1, "\x00", 5, "empty"),
        (1, "pizza", 0, "k must be"),
    ],
)
def test_bad_search_input_gets_a_clear_error(engine, business, query, k, message):
    with pytest.raises(SearchInputError, match=message):
        search(business, query, k)


def test_query_with_invalid_unicode_still_searches(two_tenants):
    a, _ = two_tenants
    assert search(a, "pizza \ud800 tomato", k=1)[0].content_type == "menu_item"
