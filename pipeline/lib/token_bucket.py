"""Token-bucket arithmetic for one shared request/token budget (pure).

Providers enforce per-minute limits over shorter windows ("60,000 RPM may be enforced as 1,000
requests per second"), so the bucket holds at most BURST_SECONDS of budget instead of a whole minute:
a full minute's burst at start-up is exactly what earns 429s. A request larger than the burst may
still go once the bucket is full; the balance goes negative and later requests wait it off, so the
average rate never exceeds the limit.
"""

from __future__ import annotations

from dataclasses import dataclass

BURST_SECONDS = 1.0


@dataclass(frozen=True)
class Bucket:
    requests: float
    tokens: float


def refill(bucket: Bucket, rpm: int, tpm: int, elapsed: float) -> Bucket:
    request_cap = max(1.0, rpm / 60 * BURST_SECONDS)
    token_cap = max(1.0, tpm / 60 * BURST_SECONDS)
    return Bucket(
        min(request_cap, bucket.requests + elapsed * rpm / 60),
        min(token_cap, bucket.tokens + elapsed * tpm / 60),
    )


def take(bucket: Bucket, rpm: int, tpm: int, tokens: int, elapsed: float) -> tuple[Bucket, float]:
    """(bucket after refill and, if granted, the take; seconds to wait, 0.0 when granted)."""
    full = refill(bucket, rpm, tpm, elapsed)
    threshold = min(float(tokens), max(1.0, tpm / 60 * BURST_SECONDS))
    if full.requests >= 1 and full.tokens >= threshold:
        return Bucket(full.requests - 1, full.tokens - tokens), 0.0
    wait = max((1 - full.requests) * 60 / rpm, (threshold - full.tokens) * 60 / tpm, 0.001)
    return full, wait
