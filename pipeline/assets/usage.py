"""Usage reports downstream of the usage ledger: a daily rollup and day/week/month reports."""

from datetime import date, timedelta

import dagster as dg

from pipeline.db import usage_reports as sql
from pipeline.lib.exports import write_report
from pipeline.resources.database import DatabaseResource
from pipeline.settings import get_settings
from pipeline.usage.chart import usage_chart_markdown
from pipeline.usage.insights import forecasts, recommendations
from pipeline.usage.periods import PERIODS, utc_today
from pipeline.usage.report import build_usage_report

usage_ledger_spec = dg.AssetSpec(
    "usage_ledger",
    description="One row per provider API call (embedding sync, column batch, search), written as it "
    "happens.",
    group_name="usage",
    kinds={"postgres"},
)

usage_days = dg.DailyPartitionsDefinition(start_date=get_settings().usage_start_date, end_offset=1)


@dg.asset(
    deps=[usage_ledger_spec],
    partitions_def=usage_days,
    group_name="usage",
    kinds={"postgres"},
    description="Daily usage per business, model, endpoint and workload (table usage_daily): requests, "
    "errors, tokens, cost, latency p50/p95. Rebuilt for its day on every materialization.",
)
def usage_daily(context: dg.AssetExecutionContext, database: DatabaseResource) -> dg.MaterializeResult:
    day = date.fromisoformat(context.partition_key)
    with database.engine.begin() as conn:
        groups = sql.rebuild_day(conn, day)
        totals = sql.summary(conn, day, day + timedelta(days=1))
        series = sql.daily_series(conn, day - timedelta(days=29), day + timedelta(days=1))
    return dg.MaterializeResult(
        metadata={
            "groups": groups,
            "requests": totals["requests"],
            "errors": totals["errors"],
            "success_rate": totals["success_rate"] if totals["success_rate"] is not None else 1.0,
            "input_tokens": int(totals["input_tokens"]),
            "output_tokens": int(totals["output_tokens"]),
            "cost_usd": float(totals["cost_usd"]),
            "latency_p95_ms": float(totals["latency_p95_ms"] or 0),
            "chart": dg.MetadataValue.md(usage_chart_markdown(series, f"Cost and tokens, 30 days to {day}")),
        }
    )


@dg.asset(
    deps=[usage_daily],
    group_name="usage",
    kinds={"postgres"},
    description="Day, week and month usage reports with trend against the previous period, top consumers, "
    "success rate and latency; exported as CSV, JSON and XLSX to EXPORT_DIR.",
)
def usage_report(context: dg.AssetExecutionContext, database: DatabaseResource) -> dg.MaterializeResult:
    today = utc_today()
    out_dir = get_settings().export_dir
    metadata: dict[str, object] = {}
    lines = ["| period | cost | trend | requests | success | p95 ms |", "|---|---|---|---|---|---|"]
    for kind in PERIODS:
        summary, tables = build_usage_report(database.engine, kind, today)
        for fmt in ("csv", "json", "xlsx"):
            write_report(summary, tables, fmt, out_dir / f"usage-{kind}-{summary['start']}.{fmt}")
        trend, success = summary["cost_trend_pct"], summary["success_rate"]
        lines.append(
            f"| {kind} | ${float(summary['cost_usd']):.6f} | {'' if trend is None else f'{trend:+.1f}%'} | "
            f"{summary['requests']} | {'-' if success is None else f'{success:.1%}'} | "
            f"{summary['latency_p95_ms'] or '-'} |"
        )
        metadata[f"{kind}_cost_usd"] = float(summary["cost_usd"])
    with database.engine.connect() as conn:
        series = sql.daily_series(conn, today - timedelta(days=29), today + timedelta(days=1))
        top = sql.top_consumers(conn, today.replace(day=1), today + timedelta(days=1))
    top_lines = [f"- business {t['business_id']} ({t['name']}): ${float(t['cost_usd']):.6f}" for t in top]
    forecast_lines = [
        f"- {f.scope}: ${f.projected_month_end_usd:.6f} by month end"
        + (f", budget ${f.budget_usd} hit on {f.budget_hit_on}" if f.budget_hit_on else "")
        for f in forecasts(database.engine, today)
    ]
    advice = [
        f"- ${r.saving_usd:.6f} [{r.rule}] {r.scope}: {r.advice}"
        for r in recommendations(database.engine, today)
    ]
    return dg.MaterializeResult(
        metadata={
            **metadata,
            "report": dg.MetadataValue.md("\n".join(lines)),
            "top_consumers_this_month": dg.MetadataValue.md("\n".join(top_lines) or "none"),
            "month_end_forecast": dg.MetadataValue.md("\n".join(forecast_lines) or "none"),
            "recommendations": dg.MetadataValue.md("\n".join(advice) or "none"),
            "exports": dg.MetadataValue.path(str(out_dir)),
            "chart": dg.MetadataValue.md(usage_chart_markdown(series, "Cost and tokens, last 30 days")),
        }
    )
