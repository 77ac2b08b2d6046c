"""Retry timing: exponential backoff with full jitter, and OpenAI's rate-limit headers."""

from __future__ import annotations

import random
import re
from collections.abc import Mapping

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(value: str) -> float | None:
    """'6m0s' -> 360.0, '250ms' -> 0.25, '1.5s' -> 1.5; None when unparseable."""
    parts = _DURATION_PART.findall(value.strip())
    if not parts or "".join(n + u for n, u in parts) != value.strip().replace(" ", ""):
        return None
    return sum(float(n) * _UNIT_SECONDS[u] for n, u in parts)


def server_requested_delay(headers: Mapping[str, str]) -> float | None:
    """How long the server asked us to wait, from retry-after-ms, retry-after or x-ratelimit-reset-*."""
    lowered = {k.lower(): v for k, v in headers.items()}
    if "retry-after-ms" in lowered:
        try:
            return float(lowered["retry-after-ms"]) / 1000
        except ValueError:
            pass
    if "retry-after" in lowered:
        try:
            return float(lowered["retry-after"])
        except ValueError:
            pass
    resets = [
        parse_duration(lowered[k])
        for k in ("x-ratelimit-reset-requests", "x-ratelimit-reset-tokens")
        if k in lowered
    ]
    known = [r for r in resets if r is not None]
    return max(known) if known else None


def backoff_delay(
    attempt: int, base: float = 0.5, cap: float = 30.0, rng: random.Random | None = None
) -> float:
    """Delay before retry number `attempt` (1-based): full jitter over base * 2^(attempt-1), capped."""
    ceiling = min(cap, base * 2 ** (attempt - 1))
    return (rng or random).uniform(ceiling / 2, ceiling)


def retry_delay(attempt: int, headers: Mapping[str, str] | None, cap: float = 60.0) -> float:
    """The server's wish when it states one (never less), otherwise exponential backoff."""
    requested = server_requested_delay(headers or {})
    jittered = backoff_delay(attempt, cap=cap)
    return min(cap, max(requested, 0.0)) if requested is not None else jittered
