"""When usage deserves an alert (pure functions)."""

from __future__ import annotations

from decimal import Decimal
from statistics import mean


def budget_level(spent: Decimal, amount: Decimal, thresholds: tuple[int, ...]) -> tuple[str, str] | None:
    """(level, severity): 'exceeded'/critical over the budget, else the highest threshold reached."""
    if spent > amount:
        return "exceeded", "critical"
    reached = [t for t in sorted(thresholds) if spent * 100 >= amount * t]
    return (str(reached[-1]), "warning") if reached else None


def error_rate_high(errors: int, requests: int, max_rate: float, min_requests: int = 20) -> bool:
    return requests >= min_requests and errors / requests > max_rate


def spike(today: float, trailing: list[float], factor: float) -> bool:
    """Today's value is `factor` times the trailing mean (needs a few days of history)."""
    history = [v for v in trailing if v > 0]
    return len(history) >= 3 and today > factor * mean(history)


def latency_degraded(today_p95: float | None, trailing_p95: list[float], factor: float) -> bool:
    history = [v for v in trailing_p95 if v]
    return today_p95 is not None and len(history) >= 3 and today_p95 > factor * mean(history)
