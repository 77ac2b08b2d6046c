"""Checks on each day of usage: budgets, error rate, latency, spikes, quota. Every firing is stored
once in the alerts table; the alert sensor delivers it."""

from datetime import date, timedelta
from decimal import Decimal

import dagster as dg

from pipeline.assets.usage import usage_daily, usage_days
from pipeline.db import alerts, budgets
from pipeline.db import usage_reports as sql
from pipeline.resources.database import DatabaseResource
from pipeline.settings import get_settings
from pipeline.usage.evaluation import budget_level, error_rate_high, latency_degraded, spike
from pipeline.usage.periods import period_containing

_SPECS = [
    dg.AssetCheckSpec(name, asset=usage_daily, partitions_def=usage_days, description=d)
    for name, d in (
        ("budgets", "Every budget's spend in its current period: WARN at a threshold, ERROR over budget."),
        ("error_rate", "Failed API calls at or below ALERT_ERROR_RATE."),
        ("latency", "p95 latency within ALERT_LATENCY_FACTOR of the trailing 7-day baseline."),
        ("cost_spike", "Cost within ALERT_SPIKE_FACTOR of the trailing 7-day mean."),
        ("quota", "Column-batch spend below ALERT_QUOTA_PCT of the daily system limit."),
    )
]


@dg.multi_asset_check(specs=_SPECS, can_subset=True, name="usage_daily_checks")
def usage_daily_checks(context: dg.AssetCheckExecutionContext, database: DatabaseResource):
    settings = get_settings()
    day = date.fromisoformat(context.partition_key)
    with database.engine.begin() as conn:
        history = sql.daily_health(conn, day - timedelta(days=7), day + timedelta(days=1))
        today = history.pop(day, {"cost_usd": 0, "requests": 0, "errors": 0, "p95": None})
        trailing = list(history.values())

        firing = []
        for b in budgets.list_budgets(conn):
            period = period_containing(b.period, day)
            spent = budgets.spent(conn, b, period.start, period.end)
            level = budget_level(spent, b.amount_usd, b.thresholds_pct)
            if level:
                text = f"{b.scope} {b.period} budget: ${spent:.6f} of ${b.amount_usd:.2f} ({level[0]})"
                alerts.fire(conn, "budget", b.scope, period.key, level[0], level[1], text)
                firing.append((level[1], text))
        severity = (
            dg.AssetCheckSeverity.ERROR
            if any(s == "critical" for s, _ in firing)
            else dg.AssetCheckSeverity.WARN
        )
        yield dg.AssetCheckResult(
            check_name="budgets",
            passed=not firing,
            severity=severity,
            description="; ".join(t for _, t in firing) or "All budgets below thresholds.",
        )

        high = error_rate_high(today["errors"], today["requests"], settings.alert_error_rate)
        text = f"{today['errors']} of {today['requests']} API calls failed on {day}"
        if high:
            alerts.fire(conn, "error_rate", "global", str(day), "high", "warning", text)
        yield dg.AssetCheckResult(
            check_name="error_rate", passed=not high, severity=dg.AssetCheckSeverity.WARN, description=text
        )

        slow = latency_degraded(today["p95"], [h["p95"] for h in trailing], settings.alert_latency_factor)
        text = f"p95 latency {today['p95'] or 0:.0f} ms on {day}"
        if slow:
            alerts.fire(conn, "latency", "global", str(day), "degraded", "warning", text)
        yield dg.AssetCheckResult(
            check_name="latency", passed=not slow, severity=dg.AssetCheckSeverity.WARN, description=text
        )

        spiking = spike(
            float(today["cost_usd"]), [float(h["cost_usd"]) for h in trailing], settings.alert_spike_factor
        )
        text = f"cost ${float(today['cost_usd']):.6f} on {day}"
        if spiking:
            alerts.fire(conn, "spike", "global", str(day), "spike", "warning", text + " is a spike")
        yield dg.AssetCheckResult(
            check_name="cost_spike", passed=not spiking, severity=dg.AssetCheckSeverity.WARN, description=text
        )

        used = sql.column_batch_spend(conn, day)
        limit = settings.cb_max_cost_per_day_usd
        near = used * 100 >= limit * Decimal(str(settings.alert_quota_pct))
        text = f"column-batch spend ${used:.6f} of the ${limit} daily limit on {day}"
        if near:
            alerts.fire(
                conn, "quota", "column_batch", str(day), f"{settings.alert_quota_pct:g}", "warning", text
            )
        yield dg.AssetCheckResult(
            check_name="quota", passed=not near, severity=dg.AssetCheckSeverity.WARN, description=text
        )
