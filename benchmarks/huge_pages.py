"""Huge pages for the benchmark's embedded server, where the machine lets us reserve them.

With 2GB of shared_buffers every PostgreSQL backend takes a page fault per 4 KB page of shared memory it
touches first, and a change-driven sync's backends are new in every Dagster run. Backed by 2 MB pages,
PostgreSQL used 4.0 instead of 4.5-5.3 CPU-seconds in two alternating pairs of 100k incremental runs
(a gain smaller than the machine's spread over more runs). PostgreSQL asks for them by default
(`huge_pages = try`), but the kernel has none reserved unless an administrator sets `vm.nr_hugepages`,
as one would for a server with this much shared memory. The benchmark does it
for its own server when it may (root, a writable sysctl) and gives the old value back afterwards; the
reference loads run on the same server, so both sides of every ratio get the same pages.
BENCH_HUGE_PAGES=0 turns it off.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

NR_HUGEPAGES = Path("/proc/sys/vm/nr_hugepages")
PAGE_MB = 2
# Beyond shared_buffers PostgreSQL's shared memory holds its lock tables, WAL buffers and the like:
# 47 pages (about 5%) with 2GB of buffers here; 10% leaves a margin, since with too few PostgreSQL
# quietly starts without them.
OVERHEAD = 1.1


def pages_for(shared_buffers_mb: int) -> int:
    return math.ceil(shared_buffers_mb * OVERHEAD / PAGE_MB)


@contextlib.contextmanager
def reserved(shared_buffers_mb: int) -> Iterator[None]:
    """Reserve enough huge pages for a server about to start, where allowed and not turned off; restore
    the previous reservation at the end. Whether the server got them is `status`'s to say: the kernel
    reserves what it finds free, and PostgreSQL starts without them if that is too few."""
    if os.environ.get("BENCH_HUGE_PAGES") == "0" or not os.access(NR_HUGEPAGES, os.W_OK):
        yield
        return
    before = int(NR_HUGEPAGES.read_text())
    # A container may show the file writable and refuse the write.
    with contextlib.suppress(OSError):
        NR_HUGEPAGES.write_text(str(max(before, pages_for(shared_buffers_mb))))
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            NR_HUGEPAGES.write_text(str(before))  # pages the running server holds are freed when it stops


def status(server_url: str) -> str:
    """Whether the server's shared memory is in huge pages: "on" or "off" (PostgreSQL 17+)."""
    engine = sa.create_engine(server_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return str(conn.execute(sa.text("SHOW huge_pages_status")).scalar_one())
    except sa.exc.DBAPIError:
        return "unknown"
    finally:
        engine.dispose()
