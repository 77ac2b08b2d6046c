"""Health, business statistics, and the production instance config running a job on PostgreSQL."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import dagster as dg
import sqlalchemy as sa
from click.testing import CliRunner

from pipeline.assets.health import system_health
from pipeline.cli.main import cli
from pipeline.definitions import defs
from pipeline.health.report import health_report
from tests.column_batch_helpers import menu_without_descriptions
from tests.helpers import SensorDriver, add_business

ROOT = Path(__file__).resolve().parent.parent


def test_health_reports_components_and_turns_critical_with_reasons(engine, instance):
    add_business(engine, "healthy", menu=2, policies=0, faqs=0)
    SensorDriver(instance).sync()
    report = health_report(engine, instance=instance)
    assert set(report["components"]) == {
        "database",
        "openai",
        "embedding_sync",
        "column_batch",
        "emergency_stop",
        "dagster_daemon",
        "host",
    }
    assert report["components"]["embedding_sync"]["queue_size"] == 0
    assert report["metrics"]["processing_rate_per_hour"] == 2
    assert report["components"]["dagster_daemon"]["status"] == "critical"  # no daemon in the test instance
    assert "dagster_daemon is critical" in report["reasons"]

    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE emergency_stop SET active = true, reason = 'drill'"))
        conn.execute(
            sa.text(
                "INSERT INTO alerts (kind, scope, period_key, level, severity, message)"
                " VALUES ('budget', 'global', 'day', 'exceeded', 'critical', 'global day budget over')"
            )
        )
    report = health_report(engine)
    assert report["overall"] == "critical"
    assert (
        "emergency_stop is critical" in report["reasons"]
        and "alert: global day budget over" in report["reasons"]
    )
    cli_report = CliRunner().invoke(cli, ["health", "--json"])
    assert cli_report.exit_code == 2 and json.loads(cli_report.output)["overall"] == "critical"


def test_health_asset_records_a_check(engine, instance):
    result = dg.materialize([system_health], instance=instance, resources=defs.resources)
    meta = result.asset_materializations_for_node("system_health")[0].metadata
    assert meta["overall"].value in ("warning", "critical") and meta["database_status"].value == "healthy"
    check = result.get_asset_check_evaluations()[0]
    assert check.check_name == "system_healthy" and not check.passed  # no daemon heartbeat in tests


def test_stats_per_business(engine, instance):
    b = add_business(engine, "stats", menu=3, policies=1, faqs=0)
    SensorDriver(instance).sync()
    out = json.loads(CliRunner().invoke(cli, ["stats", "--business", str(b), "--json"]).output)
    assert out[0]["content"] == {
        "menu_item": {"rows": 3, "embedded": 3, "stale": 0, "failed": 0},
        "policy": {"rows": 1, "embedded": 1, "stale": 0, "failed": 0},
    }
    assert out[0]["last_sync"] and float(out[0]["cost_to_date_usd"]) > 0
    assert "Unknown business 999" in CliRunner().invoke(cli, ["stats", "--business", "999"]).output


_RUN_UNDER_DEPLOY_CONFIG = """
import json
import dagster as dg
from pipeline.definitions import defs

with dg.DagsterInstance.get() as inst:
    job = defs.get_job_def("create_column_batch_operation_job")
    result = job.execute_in_process(instance=inst, run_config={"ops": {"create_column_batch_operation": {
        "config": {"requested_by": "deploy-test", "start": False}}}})
    print(json.dumps({
        "run_storage": type(inst.run_storage).__name__,
        "event_log_storage": type(inst.event_log_storage).__name__,
        "run_coordinator": type(inst.run_coordinator).__name__,
        "pool_limit": inst.get_concurrency_config().pool_config.default_pool_limit,
        "success": result.success,
        "stored_status": inst.get_run_by_id(result.run_id).status.value,
    }))
"""


def test_production_instance_config_runs_a_job_on_postgres(engine, tmp_path, database_url):
    # A process of its own, as in production: DAGSTER_HOME with deploy/dagster.yaml, Dagster's storage in
    # a PostgreSQL database of its own.
    name = f"dagster_{uuid.uuid4().hex[:8]}"
    server = sa.make_url(database_url)
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    pg_url = server.set(database=name, drivername="postgresql+psycopg2").render_as_string(hide_password=False)
    menu_without_descriptions(engine, 2, business="deployed")
    try:
        out = subprocess.run(
            [sys.executable, "-c", _RUN_UNDER_DEPLOY_CONFIG],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "DAGSTER_HOME": str(home), "DAGSTER_PG_URL": pg_url},
        )
        assert out.returncode == 0, out.stderr[-3000:]
        facts = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    assert facts == {
        "run_storage": "PooledPostgresRunStorage",
        "event_log_storage": "PooledPostgresEventLogStorage",
        "run_coordinator": "QueuedRunCoordinator",
        "pool_limit": 4,
        "success": True,
        "stored_status": "SUCCESS",
    }


def test_health_probe_makes_one_live_call(engine, standin):
    out = CliRunner().invoke(cli, ["health", "--json", "--probe"])
    report = json.loads(out.output)
    assert report["components"]["openai"]["probe"] == "ok" and standin.count("/embeddings") == 1
    standin.inject("server_error", times=5)
    report = json.loads(CliRunner().invoke(cli, ["health", "--json", "--probe"]).output)
    assert report["components"]["openai"]["probe"].startswith("failed") and report["overall"] == "critical"
