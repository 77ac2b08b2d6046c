"""SQL for the shared, cross-process request/token budget (a token bucket in one row)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine


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
    rpm, tpm = row.rpm, row.tpm
    elapsed = max(float(row.elapsed), 0.0)
    requests = min(float(rpm), row.requests_available + elapsed * rpm / 60)
    available = min(float(tpm), row.tokens_available + elapsed * tpm / 60)
    needed = min(tokens, tpm)  # a request bigger than a minute's budget waits for a full bucket
    wait = float(row.blocked)
    if wait == 0.0:
        if requests >= 1 and available >= needed:
            requests, available = requests - 1, available - needed
        else:
            wait = max((1 - requests) * 60 / rpm, (needed - available) * 60 / tpm, 0.01)
    conn.execute(
        sa.text(
            "UPDATE api_rate_limits SET requests_available = :r, tokens_available = :t,"
            " refreshed_at = clock_timestamp() WHERE name = :n"
        ),
        {"r": requests, "t": available, "n": name},
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
