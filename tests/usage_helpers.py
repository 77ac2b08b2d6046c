"""A seeded usage ledger whose expected totals the tests compute independently."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa


@dataclass(frozen=True)
class LedgerRow:
    at: datetime
    business_id: int | None
    workload: str
    model: str
    endpoint: str
    input_tokens: int
    output_tokens: int
    cost_usd: Decimal
    latency_ms: int
    status: str


def seed_ledger(
    engine: sa.Engine, business_ids: list[int], days: int = 10, per_day: int = 30, seed: int = 7
) -> list[LedgerRow]:
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    rows = []
    for d in range(days):
        for _ in range(per_day):
            workload = rng.choice(["embedding_sync", "embedding_sync", "column_batch", "search"])
            chat = workload == "column_batch"
            tokens_in, tokens_out = rng.randint(10, 5000), rng.randint(10, 400) if chat else 0
            cost = (
                Decimal(tokens_in) * Decimal("0.02") / 1_000_000
                if not chat
                else (Decimal(tokens_in) * Decimal("0.15") + Decimal(tokens_out) * Decimal("0.60"))
                / 1_000_000
            )
            status = "error" if rng.random() < 0.05 else "ok"
            rows.append(
                LedgerRow(
                    now - timedelta(days=d, minutes=rng.randint(0, 600)),
                    None if chat else rng.choice(business_ids),
                    workload,
                    "gpt-4o-mini" if chat else "text-embedding-3-small",
                    "chat.completions" if chat else "embeddings",
                    tokens_in if status == "ok" else 0,
                    tokens_out if status == "ok" else 0,
                    cost.quantize(Decimal("0.00000001")) if status == "ok" else Decimal(0),
                    rng.randint(20, 900),
                    status,
                )
            )
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO usage_ledger (created_at, business_id, workload, provider, model, endpoint, input_tokens,"
                " output_tokens, cost_usd, latency_ms, status) VALUES (:at, :b, :w, 'offline-standin', :m, :e, :i, :o,"
                " :c, :l, :s)"
            ),
            [
                {
                    "at": r.at,
                    "b": r.business_id,
                    "w": r.workload,
                    "m": r.model,
                    "e": r.endpoint,
                    "i": r.input_tokens,
                    "o": r.output_tokens,
                    "c": r.cost_usd,
                    "l": r.latency_ms,
                    "s": r.status,
                }
                for r in rows
            ],
        )
    return rows
