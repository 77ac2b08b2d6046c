"""`pipeline usage ...` and `pipeline budget ...`."""

from __future__ import annotations

import getpass
import json
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from pipeline.usage.periods import utc_today

console = Console()
_SCOPES = ("global", "business", "user", "operation")


def _engine():
    from pipeline.db.engine import get_engine

    return get_engine()


@click.group("usage")
def usage() -> None:
    """Usage and cost reports from the ledger."""


@usage.command("report")
@click.option("--business", "business_id", type=int, default=None, help="One business (default: all).")
@click.option("--period", type=click.Choice(["day", "week", "month"]), default="day", show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json", "xlsx"]), default="table")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="File for csv/json/xlsx.")
def usage_report_cmd(business_id: int | None, period: str, fmt: str, out: Path | None) -> None:
    """The current period's totals, trend against the previous one, top consumers and breakdown."""
    from pipeline.lib.exports import write_report
    from pipeline.settings import get_settings
    from pipeline.usage.report import ReportInputError, build_usage_report

    try:
        summary, tables = build_usage_report(_engine(), period, utc_today(), business_id)
    except ReportInputError as exc:
        raise click.ClickException(str(exc)) from None
    if fmt == "table":
        table = Table("metric", "value", title=f"Usage, {period} from {summary['start']}")
        for key, value in summary.items():
            table.add_row(key, str(value))
        console.print(table)
        return
    suffix = f"-business-{business_id}" if business_id is not None else ""
    path = out or get_settings().export_dir / f"usage-{period}-{summary['start']}{suffix}.{fmt}"
    click.echo(f"Wrote {write_report(summary, tables, fmt, path)}")


@usage.command("export")
@click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), required=True)
@click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), required=True)
@click.option("--business", "business_id", type=int, default=None)
@click.option("--format", "fmt", type=click.Choice(["csv", "json", "xlsx"]), default="csv", show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=None)
def usage_export_cmd(
    start: datetime, end: datetime, business_id: int | None, fmt: str, out: Path | None
) -> None:
    """Every ledger row between two dates (inclusive)."""
    from pipeline.db import usage_reports as sql
    from pipeline.lib.exports import write_report
    from pipeline.settings import get_settings
    from pipeline.usage.report import ReportInputError, ledger_export, validate_range

    engine = _engine()
    try:
        validate_range(start.date(), end.date(), utc_today())
        if business_id is not None:
            with engine.connect() as conn:
                if not sql.business_exists(conn, business_id):
                    raise ReportInputError(
                        f"Unknown business {business_id}; `pipeline status` lists the businesses."
                    )
    except ReportInputError as exc:
        raise click.ClickException(str(exc)) from None
    rows = ledger_export(engine, start.date(), end.date(), business_id)
    summary = {
        "from": start.date().isoformat(),
        "to": end.date().isoformat(),
        "rows": len(rows),
        "cost_usd": float(rows["cost_usd"].sum()) if len(rows) else 0.0,
    }
    path = out or get_settings().export_dir / f"ledger-{summary['from']}-{summary['to']}.{fmt}"
    click.echo(f"Wrote {write_report(summary, {'ledger': rows}, fmt, path)} ({len(rows)} rows)")


@usage.command("forecast")
@click.option("--json", "as_json", is_flag=True)
def usage_forecast_cmd(as_json: bool) -> None:
    """Month-end cost projection overall and per business, and which monthly budget it will hit, when."""
    from pipeline.usage.insights import forecasts

    found = forecasts(_engine(), utc_today())
    if as_json:
        click.echo(json.dumps([f.__dict__ for f in found], indent=2, default=str))
        return
    table = Table("scope", "spent $", "per day $", "month-end $", "budget $", "budget hit on")
    for f in found:
        table.add_row(
            f.scope,
            f"{f.spent_to_date_usd:.6f}",
            f"{f.daily_rate_usd:.6f}",
            f"{f.projected_month_end_usd:.6f}",
            str(f.budget_usd or "-"),
            str(f.budget_hit_on or "-"),
        )
    console.print(table)


@usage.command("recommendations")
@click.option("--json", "as_json", is_flag=True)
def usage_recommendations_cmd(as_json: bool) -> None:
    """Rule-based ways to spend less, each with the saving in dollars (last 30 days)."""
    from pipeline.usage.insights import recommendations

    found = recommendations(_engine(), utc_today())
    if as_json:
        click.echo(json.dumps([r.__dict__ for r in found], indent=2, default=str))
        return
    if not found:
        click.echo("No recommendations: nothing to save that the rules can see.")
    for r in found:
        click.echo(f"${r.saving_usd:.6f}  [{r.rule}] {r.scope}: {r.advice}")


