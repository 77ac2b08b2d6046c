"""Stopping a process group (`dagster dev` and everything it spawned) and telling when it is gone.

Used by the benchmarks and tests that start Dagster as `scripts/start.sh` does."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path


def group_alive(pgid: int) -> bool:
    """Is any process of the group still running? Zombies don't count: `kill(-pgid, 0)` would, and one
    whose parent died waits for init, which may be slow to reap it in a container."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # exited meanwhile
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            return True
    return False


def stop_group(proc: subprocess.Popen[bytes], term_grace: float = 30.0) -> None:
    """SIGTERM the group `proc` leads; SIGKILL whatever is left after `term_grace` seconds. Returns once
    no process of the group is left."""
    for sig, grace in ((signal.SIGTERM, term_grace), (signal.SIGKILL, 10.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            proc.poll()  # reap the leader itself; the group lives on while any of its children does
            if not group_alive(proc.pid):
                return
            time.sleep(0.2)


def free_port() -> int:
    """A loopback port nothing listens on now, for a `dagster dev` about to start."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
