"""CPU seconds per process group while a benchmark phase runs: the pipeline (this process), the stand-in
(a child Python process) and PostgreSQL. On a small machine they share, a sync figure usually moves
because one of them took CPU from the others, which wall-clock times alone do not show."""

from __future__ import annotations

import os
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")
GROUPS = ("pipeline", "standin", "postgres")


def _stat(pid: str) -> tuple[str, list[str]] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # gone meanwhile, or not Linux
        return None
    return text[text.index("(") + 1 : text.rindex(")")], text[text.rindex(")") + 2 :].split()


def cpu_seconds() -> dict[str, float]:
    """Cumulative CPU per group. PostgreSQL's exited backends and parallel workers are counted through
    the postmaster's reaped-children time, so backends that come and go are not lost."""
    me = os.getpid()
    totals = dict.fromkeys(GROUPS, 0.0)
    postgres: dict[int, tuple[int, float, float]] = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        stat = _stat(pid)
        if stat is None:
            continue
        name, fields = stat
        ppid, own = int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICK
        if int(pid) == me:
            totals["pipeline"] += own
        elif ppid == me and name.startswith("python"):
            totals["standin"] += own
        elif name.startswith("postgres"):
            postgres[int(pid)] = (ppid, own, (int(fields[13]) + int(fields[14])) / _TICK)
    for ppid, own, reaped in postgres.values():
        postmaster = ppid not in postgres
        totals["postgres"] += own + (reaped if postmaster else 0.0)
    return totals


def since(before: dict[str, float]) -> dict[str, float]:
    after = cpu_seconds()
    return {group: round(after[group] - before[group], 2) for group in GROUPS}
