"""`pipeline column-batch ...` and `pipeline emergency-stop ...`."""

from __future__ import annotations

import functools
import getpass
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

console = Console()


def _engine():
    from pipeline.db.engine import get_engine

    return get_engine()


def _friendly(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the domain's errors into clear CLI errors (exit 1) instead of tracebacks."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from pipeline.column_batch.service import OperationStateError
        from pipeline.column_batch.targets import TargetNotAllowedError
        from pipeline.db.column_batch import UnknownOperationError
        from pipeline.lib.pricing import UnknownModelPriceError

        try:
            return fn(*args, **kwargs)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'spec'}: {e['msg'].removeprefix('Value error, ')}"
                for e in exc.errors()
            )
            raise click.ClickException(problems) from None
        except (
            OperationStateError,
            TargetNotAllowedError,
            UnknownOperationError,
            UnknownModelPriceError,
            ValueError,
        ) as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper


def spec_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--table", "target_table", required=True, help="Target table (allowlisted)."),
        click.option("--column", "target_column", required=True, help="Target column (allowlisted)."),
        click.option(
            "--template", "prompt_template", required=True, help="Prompt with {column} placeholders."
        ),
        click.option(
            "--filter", "filters", multiple=True, help="column=value (repeatable; value a,b for any of)."
        ),
        click.option("--model", default="gpt-4o-mini", show_default=True),
        click.option("--temperature", type=float, default=0.2, show_default=True),
        click.option("--max-output-tokens", type=int, default=200, show_default=True),
        click.option("--batch-size", type=int, default=50, show_default=True),
        click.option("--rows-per-request", type=int, default=10, show_default=True),
        click.option("--concurrency", "max_concurrent_batches", type=int, default=2, show_default=True),
        click.option("--regenerate", "regenerate_existing", is_flag=True, help="Rewrite filled values too."),
        click.option("--no-pause-on-error", "pause_on_error", is_flag=True, flag_value=False, default=True),
        click.option("--max-cost", "max_total_cost_usd", type=str, default="5", show_default=True),
        click.option("--max-cost-per-row", "max_cost_per_row_usd", type=str, default=None),
        click.option("--warning-pct", "warning_threshold_pct", type=float, default=80, show_default=True),
        click.option("--max-error-rate", type=float, default=0.2, show_default=True),
        click.option("--by", "requested_by", default=getpass.getuser, show_default="current user"),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _spec(fields: dict[str, Any]):
    from pipeline.column_batch.spec import OperationSpec

    filters = fields.pop("filters")
    row_filter: dict[str, Any] = {}
    for item in filters:
        column, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r} is not column=value", param_hint="--filter")
        row_filter[column] = value.split(",") if "," in value else value
    return OperationSpec.model_validate({**fields, "row_filter": row_filter})


def _print_estimate(result) -> None:
    est = result.estimate
    table = Table("estimate", "value", title=f"Operation {result.operation_id}")
    for key, value in est.as_json().items():
        table.add_row(key, str(value))
    console.print(table)
    for v in result.violations:
        click.echo(f"over limit: {v.message}")


@click.group("column-batch")
def column_batch() -> None:
    """LLM generation over a table column, under budgets and rate limits."""


@column_batch.command("estimate")
@spec_options
@_friendly
def estimate_cmd(**fields: Any) -> None:
    """Create an operation and price it; nothing is generated."""
    from pipeline.column_batch import service

    engine = _engine()
    op_id = service.create(engine, _spec(fields))
    result = service.estimate(engine, op_id)
    _print_estimate(result)
    if result.violations:
        raise click.ClickException(
            f"Operation {op_id} would break {len(result.violations)} limit(s); not started."
        )
    click.echo(f"Start it with: pipeline column-batch start {op_id}")


@column_batch.command("start")
@click.argument("op_id", type=int)
@_friendly
def start_cmd(op_id: int) -> None:
    """Queue operation OP_ID from `estimate` (re-estimated first); the column_batch_sensor launches it."""
    from pipeline.column_batch import service

    engine = _engine()
    result = service.estimate(engine, op_id)
    _print_estimate(result)
    if result.violations:
        raise click.ClickException(
            f"Operation {op_id} would break {len(result.violations)} limit(s); not started."
        )
    service.queue(engine, op_id)
    click.echo(
        f"Operation {op_id} queued; the column_batch_sensor launches it (watch: pipeline column-batch "
        f"show {op_id} --watch)."
    )


@column_batch.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@_friendly
def list_cmd(as_json: bool) -> None:
    """Recent operations."""
    from pipeline.db import column_batch as store

    with _engine().connect() as conn:
        ops = store.list_operations(conn)
    if as_json:
        click.echo(json.dumps(ops, indent=2, default=str))
        return
    table = Table("id", "target", "state", "done/total", "spent $", "estimated $", "by", "reason")
    for o in ops:
        table.add_row(
            str(o["id"]),
            o["target"],
            o["state"],
            f"{o['done']}/{o['total_rows']}",
            f"{o['spent_usd']:.6f}",
            str(o["estimated_usd"] or "-"),
            o["requested_by"],
            (o["state_reason"] or "")[:60],
        )
    console.print(table)


