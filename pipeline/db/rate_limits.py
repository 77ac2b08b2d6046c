"""SQL for the shared, cross-process request/token budget (a token bucket in one row)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from pipeline.lib.token_bucket import Bucket, refill, take


def configure_bucket(engine: Engine, name: str, rpm: int, tpm: int) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO api_rate_limits (name, rpm, tpm, requests_available, tokens_available)"
                " VALUES (:n, :rpm, :tpm, :rpm, :tpm)"
                " ON CONFLICT (name) DO UPDATE SET rpm = EXCLUDED.rpm, tpm = EXCLUDED.tpm"
            ),
            {"n": name, "rpm": rpm, "tpm": tpm},
        )


def try_take(conn: Connection, name: str, tokens: int) -> float:
    """Take one request and `tokens` from the bucket if available; return 0.0 on success, else the
    seconds to wait before trying again. Runs under a row lock, so concurrent takers serialise."""
    row = conn.execute(
        sa.text(
            "SELECT rpm, tpm, requests_available, tokens_available,"
            " extract(epoch FROM clock_timestamp() - refreshed_at) AS elapsed,"
            " greatest(extract(epoch FROM blocked_until - clock_timestamp()), 0) AS blocked"
            " FROM api_rate_limits WHERE name = :n FOR UPDATE"
        ),
        {"n": name},
    ).one()
    current, elapsed = Bucket(row.requests_available, row.tokens_available), max(float(row.elapsed), 0.0)
    if row.blocked:  # a 429 paused everyone: nothing is taken until it passes
        bucket, wait = refill(current, row.rpm, row.tpm, elapsed), float(row.blocked)
    else:
        bucket, wait = take(current, row.rpm, row.tpm, tokens, elapsed)
    conn.execute(
        sa.text(
            "UPDATE api_rate_limits SET requests_available = :r, tokens_available = :t,"
            " refreshed_at = clock_timestamp() WHERE name = :n"
        ),
        {"r": bucket.requests, "t": bucket.tokens, "n": name},
    )
    return wait


def block_until(engine: Engine, name: str, seconds: float) -> None:
    """Make every process pause: the server told one of us to back off."""
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE api_rate_limits SET blocked_until ="
                " greatest(blocked_until, clock_timestamp() + make_interval(secs => :s)) WHERE name = :n"
            ),
            {"s": seconds, "n": name},
        )
