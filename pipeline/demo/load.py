"""Loads the demo restaurants through plain SQL, exactly as the app would write them."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from pipeline.demo.catalog import BUSINESSES, GLOSSARY_TERMS, DemoBusiness


def load_demo(engine: Engine, on_business: Callable[[DemoBusiness], None] | None = None) -> dict[str, int]:
    """Insert the demo businesses and their content. Idempotent: a business that already exists
    (by slug) is left as it is, so re-running never duplicates or overwrites edits."""
    counts = {"businesses": 0, "menu_items": 0, "policies": 0, "faqs": 0, "glossary_terms": 0}
    for business in BUSINESSES:
        with engine.begin() as conn:
            business_id = conn.execute(
                sa.text(
                    "INSERT INTO businesses (slug, name, cuisine, city) VALUES (:s, :n, :c, :city)"
                    " ON CONFLICT (slug) DO NOTHING RETURNING id"
                ),
                {"s": business.slug, "n": business.name, "c": business.cuisine, "city": business.city},
            ).scalar()
            if business_id is not None:
                _insert_content(conn, business_id, business, counts)
                counts["businesses"] += 1
        if on_business:
            on_business(business)
    with engine.begin() as conn:
        inserted = conn.execute(
            sa.text(
                "INSERT INTO glossary_terms (term) SELECT unnest(CAST(:t AS text[])) ON CONFLICT DO NOTHING"
            ),
            {"t": list(GLOSSARY_TERMS)},
        )
        counts["glossary_terms"] = inserted.rowcount
        counts["budgets"] = _demo_budgets(conn)
    return counts


def _demo_budgets(conn: sa.Connection) -> int:
    """Small daily budgets, so the demo's usage checks turn yellow and red within its first hour."""
    first = conn.execute(sa.text("SELECT min(id) FROM businesses")).scalar()
    rows = [("global", "", "0.0001")] + ([("business", str(first), "0.00002")] if first is not None else [])
    return conn.execute(
        sa.text(
            "INSERT INTO budgets (scope_type, scope_id, period, amount_usd, created_by)"
            " VALUES (:t, :i, 'day', :a, 'demo') ON CONFLICT DO NOTHING"
        ),
        [{"t": t, "i": i, "a": a} for t, i, a in rows],
    ).rowcount


def _insert_content(conn: sa.Connection, business_id: int, b: DemoBusiness, counts: dict[str, int]) -> None:
    conn.execute(
        sa.text(
            "INSERT INTO menu_items (business_id, name, category, description, price, dietary_tags)"
            " VALUES (:b, :name, :category, :description, :price, :tags)"
        ),
        [
            {
                "b": business_id,
                "name": m.name,
                "category": m.category,
                "description": m.description,
                "price": m.price,
                "tags": list(m.dietary_tags),
            }
            for m in b.menu
        ],
    )
    conn.execute(
        sa.text("INSERT INTO policies (business_id, title, category, body) VALUES (:b, :t, :c, :body)"),
        [{"b": business_id, "t": p.title, "c": p.category, "body": p.body} for p in b.policies],
    )
    conn.execute(
        sa.text("INSERT INTO faqs (business_id, question, answer) VALUES (:b, :q, :a)"),
        [{"b": business_id, "q": f.question, "a": f.answer} for f in b.faqs],
    )
    counts["menu_items"] += len(b.menu)
    counts["policies"] += len(b.policies)
    counts["faqs"] += len(b.faqs)
