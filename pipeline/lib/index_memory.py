"""How much `maintenance_work_mem` an HNSW shard build gets: about what its graph needs, not more.

The graph must fit (pgvector warns and slows down sharply when it does not), but a parallel build also
sets up that much shared memory before it starts: 16 shard builds of 10k vectors took 14 s with 1GB
each and 2.5 s with 64MB (one whole-table build: 3.5 s); at 100k, 256MB per shard built in 27 s, 1GB
in 32 s and 64MB, too small, in 41 s (README "Measured").
"""

from __future__ import annotations

import re

_UNITS = {"kB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}
MIN_BUILD_BYTES = 32 << 20
# A graph element: the vector, its neighbour lists and bookkeeping; the factor leaves the build headroom.
_ELEMENT_OVERHEAD_BYTES = 1024
_HEADROOM = 4


def memory_bytes(setting: str) -> int:
    """Bytes of a PostgreSQL memory setting such as '1GB', '256MB' or '512kB'."""
    match = re.fullmatch(r"\s*(\d+)\s*(kB|MB|GB)\s*", setting)
    if match is None:
        raise ValueError(f"{setting!r} is not a memory size; write it like 1GB, 256MB or 512kB.")
    return int(match.group(1)) * _UNITS[match.group(2)]


def shard_build_memory(rows: int, dims: int, cap: str) -> str:
    """`maintenance_work_mem` for the HNSW graph of `rows` vectors of `dims` floats, at most `cap`."""
    wanted = rows * (dims * 4 + _ELEMENT_OVERHEAD_BYTES) * _HEADROOM
    chosen = min(max(wanted, MIN_BUILD_BYTES), memory_bytes(cap))
    return f"{chosen >> 10}kB"
