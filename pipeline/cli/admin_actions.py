"""`pipeline admin ...`: the same actions as the Dagster admin jobs."""

from __future__ import annotations

import getpass
import json

import click

_BY = click.option("--by", "actor", default=getpass.getuser, show_default="current user", help="Recorded.")


def _engine():
    from pipeline.db.engine import get_engine

    return get_engine()


def _run(fn, *args) -> None:
    from pipeline.admin.actions import AdminInputError

    try:
        result = fn(*args)
    except AdminInputError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(result, indent=2, default=str))


@click.group("admin")
def admin() -> None:
    """Audited admin actions (also launchable as Dagster jobs)."""


@admin.command("retry-failed")
@click.option("--business", "business_id", type=int, default=None)
@_BY
def retry_failed_cmd(business_id: int | None, actor: str) -> None:
    """Make failed rows due now; the change sensor re-embeds them."""
    from pipeline.admin import actions

    _run(actions.retry_failed, _engine(), actor, business_id)


@admin.command("regenerate")
@click.option("--business", "business_id", type=int, required=True)
@click.option("--model", default=None)
@click.option("--dimensions", type=int, default=None)
@_BY
def regenerate_cmd(business_id: int, model: str | None, dimensions: int | None, actor: str) -> None:
    """Re-embed a business in a shadow set and swap it in atomically."""
    from pipeline.admin import actions
    from pipeline.resources.openai import OpenAIResource

    _run(
        actions.regenerate,
        _engine(),
        actor,
        business_id,
        OpenAIResource(embedding_model=model, embedding_dimensions=dimensions),
    )


@admin.command("cleanup")
@click.option("--days", type=int, default=90, show_default=True, help="Keep everything newer than this.")
@_BY
def cleanup_cmd(days: int, actor: str) -> None:
    """Delete old usage rows, alerts, finished operations, audit entries; and orphaned vectors."""
    from pipeline.admin import actions

    _run(actions.cleanup, _engine(), actor, days)


@admin.command("reconcile")
@_BY
def reconcile_cmd(actor: str) -> None:
    """Queue syncs for every partition whose vectors drifted from its rows."""
    from pipeline.admin import actions
    from pipeline.resources.openai import OpenAIResource

    _run(actions.reconcile, _engine(), actor, OpenAIResource())


@admin.command("history")
def history_cmd() -> None:
    """Recent admin actions: who, when, what, result."""
    from pipeline.db import admin as sql

    with _engine().connect() as conn:
        click.echo(json.dumps(sql.history(conn), indent=2, default=str))
