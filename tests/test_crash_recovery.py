"""A run killed mid-way, then re-run: nothing lost, nothing duplicated. A database restart mid-run is
survived by the step's retry policy."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import sqlalchemy as sa

from tests.helpers import SensorDriver, add_business, ledger, vectors

_RUN_ONE_PARTITION = """
import sys
import dagster as dg
from pipeline.assets.embeddings import embedding_assets
from pipeline.definitions import defs
with dg.instance_for_test() as inst:
    inst.add_dynamic_partitions("businesses", [sys.argv[1]])
    dg.materialize([embedding_assets[0]], partition_key=sys.argv[1], instance=inst, resources=defs.resources)
"""


def test_killed_run_then_rerun_loses_and_duplicates_nothing(engine, instance, standin, monkeypatch):
    b = add_business(engine, "crashy", menu=10, policies=0, faqs=0)
    env = {**os.environ, "EMBEDDING_MAX_INPUTS": "2", "OPENAI_MAX_CONCURRENCY": "1"}
    standin.latency = 0.5
    proc = subprocess.Popen([sys.executable, "-c", _RUN_ONE_PARTITION, str(b)], env=env)
    deadline = time.monotonic() + 120
    while len(vectors(engine)) < 4:
        assert proc.poll() is None, "the run finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    billed_before_kill = standin.count("/embeddings")
    written = len(vectors(engine))
    assert 4 <= written < 10

    standin.latency = 0
    monkeypatch.setenv("EMBEDDING_MAX_INPUTS", "2")
    from pipeline.settings import get_settings

    get_settings.cache_clear()
    SensorDriver(instance).sync()

    found = vectors(engine)
    assert len(found) == 10 and all(len(chunks) == 1 for chunks in found.values())
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM content_embeddings")).scalar() == 10
        assert conn.execute(sa.text("SELECT count(*) FROM content_changes")).scalar() == 0
    # Only the rows without vectors were sent again: at most the one request in flight is paid twice.
    resent = standin.count("/embeddings") - billed_before_kill
    assert resent == (10 - written + 1) // 2
    assert sum(r.input_count for r in ledger(engine) if r.status == "ok") <= 10 + 2
    get_settings.cache_clear()


@pytest.mark.skipif(
    "DATABASE_URL_IS_EXTERNAL" in os.environ, reason="needs the embedded server to restart it"
)
def test_database_restart_mid_run_is_survived(engine, instance, standin, monkeypatch):
    from pipeline.db.embedded import ensure_embedded_server, stop_embedded_server
    from pipeline.settings import get_settings

    monkeypatch.setenv("EMBEDDING_MAX_INPUTS", "2")
    monkeypatch.setenv("OPENAI_MAX_CONCURRENCY", "1")
    get_settings.cache_clear()
    data_dir = get_settings().data_dir
    b = add_business(engine, "restarty", menu=8, policies=0, faqs=0)
    driver = SensorDriver(instance)
    request = driver.tick().run_requests[0]
    standin.latency = 0.4

    def restart_when_busy() -> None:
        while standin.count("/embeddings", status=200) < 1:
            time.sleep(0.05)
        stop_embedded_server(data_dir)
        time.sleep(1.0)
        ensure_embedded_server(data_dir)

    restarter = threading.Thread(target=restart_when_busy)
    restarter.start()
    result = driver.execute(request, raise_on_error=False)
    restarter.join()
    standin.latency = 0

    assert result.success, "the step's retry policy should carry the run over the restart"
    assert any(e.event_type_value == "STEP_RESTARTED" for e in result.all_events)
    assert len(vectors(engine)) == 8
    assert b
    get_settings.cache_clear()
