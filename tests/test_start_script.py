"""The README's first command, `bash scripts/start.sh`, on a data folder of its own: it serves the UI, its
sensors embed the demo data, and a TERM stops all of it even when it was started in the background."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from pipeline.lib.process_group import free_port, group_alive, stop_group

ROOT = Path(__file__).resolve().parent.parent
# Settings the other tests put in os.environ; start.sh must run as on a fresh machine.
_TEST_ONLY_PREFIXES = ("DATABASE_URL", "OPENAI_", "EMBEDDING_", "VECTOR_INDEX_", "PIPELINE_", "DAGSTER_")


def _wait_for(what: str, ready: Callable[[], bool], seconds: float, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(1)
    raise AssertionError(f"{what} within {seconds:.0f} s; start.sh's output:\n{log.read_text()[-4000:]}")


def _ui_answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _ignore_sigint() -> None:
    # What bash does to a job started with `&`: the disposition survives exec into start.sh and Dagster.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def test_start_script_serves_the_ui_embeds_the_demo_and_stops_on_term_in_the_background(tmp_path):
    from pipeline.db.embedded import ensure_embedded_server, stop_embedded_server

    data_dir, home, port = tmp_path / "data", tmp_path / "dagster_home", free_port()
    home.mkdir()
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith(_TEST_ONLY_PREFIXES)}
    env.update(PIPELINE_DATA_DIR=str(data_dir), DAGSTER_HOME=str(home), DAGSTER_PORT=str(port))
    log = tmp_path / "start.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            ["bash", "scripts/start.sh"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_ignore_sigint,
        )
    engine = None

    def ui_up() -> bool:
        assert proc.poll() is None, f"start.sh exited with {proc.returncode}:\n{log.read_text()[-4000:]}"
        return _ui_answers(port)

    def stopped() -> bool:
        return proc.poll() is not None and not group_alive(proc.pid)

    try:
        _wait_for("the Dagster UI answered", ui_up, 240, log)
        engine = sa.create_engine(ensure_embedded_server(data_dir), poolclass=sa.pool.NullPool)

        def demo_embedded() -> bool:
            with engine.connect() as conn:
                return bool(conn.execute(sa.text("SELECT count(*) FROM content_embeddings")).scalar_one())

        _wait_for("the sensors embedded the demo data", demo_embedded, 180, log)

        os.killpg(proc.pid, signal.SIGTERM)
        _wait_for("everything start.sh started stopped after TERM", stopped, 60, log)
    finally:
        stop_group(proc, term_grace=0)  # whatever TERM left running
        if engine is not None:
            engine.dispose()
        stop_embedded_server(data_dir)
