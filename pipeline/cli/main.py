"""`pipeline` command line: database, demo data, search and status."""

from __future__ import annotations

import json
import sys

import click
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from pipeline.cli.admin_actions import admin
from pipeline.cli.column_batch import column_batch, emergency_stop_cmd
from pipeline.cli.health import health_cmd, stats_cmd
from pipeline.cli.usage import budget, usage

console = Console()


@click.group()
def cli() -> None:
    """Embedding sync and LLM cost control for a multi-tenant SaaS app (Dagster project)."""


@cli.group()
def db() -> None:
    """The PostgreSQL database (embedded unless DATABASE_URL is set)."""


@db.command("url")
@click.option("--database", default=None, help="Print the URL of another database on the same server.")
@click.option("--show-password", is_flag=True, help="Print the password too (never use in logs).")
@click.option(
    "--driver", default=None, help="SQLAlchemy driver to name in the URL (e.g. psycopg2), or 'none' for psql."
)
def db_url(database: str | None, show_password: bool, driver: str | None) -> None:
    """Print the URL of the database in use."""
    import sqlalchemy as sa

    from pipeline.db.engine import database_url, redact

    url = sa.make_url(database_url())
    if database:
        url = url.set(database=database)
    if driver:
        url = url.set(drivername="postgresql" if driver == "none" else f"postgresql+{driver}")
    rendered = url.render_as_string(hide_password=False)
    click.echo(rendered if show_password else redact(rendered))


@db.command("migrate")
def db_migrate() -> None:
    """Apply pending schema migrations (idempotent)."""
    from pipeline.db.engine import get_engine
    from pipeline.db.migrate import migrate
    from pipeline.db.vectors import ensure_vector_index
    from pipeline.resources.openai import OpenAIResource

    engine = get_engine()
    applied = migrate(engine)
    ensure_vector_index(engine, OpenAIResource().embedding_target()[1])
    click.echo(f"Applied migrations: {', '.join(applied)}" if applied else "Schema is up to date.")


@db.command("ensure-database")
@click.argument("name")
def db_ensure_database(name: str) -> None:
    """Create database NAME on the same server if missing (used for Dagster's own storage)."""
    import sqlalchemy as sa

    from pipeline.db.engine import get_engine

    if not name.replace("_", "").isalnum():
        raise click.BadParameter("use letters, digits and underscores only", param_hint="NAME")
    with get_engine().connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        exists = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
        if not exists:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    click.echo(f"Database {name} is ready.")


@cli.group()
def demo() -> None:
    """Demo data."""


@demo.command("load")
def demo_load() -> None:
    """Load demo restaurants (idempotent). The sensors embed them without further action."""
    from pipeline.db.engine import get_engine
    from pipeline.demo.catalog import BUSINESSES
    from pipeline.demo.load import load_demo

    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("Loading demo businesses", total=len(BUSINESSES))
        counts = load_demo(get_engine(), on_business=lambda _: progress.advance(task))
    click.echo("Loaded: " + ", ".join(f"{v} {k}" for k, v in counts.items()))


@cli.command("search")
@click.option(
    "--business", "business_id", type=int, required=True, help="Business id (see `pipeline status`)."
)
@click.option("-k", default=5, show_default=True, help="How many results.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.argument("query")
def search_cmd(business_id: int, query: str, k: int, as_json: bool) -> None:
    """Semantic search over one business's menu items, policies and FAQs."""
    from pipeline.search import SearchInputError, search

    try:
        hits = search(business_id, query, k)
    except SearchInputError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps([h.__dict__ for h in hits], indent=2))
        return
    table = Table("score", "type", "id", "text")
    for h in hits:
        table.add_row(f"{h.score:.3f}", h.content_type, str(h.content_id), h.text[:100])
    console.print(table)


@cli.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
def status_cmd(as_json: bool) -> None:
    """Queue backlog, oldest pending change, and per-business coverage."""
    from pipeline.db import change_queue
    from pipeline.db.coverage import coverage
    from pipeline.db.engine import get_engine
    from pipeline.resources.openai import OpenAIResource

    model, dims = OpenAIResource().embedding_target()
    with get_engine().connect() as conn:
        pending, oldest = change_queue.backlog(conn)
        rows = coverage(conn, model, dims)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "model": model,
                    "dimensions": dims,
                    "queue_backlog": pending,
                    "oldest_pending_seconds": oldest,
                    "coverage": [{**c.__dict__, "stale": c.stale} for c in rows],
                },
                indent=2,
            )
        )
        return
    age = f"{oldest:.0f}s" if oldest is not None else "-"
    console.print(f"Model {model}/{dims}. Queue backlog: {pending} changes, oldest pending: {age}")
    table = Table("business", "type", "rows", "embedded", "stale", "failed", "empty", "orphans")
    for c in rows:
        table.add_row(
            str(c.business_id),
            c.content_type,
            str(c.rows),
            str(c.current),
            str(c.stale),
            str(c.failed),
            str(c.empty),
            str(c.orphans),
        )
    console.print(table)


cli.add_command(column_batch)
cli.add_command(emergency_stop_cmd)
cli.add_command(usage)
cli.add_command(budget)
cli.add_command(health_cmd)
cli.add_command(admin)
cli.add_command(stats_cmd)


def main() -> None:
    try:
        cli()
    except KeyboardInterrupt:
        sys.exit(130)
