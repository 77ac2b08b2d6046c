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
    assert {
        "menu_items",
        "policies",
        "faqs",
        "menu_item_embeddings",
        "policy_embeddings",
        "faq_embeddings",
    } <= keys
    checks = {k.name for k in repo.asset_graph.asset_check_keys}
    assert checks == {"vectors_current", "no_orphan_vectors", "single_model"}
    sensor = defs.get_sensor_def("content_change_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert (
        defs.get_schedule_def("embedding_reconciliation").default_status == dg.DefaultScheduleStatus.RUNNING
    )


def test_workspace_yaml_validates_with_the_dagster_cli():
    result = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-2000:]
