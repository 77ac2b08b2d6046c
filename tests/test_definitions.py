"""The code location loads the way `dagster dev` and `dagster-webserver` load it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dagster as dg

ROOT = Path(__file__).resolve().parent.parent


def test_definitions_load_with_the_expected_shape():
    from pipeline.definitions import defs

    dg.Definitions.validate_loadable(defs)
    repo = defs.get_repository_def()
    keys = {k.to_user_string() for k in repo.asset_graph.get_all_asset_keys()}
    assert keys == {
        "menu_items",
        "policies",
        "faqs",
        "menu_item_embeddings",
        "policy_embeddings",
        "faq_embeddings",
        "column_batch_estimate",
        "column_batch_generation",
        "usage_ledger",
        "usage_daily",
        "usage_report",
        "system_health",
    }
    checks = {k.name for k in repo.asset_graph.asset_check_keys}
    assert checks == {
        "vectors_current",
        "no_orphan_vectors",
        "single_model",
        "estimate_within_limits",
        "cost_within_budget",
        "cost_per_row",
        "error_rate",
        "output_quality",
        "budgets",
        "latency",
        "cost_spike",
        "quota",
        "system_healthy",
    }
    for name in ("content_change_sensor", "column_batch_sensor", "emergency_stop_sensor", "alert_sensor"):
        assert defs.get_sensor_def(name).default_status == dg.DefaultSensorStatus.RUNNING
    for name in (
        "embedding_reconciliation",
        "usage_reports_schedule",
        "system_health_schedule",
        "cleanup_schedule",
    ):
        assert defs.get_schedule_def(name).default_status == dg.DefaultScheduleStatus.RUNNING
    assert {
        "column_batch_job",
        "create_column_batch_operation_job",
        "retry_failed_job",
        "regenerate_business_job",
        "cleanup_job",
        "reconcile_job",
    } <= {j.name for j in repo.get_all_jobs()}


def test_workspace_yaml_validates_with_the_dagster_cli():
    result = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-2000:]