@click.group("budget")
def budget() -> None:
    """Budgets (global, per business, user or operation; per day, week or month) with warning thresholds."""


def _amount(value: str) -> Decimal:
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise click.BadParameter(f"{value!r} is not a number", param_hint="--amount") from None
    if amount <= 0:
        raise click.BadParameter("must be greater than 0", param_hint="--amount")
    return amount


def _thresholds(value: str | None) -> list[int] | None:
    if value is None:
        return None
    try:
        found = sorted(int(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter(
            f"{value!r}: use whole percentages like 50,80,95", param_hint="--thresholds"
        ) from None
    if not found or any(not 0 < t <= 100 for t in found):
        raise click.BadParameter("each threshold must be between 1 and 100", param_hint="--thresholds")
    return found


@budget.command("create")
@click.option("--scope", type=click.Choice(_SCOPES), required=True)
@click.option("--id", "scope_id", default="", help="Business id, user name or operation id (not for global).")
@click.option("--period", type=click.Choice(["day", "week", "month"]), required=True)
@click.option("--amount", required=True, help="USD.")
@click.option("--thresholds", default="50,80,95", show_default=True, help="Warning thresholds in percent.")
@click.option("--by", "actor", default=getpass.getuser, show_default="current user")
def budget_create(scope: str, scope_id: str, period: str, amount: str, thresholds: str, actor: str) -> None:
    """Create a budget."""
    import sqlalchemy as sa

    from pipeline.db import budgets
    from pipeline.db import usage_reports as sql

    if (scope == "global") != (scope_id == ""):
        raise click.BadParameter(
            "give --id for business, user and operation budgets, and not for global", param_hint="--id"
        )
    engine = _engine()
    with engine.begin() as conn:
        if scope == "business" and not (
            budgets.is_numeric_id(scope_id) and sql.business_exists(conn, int(scope_id))
        ):
            raise click.ClickException(
                f"Unknown business {scope_id}; `pipeline status` lists the businesses."
            )
        if scope == "operation" and not (
            budgets.is_numeric_id(scope_id) and sql.operation_exists(conn, int(scope_id))
        ):
            raise click.ClickException(
                f"Unknown operation {scope_id}; `pipeline column-batch list` lists the operations."
            )
        try:
            budget_id = budgets.create(
                conn, scope, scope_id, period, _amount(amount), _thresholds(thresholds), actor
            )
        except sa.exc.IntegrityError:
            raise click.ClickException(
                f"A {period} budget for {scope} {scope_id} exists; use `budget update`."
            ) from None
    click.echo(f"Budget {budget_id} created.")


@budget.command("list")
@click.option("--json", "as_json", is_flag=True)
def budget_list(as_json: bool) -> None:
    """Budgets with this period's spend."""
    from pipeline.db import budgets
    from pipeline.usage.evaluation import budget_level
    from pipeline.usage.periods import period_containing

    rows = []
    with _engine().connect() as conn:
        for b in budgets.list_budgets(conn):
            period = period_containing(b.period, utc_today())
            spent = budgets.spent(conn, b, period.start, period.end)
            level = budget_level(spent, b.amount_usd, b.thresholds_pct)
            rows.append(
                {
                    "id": b.id,
                    "scope": b.scope,
                    "period": b.period,
                    "amount_usd": str(b.amount_usd),
                    "spent_usd": str(spent),
                    "thresholds_pct": list(b.thresholds_pct),
                    "status": level[0] if level else "ok",
                }
            )
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table("id", "scope", "period", "amount $", "spent $", "thresholds", "status")
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["scope"],
            r["period"],
            r["amount_usd"],
            r["spent_usd"],
            ",".join(map(str, r["thresholds_pct"])),
            r["status"],
        )
    console.print(table)


@budget.command("update")
@click.argument("budget_id", type=int)
@click.option("--amount", default=None)
@click.option("--thresholds", default=None)
def budget_update(budget_id: int, amount: str | None, thresholds: str | None) -> None:
    """Change a budget's amount or thresholds."""
    from pipeline.db import budgets

    with _engine().begin() as conn:
        if not budgets.update(conn, budget_id, _amount(amount) if amount else None, _thresholds(thresholds)):
            raise click.ClickException(f"No budget {budget_id}; `pipeline budget list` shows them.")
    click.echo(f"Budget {budget_id} updated.")


@budget.command("delete")
@click.argument("budget_id", type=int)
def budget_delete(budget_id: int) -> None:
    """Delete a budget."""
    from pipeline.db import budgets

    with _engine().begin() as conn:
        if not budgets.delete(conn, budget_id):
            raise click.ClickException(f"No budget {budget_id}; `pipeline budget list` shows them.")
    click.echo(f"Budget {budget_id} deleted.")