@column_batch.command("show")
@click.argument("op_id", type=int)
@click.option("--watch", is_flag=True, help="Follow progress until the operation stops.")
@_friendly
def show_cmd(op_id: int, watch: bool) -> None:
    """Progress of one operation."""
    from pipeline.db import column_batch as store

    engine = _engine()

    def snapshot() -> tuple[Any, dict[str, Any]]:
        with engine.connect() as conn:
            return store.load_operation(conn, op_id), store.progress(conn, op_id)

    op, p = snapshot()
    if not watch:
        click.echo(
            json.dumps(
                {"id": op_id, "state": op.state, "reason": op.state_reason, **p, "estimate": op.estimate},
                indent=2,
                default=str,
            )
        )
        return
    columns = [
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TextColumn("{task.fields[status]}"),
        TimeRemainingColumn(),
    ]
    with Progress(*columns, console=console) as progress:
        task = progress.add_task(f"operation {op_id}", total=p["total"] or 1, status="")
        while True:
            op, p = snapshot()
            progress.update(
                task,
                completed=p["done"] + p["failed"] + p["skipped"],
                status=f"{op.state} ${p['cost_usd']:.6f} failed={p['failed']}",
            )
            if op.state not in ("queued", "running"):
                break
            time.sleep(1)
    click.echo(f"{op.state}: {op.state_reason or ''}")


@column_batch.command("pause")
@click.argument("op_id", type=int)
@_friendly
def pause_cmd(op_id: int) -> None:
    """Pause; takes effect before the next request."""
    from pipeline.column_batch import service

    service.pause(_engine(), op_id)
    click.echo(f"Operation {op_id} paused.")


@column_batch.command("resume")
@click.argument("op_id", type=int)
@_friendly
def resume_cmd(op_id: int) -> None:
    """Resume a paused operation where it stopped."""
    from pipeline.column_batch import service

    service.resume(_engine(), op_id)
    click.echo(f"Operation {op_id} queued to resume.")


@column_batch.command("cancel")
@click.argument("op_id", type=int)
@click.option("--rollback", is_flag=True, help="Restore the previous values of generated rows.")
@_friendly
def cancel_cmd(op_id: int, rollback: bool) -> None:
    """Cancel (stops before the next request); optionally roll back."""
    from pipeline.column_batch import service

    restored = service.cancel(_engine(), op_id, rollback)
    click.echo(f"Operation {op_id} cancelled" + (f"; {restored} rows restored." if rollback else "."))


@column_batch.command("report")
@click.argument("op_id", type=int)
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json", "xlsx"]), default="table")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="File to write (csv/json/xlsx).")
@_friendly
def report_cmd(op_id: int, fmt: str, out: Path | None) -> None:
    """Tokens, cost, estimate vs actual, latency, errors and quality of one operation."""
    from pipeline.column_batch.report import build_report, export

    summary, rows = build_report(_engine(), op_id)
    if fmt == "table":
        table = Table("metric", "value", title=f"Operation {op_id}")
        for k, v in summary.items():
            table.add_row(k, str(v))
        console.print(table)
        return
    path = export(summary, rows, fmt, out or Path(f"exports/operation-{op_id}.{fmt}"))
    click.echo(f"Wrote {path}")


@click.group("emergency-stop")
def emergency_stop_cmd() -> None:
    """Global switch that halts every provider call and refuses new launches."""


def _switch(active: bool, reason: str, actor: str) -> None:
    from pipeline.db import emergency_stop

    with _engine().begin() as conn:
        changed = emergency_stop.switch(conn, active, actor, reason)
    state = "ON" if active else "off"
    click.echo(
        f"Emergency stop {state}" + ("" if changed else " (it already was)") + f" by {actor}: {reason}"
    )


@emergency_stop_cmd.command("on")
@click.option("--reason", required=True, help="Why (audited).")
@click.option("--by", "actor", default=getpass.getuser, show_default="current user")
def stop_on(reason: str, actor: str) -> None:
    """Halt all column-batch and embedding API calls now."""
    _switch(True, reason, actor)


@emergency_stop_cmd.command("off")
@click.option("--reason", required=True, help="Why (audited).")
@click.option("--by", "actor", default=getpass.getuser, show_default="current user")
def stop_off(reason: str, actor: str) -> None:
    """Allow API calls and launches again."""
    _switch(False, reason, actor)


@emergency_stop_cmd.command("status")
def stop_status() -> None:
    """Current state and the audit trail."""
    from pipeline.db import emergency_stop

    with _engine().connect() as conn:
        state = emergency_stop.read(conn)
        trail = emergency_stop.audit(conn)
    click.echo(
        f"Emergency stop is {'ON' if state.active else 'off'}"
        + (
            f" (since {state.changed_at:%Y-%m-%d %H:%M:%S %Z} by {state.changed_by}: {state.reason})"
            if state.changed_by
            else ""
        )
    )
    for entry in trail:
        click.echo(
            f"  {entry['at']:%Y-%m-%d %H:%M:%S} {'on ' if entry['active'] else 'off'} "
            f"{entry['actor']}: {entry['reason']}"
        )
