"""`pipeline health` and `pipeline stats`."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table

console = Console()


def _instance():
    """The Dagster instance when DAGSTER_HOME is set (for daemon heartbeats), else None."""
    import os

    if not os.environ.get("DAGSTER_HOME"):
        return None
    import dagster as dg

    return dg.DagsterInstance.get()


@click.command("health")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--probe", is_flag=True, help="Also make one tiny live embedding call.")
def health_cmd(as_json: bool, probe: bool) -> None:
    """Overall status with reasons, components, metrics and active alerts. Exit 2 when critical."""
    from pipeline.db.engine import get_engine
    from pipeline.health.report import health_report
    from pipeline.llm.calls import CallContext
    from pipeline.resources.openai import OpenAIResource

    def live_probe() -> None:
        OpenAIResource().embedding_service().embed(["ping"], 1, CallContext("health_probe"))

    report = health_report(get_engine(), instance=_instance(), probe=live_probe if probe else None)
    if as_json:
        click.echo(json.dumps(report, indent=2, default=str))
    else:
        console.print(f"Overall: [bold]{report['overall']}[/bold]")
        for reason in report["reasons"]:
            console.print(f"  - {reason}")
        table = Table("component", "status", "details")
        for name, comp in report["components"].items():
            details = ", ".join(f"{k}={v}" for k, v in comp.items() if k != "status")
            table.add_row(name, comp["status"], details)
        console.print(table)
        console.print("Metrics: " + ", ".join(f"{k}={v}" for k, v in report["metrics"].items()))
    if report["overall"] == "critical":
        raise SystemExit(2)


@click.command("stats")
@click.option("--business", "business_id", type=int, default=None)
@click.option("--json", "as_json", is_flag=True)
def stats_cmd(business_id: int | None, as_json: bool) -> None:
    """Per business: rows per content type, embedded, stale, failed, last sync, cost to date and month."""
    from pipeline.db import health as sql
    from pipeline.db.coverage import coverage
    from pipeline.db.engine import get_engine
    from pipeline.db.usage_reports import business_exists
    from pipeline.resources.openai import OpenAIResource

    model, dims = OpenAIResource().embedding_target()
    with get_engine().connect() as conn:
        if business_id is not None and not business_exists(conn, business_id):
            raise click.ClickException(
                f"Unknown business {business_id}; `pipeline status` lists the businesses."
            )
        per_business = sql.business_stats(conn, business_id)
        cov = coverage(conn, model, dims, business_ids=None if business_id is None else [business_id])
    for b in per_business:
        b["content"] = {
            c.content_type: {"rows": c.rows, "embedded": c.current, "stale": c.stale, "failed": c.failed}
            for c in cov
            if c.business_id == b["business_id"]
        }
    if as_json:
        click.echo(json.dumps(per_business, indent=2, default=str))
        return
    table = Table(
        "business", "name", "type", "rows", "embedded", "stale", "failed", "last sync", "cost $", "month $"
    )
    for b in per_business:
        for ctype, c in sorted(b["content"].items()) or [
            ("-", {"rows": 0, "embedded": 0, "stale": 0, "failed": 0})
        ]:
            table.add_row(
                str(b["business_id"]),
                b["name"],
                ctype,
                str(c["rows"]),
                str(c["embedded"]),
                str(c["stale"]),
                str(c["failed"]),
                str(b["last_sync"] or "-")[:19],
                f"{b['cost_to_date_usd']:.6f}",
                f"{b['cost_this_month_usd']:.6f}",
            )
    console.print(table)
