"""The keyless first run and the command line."""

from __future__ import annotations

import json

import sqlalchemy as sa
from click.testing import CliRunner

from pipeline.cli.main import cli
from tests.helpers import SensorDriver, add_business, ledger


def test_without_a_key_the_offline_standin_serves_and_is_labelled(engine, instance, standin, monkeypatch):
    from pipeline.settings import get_settings

    monkeypatch.delenv("OPENAI_API_KEY")
    get_settings.cache_clear()
    try:
        add_business(engine, "keyless", menu=2, policies=0, faqs=0)
        results = SensorDriver(instance).sync()
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    meta = results[0].get_asset_materialization_events()[0].materialization.metadata
    assert meta["provider"].value == "offline-standin" and meta["rows_embedded"].value == 2
    assert {r.provider for r in ledger(engine)} == {"offline-standin"}
    assert standin.count("/embeddings") == 0  # its own in-process stand-in, not the test server
    logs = [entry.user_message for entry in instance.all_logs(results[0].run_id)]
    assert any("offline OpenAI stand-in" in m for m in logs)


def test_cli_db_url_demo_load_status_and_search(engine, instance):
    runner = CliRunner()
    url = runner.invoke(cli, ["db", "url"])
    assert url.exit_code == 0 and "pipeline_test_" in url.output

    first = runner.invoke(cli, ["demo", "load"])
    again = runner.invoke(cli, ["demo", "load"])
    assert first.exit_code == 0 and "4 businesses" in first.output
    assert "0 businesses" in again.output  # idempotent: nothing duplicated

    status = json.loads(runner.invoke(cli, ["status", "--json"]).output)
    with engine.connect() as conn:
        queued = conn.execute(sa.text("SELECT count(*) FROM content_changes")).scalar()
        rows = conn.execute(sa.text("SELECT count(*) FROM content_documents")).scalar()
    assert status["queue_backlog"] == queued > 0 and status["oldest_pending_seconds"] >= 0
    assert sum(c["rows"] for c in status["coverage"]) == rows
    assert all(c["current"] == 0 for c in status["coverage"])

    SensorDriver(instance).sync()
    status = json.loads(runner.invoke(cli, ["status", "--json"]).output)
    assert status["queue_backlog"] == 0 and all(c["stale"] == 0 for c in status["coverage"])

    hits = runner.invoke(cli, ["search", "--business", "1", "--json", "margherita pizza tomato"])
    assert hits.exit_code == 0, hits.output
    assert json.loads(hits.output)[0]["content_type"] == "menu_item"
    unknown = runner.invoke(cli, ["search", "--business", "999", "pizza"])
    assert unknown.exit_code == 1 and "Unknown business 999" in unknown.output


def test_cli_db_url_never_prints_a_password(monkeypatch):
    from pipeline.settings import get_settings

    monkeypatch.setenv("DATABASE_URL", "postgresql://app:hunter2@db.internal:5432/saas")
    get_settings.cache_clear()
    try:
        out = CliRunner().invoke(cli, ["db", "url"]).output
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert "hunter2" not in out and "db.internal:5432/saas" in out
