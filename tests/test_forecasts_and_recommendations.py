"""Month-end forecasts and rule-based recommendations, with savings computed independently here."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa
from click.testing import CliRunner

from pipeline.cli.main import cli
from pipeline.usage.forecast import project_month
from pipeline.usage.recommendations import cheaper_model, frequent_reembedding, low_packing
from tests.column_batch_helpers import menu_without_descriptions, queue_new, run_operation
from tests.helpers import SensorDriver, add_business


def test_projection_uses_the_trailing_week_and_finds_the_budget_day():
    today = date(2026, 3, 10)
    costs = {today - timedelta(days=i): Decimal("2") for i in range(0, 10)}
    f = project_month("global", today, costs, Decimal("50"))
    assert f.spent_to_date_usd == Decimal("20") and f.daily_rate_usd == Decimal("2")
    assert f.projected_month_end_usd == Decimal("20") + 21 * Decimal("2")  # March has 21 days after the 10th
    assert f.budget_hit_on == date(2026, 3, 25)  # (50 - 20) / 2 = 15 days
    assert project_month("g", today, costs, Decimal("1000")).budget_hit_on is None
    assert project_month("g", today, costs, Decimal("10")).budget_hit_on == today


def test_rules_compute_savings():
    prices = {
        "text-embedding-ada-002": Decimal("0.10"),
        "text-embedding-3-small": Decimal("0.02"),
        "gpt-4o-mini": Decimal("0.15"),
    }
    [r] = cheaper_model(
        [{"model": "text-embedding-ada-002", "dimensions": 1536, "input_tokens": 5_000_000}], prices
    )
    assert r.saving_usd == Decimal("0.40") and "text-embedding-3-small" in r.advice
    assert (
        cheaper_model([{"model": "text-embedding-3-small", "dimensions": 1536, "input_tokens": 9}], prices)
        == []
    )
    [r] = frequent_reembedding(
        [
            {
                "business_id": 1,
                "content_type": "faq",
                "content_id": 7,
                "embeds": 5,
                "tokens": 500,
                "cost_usd": Decimal("0.0005"),
            }
        ]
    )
    assert r.saving_usd == Decimal("0.0004")
    [r] = low_packing(
        [{"operation_id": 3, "model": "gpt-4o-mini", "rows_per_request": 1, "requests": 100, "rows": 100}],
        overhead_tokens=200,
        prices=prices,
    )
    assert r.saving_usd == Decimal(90 * 200) * Decimal("0.15") / 1_000_000


def test_cli_forecast_and_recommendations_from_real_activity(engine, instance, standin):
    b = add_business(engine, "busy", menu=1, policies=0, faqs=0)
    driver = SensorDriver(instance)
    driver.sync()
    for n in range(4):  # the same row re-embedded again and again today
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE menu_items SET description = :d"), {"d": f"edit {n}"})
        driver.sync()
    menu_without_descriptions(engine, 4, business="packing")
    assert run_operation(instance, queue_new(engine, rows_per_request=1, batch_size=4)).success
    with engine.begin() as conn:  # a week of history so the projection has a trailing rate
        conn.execute(
            sa.text(
                "INSERT INTO usage_ledger (created_at, business_id, workload, provider, model, endpoint, cost_usd,"
                " latency_ms, status) SELECT now() - make_interval(days => g), :b, 'embedding_sync', 'openai',"
                " 'text-embedding-3-small', 'embeddings', 0.5, 10, 'ok' FROM generate_series(1, 7) g"
            ),
            {"b": b},
        )

    forecast = json.loads(CliRunner().invoke(cli, ["usage", "forecast", "--json"]).output)
    mine = next(f for f in forecast if f["scope"] == f"business:{b}")
    assert Decimal(mine["daily_rate_usd"]) == Decimal("0.5")
    rules = {
        r["rule"] for r in json.loads(CliRunner().invoke(cli, ["usage", "recommendations", "--json"]).output)
    }
    assert {"frequent_reembedding", "low_packing"} <= rules
