"""Keeps the usage reports current, unattended."""

from datetime import timedelta

import dagster as dg

from pipeline.assets.usage import usage_daily, usage_report


@dg.schedule(
    name="usage_reports_schedule",
    cron_schedule="*/15 * * * *",
    target=[usage_daily, usage_report],
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every 15 minutes: today's usage_daily partition (and yesterday's, to close it), then the "
    "reports.",
)
def usage_reports_schedule(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
    now = context.scheduled_execution_time
    days = [now.date()] + ([now.date() - timedelta(days=1)] if now.hour == 0 and now.minute < 15 else [])
    stamp = now.strftime("%Y%m%d%H%M")
    return [
        *(
            dg.RunRequest(
                run_key=f"usage:{d}:{stamp}", partition_key=d.isoformat(), asset_selection=[usage_daily.key]
            )
            for d in days
        ),
        dg.RunRequest(run_key=f"usage-report:{stamp}", asset_selection=[usage_report.key]),
    ]
