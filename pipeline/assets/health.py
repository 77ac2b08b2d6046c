"""The system health asset, refreshed by a schedule every few minutes."""

import json

import dagster as dg

from pipeline.health.report import health_report
from pipeline.resources.database import DatabaseResource


@dg.asset(
    group_name="operations",
    kinds={"postgres"},
    description="Health of the database, OpenAI, embedding sync, column batch, the Dagster daemon and the "
    "host, with an overall healthy/warning/critical and its reasons.",
    check_specs=[
        dg.AssetCheckSpec(
            "system_healthy",
            asset="system_health",
            description="WARN when the overall status is warning, ERROR when critical.",
        )
    ],
)
def system_health(context: dg.AssetExecutionContext, database: DatabaseResource) -> dg.MaterializeResult:
    report = health_report(database.engine, instance=context.instance)
    overall = report["overall"]
    return dg.MaterializeResult(
        metadata={
            "overall": overall,
            "reasons": dg.MetadataValue.md("\n".join(f"- {r}" for r in report["reasons"]) or "none"),
            **{f"{name}_status": c["status"] for name, c in report["components"].items()},
            **{k: v for k, v in report["metrics"].items() if isinstance(v, int | float)},
            "active_alerts": len(report["alerts"]),
            "report": dg.MetadataValue.json(json.loads(json.dumps(report, default=str))),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="system_healthy",
                passed=overall == "healthy",
                severity=dg.AssetCheckSeverity.ERROR if overall == "critical" else dg.AssetCheckSeverity.WARN,
                description="; ".join(report["reasons"]) or "All components healthy.",
            )
        ],
    )


health_schedule = dg.ScheduleDefinition(
    name="system_health_schedule",
    cron_schedule="*/5 * * * *",
    target=[system_health],
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Refreshes system_health every 5 minutes.",
)
