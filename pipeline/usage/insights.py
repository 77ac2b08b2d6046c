"""Forecasts and recommendations computed from the ledger, for the report asset and the CLI."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy.engine import Engine

from pipeline.column_batch.prompts import RESPONSE_FORMAT, SYSTEM_PROMPT
from pipeline.db import budgets as budget_sql
from pipeline.db import usage_reports as sql
from pipeline.db.usage_ledger import load_price_book
from pipeline.lib.tokens import count_tokens
from pipeline.usage import recommendations as rules
from pipeline.usage.forecast import TRAILING_DAYS, Forecast, project_month


def forecasts(engine: Engine, today: date) -> list[Forecast]:
    """Overall and per business, each against its monthly budget when one exists."""
    start = min(today.replace(day=1), today - timedelta(days=TRAILING_DAYS))
    with engine.connect() as conn:
        monthly = {
            (b.scope_type, b.scope_id): b.amount_usd
            for b in budget_sql.list_budgets(conn)
            if b.period == "month"
        }
        result = [
            project_month(
                "global",
                today,
                sql.daily_costs(conn, start, today + timedelta(days=1)),
                monthly.get(("global", "")),
            )
        ]
        for row in sql.top_consumers(conn, start, today + timedelta(days=1), limit=1000):
            b = row["business_id"]
            costs = sql.daily_costs(conn, start, today + timedelta(days=1), b)
            result.append(project_month(f"business:{b}", today, costs, monthly.get(("business", str(b)))))
    return result


def recommendations(engine: Engine, today: date, days: int = 30) -> list[rules.Recommendation]:
    start, end = today - timedelta(days=days), today + timedelta(days=1)
    book = load_price_book(engine)
    prices = {
        m: book.price(m).input_usd_per_mtok
        for m in (
            "text-embedding-3-small",
            "text-embedding-3-large",
            "text-embedding-ada-002",
            "gpt-4o-mini",
            "gpt-4o",
        )
        if m in book
    }
    overhead = count_tokens(SYSTEM_PROMPT + str(RESPONSE_FORMAT), "gpt-4o-mini")
    with engine.connect() as conn:
        found = [
            *rules.cheaper_model(sql.embedding_usage_by_model(conn, start, end), prices),
            *rules.frequent_reembedding(sql.row_embeds_per_day(conn, today)),
            *rules.low_packing(sql.column_batch_packing(conn, start, end), overhead, prices),
            *rules.billed_failures(*(Decimal(v) for v in sql.wasted_spend(conn, start, end))),
        ]
    return sorted(found, key=lambda r: r.saving_usd, reverse=True)
