"""Month-end cost projection from the trailing trend, and when a budget will be hit (pure)."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

TRAILING_DAYS = 7


@dataclass(frozen=True)
class Forecast:
    scope: str
    spent_to_date_usd: Decimal
    daily_rate_usd: Decimal
    projected_month_end_usd: Decimal
    budget_usd: Decimal | None
    budget_hit_on: date | None  # None: not within this month at the current rate


def project_month(
    scope: str, today: date, daily_costs: dict[date, Decimal], budget: Decimal | None
) -> Forecast:
    """Spend so far this month plus the trailing daily mean for every remaining day (today included once)."""
    month_start = today.replace(day=1)
    month_end = today.replace(day=calendar.monthrange(today.year, today.month)[1])
    spent = sum((c for d, c in daily_costs.items() if month_start <= d <= today), Decimal(0))
    window = [daily_costs.get(today - timedelta(days=i), Decimal(0)) for i in range(1, TRAILING_DAYS + 1)]
    rate = (sum(window, Decimal(0)) / TRAILING_DAYS).quantize(Decimal("0.00000001"))
    remaining = (month_end - today).days
    projected = spent + rate * remaining
    hit = None
    if budget is not None:
        if spent >= budget:
            hit = today
        elif rate > 0:
            days_needed = int(((budget - spent) / rate).to_integral_value(rounding="ROUND_CEILING"))
            candidate = today + timedelta(days=days_needed)
            hit = candidate if candidate <= month_end else None
    return Forecast(scope, spent, rate, projected.quantize(Decimal("0.00000001")), budget, hit)
