"""How idle this machine's CPUs are, from Linux's /proc/stat: whether work beside a load has room."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

PROC_STAT = Path("/proc/stat")


def parse_cpu_times(stat: str) -> tuple[int, int]:
    """(idle, total) clock ticks of all CPUs from /proc/stat's first line. Waiting for I/O counts as idle;
    guest time is already inside user time, so only the first eight fields add up to the total."""
    fields = stat.splitlines()[0].split()
    if not fields or fields[0] != "cpu" or len(fields) < 5:
        raise ValueError(f"not a /proc/stat cpu line: {stat[:80]!r}")
    ticks = [int(f) for f in fields[1:9]]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
    return idle, sum(ticks)


def idle_fraction(before: tuple[int, int], after: tuple[int, int]) -> float | None:
    """Share of CPU time idle between two readings; None if no time passed."""
    idle, total = after[0] - before[0], after[1] - before[1]
    return idle / total if total > 0 else None


class IdleMeter:
    """Idle share of the machine's CPUs since the last reading that was at least `min_seconds` ago."""

    def __init__(self, min_seconds: float = 0.5, path: Path | None = None) -> None:
        self.min_seconds, self.path = min_seconds, path or PROC_STAT
        self._last = self._read()
        self._last_at = time.monotonic()
        self._verdict: float | None = None

    def _read(self) -> tuple[int, int]:
        return parse_cpu_times(self.path.read_text())

    def restart(self) -> None:
        """Measure from now on (the load, not what came before it)."""
        with contextlib.suppress(OSError, ValueError):  # idle() then reports None
            self._last = self._read()
        self._last_at = time.monotonic()

    def idle(self) -> float | None:
        """None until a reading spans `min_seconds`, or if /proc/stat stopped being readable."""
        if time.monotonic() - self._last_at >= self.min_seconds:
            try:
                now = self._read()
            except (OSError, ValueError):
                self._verdict = None
            else:
                self._verdict = idle_fraction(self._last, now)
                self._last = now
            self._last_at = time.monotonic()
        return self._verdict


def idle_meter() -> IdleMeter | None:
    """A meter, or None where /proc/stat cannot be read (not Linux, a restricted container)."""
    try:
        return IdleMeter()
    except (OSError, ValueError):
        return None
