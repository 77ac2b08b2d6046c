"""SQL for the usage ledger and the versioned price table."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from pipeline.lib.pricing import ModelPrice, PriceBook


@dataclass(frozen=True)
class UsageRecord:
    workload: str
    provider: str
    model: str
    endpoint: str
    latency_ms: int
    status: str
    business_id: int | None = None
    content_type: str | None = None
    operation_id: int | None = None
    run_id: str | None = None
    input_count: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: Decimal = Decimal(0)
    price_version: str | None = None
    http_status: int | None = None
    error_type: str | None = None


_INSERT = sa.text(
    "INSERT INTO usage_ledger (workload, provider, model, endpoint, latency_ms, status, business_id,"
    " content_type, operation_id, run_id, input_count, input_tokens, output_tokens, cost_usd,"
    " price_version, http_status, error_type) VALUES (:workload, :provider, :model, :endpoint,"
    " :latency_ms, :status, :business_id, :content_type, :operation_id, :run_id, :input_count,"
    " :input_tokens, :output_tokens, :cost_usd, :price_version, :http_status, :error_type)"
)


def record_usage(engine: Engine, record: UsageRecord) -> None:
    """Committed on its own: the call was made (and billed) whatever happens to the caller's transaction.
    One statement, autocommitted: one round trip instead of BEGIN, INSERT and COMMIT."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(_INSERT, asdict(record))


def load_price_book(engine: Engine) -> PriceBook:
    """The price in effect today for every model (latest effective_from not in the future)."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT DISTINCT ON (model) model, version, input_usd_per_mtok, output_usd_per_mtok"
                " FROM model_prices WHERE effective_from <= current_date"
                " ORDER BY model, effective_from DESC"
            )
        ).all()
    return PriceBook({r[0]: ModelPrice(r[0], r[1], Decimal(r[2]), Decimal(r[3])) for r in rows})
