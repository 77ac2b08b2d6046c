"""Usage reports for a period (day, week, month): totals, trend against the previous period, top
consumers, success rate, latency, breakdown by business, model, endpoint and workload."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine

from pipeline.db import usage_reports as sql
from pipeline.usage.periods import period_containing, previous, trend_pct

if TYPE_CHECKING:
    import pandas as pd  # imported where used: a heavy import for every run worker


class ReportInputError(ValueError):
    pass


def build_usage_report(
    engine: Engine, kind: str, today: date, business_id: int | None = None
) -> tuple[dict[str, Any], dict[str, pd.DataFrame]]:
    import pandas as pd

    period = period_containing(kind, today)  # raises on an unknown period
    before = previous(period)
    with engine.connect() as conn:
        if business_id is not None and not sql.business_exists(conn, business_id):
            raise ReportInputError(f"Unknown business {business_id}; `pipeline status` lists the businesses.")
        current = sql.summary(conn, period.start, period.end, business_id)
        earlier = sql.summary(conn, before.start, before.end, business_id)
        tables = {
            "breakdown": pd.DataFrame(sql.breakdown(conn, period.start, period.end, business_id)),
            "top_consumers": pd.DataFrame(sql.top_consumers(conn, period.start, period.end)),
            "daily": pd.DataFrame(sql.daily_series(conn, period.start, period.end, business_id)),
        }
    summary = {
        "period": period.kind,
        "start": period.start.isoformat(),
        "end": (period.end - timedelta(days=1)).isoformat(),
        "business_id": business_id,
        **current,
        "previous_cost_usd": earlier["cost_usd"],
        "cost_trend_pct": trend_pct(float(current["cost_usd"]), float(earlier["cost_usd"])),
        "requests_trend_pct": trend_pct(current["requests"], earlier["requests"]),
    }
    return summary, tables


def validate_range(start: date, end: date, today: date) -> None:
    if start > end:
        raise ReportInputError(f"--from {start} is after --to {end}; swap them.")
    if start > today:
        raise ReportInputError(f"--from {start} is in the future (today is {today}).")


def ledger_export(engine: Engine, start: date, end: date, business_id: int | None = None) -> pd.DataFrame:
    import pandas as pd

    with engine.connect() as conn:
        return pd.DataFrame(sql.ledger_rows(conn, start, end + timedelta(days=1), business_id))
