"""One request budget and one concurrency limit shared by every process that calls the provider.

Both live in PostgreSQL, so N Dagster runs (separate processes) together stay within the account's
RPM/TPM: a token bucket row taken under a row lock, and concurrency slots held as session advisory
locks, which the server releases by itself if a process dies mid-request.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from pipeline.db import rate_limits

_SLOT_LOCK_CLASS = 7_316_002


class SharedLimiter:
    def __init__(self, engine: Engine, name: str, rpm: int, tpm: int, max_concurrency: int) -> None:
        self.engine = engine
        self.name = name
        self.max_concurrency = max_concurrency
        rate_limits.configure_bucket(engine, name, rpm, tpm)

    @contextmanager
    def slot(self, tokens: int, max_wait: float = 3600.0) -> Iterator[None]:
        """Hold one of the shared concurrency slots and one request's worth of budget."""
        deadline = time.monotonic() + max_wait
        # Session locks need no transaction: in autocommit each lock statement is one round trip.
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as lock_conn:
            slot = self._acquire_slot(lock_conn, deadline)
            try:
                self._take_budget(tokens, deadline)
                yield
            finally:
                lock_conn.execute(
                    sa.text("SELECT pg_advisory_unlock(:c, :s)"), {"c": _SLOT_LOCK_CLASS, "s": slot}
                )

    def pause_all(self, seconds: float) -> None:
        rate_limits.block_until(self.engine, self.name, seconds)

    def _acquire_slot(self, conn: sa.Connection, deadline: float) -> int:
        delay = 0.02
        while True:
            # The first free slot, in one round trip: the filter runs row by row under the LIMIT, so no
            # slot after the one taken is locked.
            slot = conn.execute(
                sa.text(
                    "SELECT s FROM generate_series(0, :n - 1) AS s WHERE pg_try_advisory_lock(:c, s) LIMIT 1"
                ),
                {"c": _SLOT_LOCK_CLASS, "n": self.max_concurrency},
            ).scalar_one_or_none()
            if slot is not None:
                return int(slot)
            if time.monotonic() > deadline:
                raise TimeoutError("Timed out waiting for a free provider concurrency slot.")
            time.sleep(delay)
            delay = min(delay * 2, 0.5)

    def _take_budget(self, tokens: int, deadline: float) -> None:
        while True:
            with self.engine.begin() as conn:
                wait = rate_limits.try_take(conn, self.name, tokens)
            if wait <= 0:
                return
            if time.monotonic() + wait > deadline:
                raise TimeoutError("Timed out waiting for the shared rate-limit budget.")
            time.sleep(wait)
