"""The real Dagster daemon, as the README starts it: an edit made in SQL gets a new vector within
seconds, with nobody clicking anything."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from pipeline.lib.chunking import content_hash
from pipeline.lib.process_group import stop_group
from tests.helpers import add_business

ROOT = Path(__file__).resolve().parent.parent

_INSTANCE_YAML = """
run_coordinator:
  module: dagster._core.run_coordinator
  class: QueuedRunCoordinator
  config:
    dequeue_interval_seconds: 1
telemetry:
  enabled: false
"""


def _wait_for(predicate, timeout: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(0.25)
    raise AssertionError(f"not done within {timeout}s")


@pytest.fixture
def daemon(engine, tmp_path):
    (tmp_path / "dagster.yaml").write_text(_INSTANCE_YAML)
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "SENSOR_INTERVAL_SECONDS": "1"}
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("dagster-daemon")), "run", "-w", "workspace.yaml"],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    yield proc
    stop_group(proc, term_grace=20)  # the daemon and the code server it spawned


def test_sql_edit_is_embedded_by_the_running_daemon(engine, daemon):
    b = add_business(engine, "live", menu=1, policies=0, faqs=0)

    def current_hash() -> str | None:
        with engine.connect() as conn:
            return conn.execute(
                sa.text("SELECT content_hash FROM content_embeddings WHERE business_id = :b"), {"b": b}
            ).scalar()

    _wait_for(lambda: current_hash() is not None, timeout=150)  # includes daemon start-up
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE menu_items SET description = 'Wood-fired, with nduja and honey'"))
        text = conn.execute(sa.text("SELECT embedding_text(m) FROM menu_items m")).scalar()
    took = _wait_for(lambda: current_hash() == content_hash(text), timeout=60)
    print(f"edit -> new vector in {took:.1f}s")
