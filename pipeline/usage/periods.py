"""Reporting periods (pure): day, ISO week, calendar month; the one before; trends."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

PERIODS = ("day", "week", "month")


@dataclass(frozen=True)
class Period:
    kind: str
    start: date  # inclusive
    end: date  # exclusive

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.start.isoformat()}"

    @property
    def days(self) -> int:
        return (self.end - self.start).days


def period_containing(kind: str, day: date) -> Period:
    if kind == "day":
        return Period(kind, day, day + timedelta(days=1))
    if kind == "week":
        start = day - timedelta(days=day.weekday())
        return Period(kind, start, start + timedelta(days=7))
    if kind == "month":
        start = day.replace(day=1)
        end = (start + timedelta(days=32)).replace(day=1)
        return Period(kind, start, end)
    raise ValueError(f"Unknown period {kind!r}; choose one of: {', '.join(PERIODS)}.")


def previous(period: Period) -> Period:
    return period_containing(period.kind, period.start - timedelta(days=1))


def trend_pct(current: float, before: float) -> float | None:
    """Percent change from the previous period; None when there is nothing to compare with."""
    if before == 0:
        return None
    return round((current - before) / before * 100, 1)


def utc_today() -> date:
    """Today as the usage periods, Dagster's daily partitions and the database sessions count it."""
    return datetime.now(UTC).date()
