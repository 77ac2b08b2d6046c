"""Rule-based cost recommendations, each with the saving in dollars (pure functions over ledger facts)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

# Cheaper embedding models that produce the same width, so the swap needs no schema or index change.
_CHEAPER_SAME_WIDTH = {
    ("text-embedding-ada-002", 1536): "text-embedding-3-small",
    ("text-embedding-3-large", 1536): "text-embedding-3-small",
}
TARGET_ROWS_PER_REQUEST = 10


@dataclass(frozen=True)
class Recommendation:
    rule: str
    scope: str
    saving_usd: Decimal
    advice: str


def cheaper_model(usage: list[dict], prices: dict[str, Decimal]) -> list[Recommendation]:
    """usage: rows of (model, dimensions, input_tokens) for embeddings over the period."""
    found = []
    for row in usage:
        cheaper = _CHEAPER_SAME_WIDTH.get((row["model"], row["dimensions"]))
        if cheaper and row["model"] in prices and cheaper in prices:
            saving = Decimal(row["input_tokens"]) * (prices[row["model"]] - prices[cheaper]) / 1_000_000
            if saving > 0:
                found.append(
                    Recommendation(
                        "cheaper_model",
                        f"model:{row['model']}",
                        saving.quantize(Decimal("0.00000001")),
                        f"{cheaper} gives the same {row['dimensions']} dimensions for less; regenerate with "
                        f"`pipeline admin regenerate --model {cheaper}` business by business.",
                    )
                )
    return found


def frequent_reembedding(rows: list[dict], max_per_day: int = 3) -> list[Recommendation]:
    """rows: (business_id, content_type, content_id, embeds, tokens, cost_usd) per row and day."""
    found = []
    for r in rows:
        if r["embeds"] > max_per_day:
            extra = Decimal(r["cost_usd"]) * (r["embeds"] - 1) / r["embeds"]
            found.append(
                Recommendation(
                    "frequent_reembedding",
                    f"{r['content_type']}:{r['content_id']} (business {r['business_id']})",
                    extra.quantize(Decimal("0.00000001")),
                    f"embedded {r['embeds']} times in a day; batch the app's edits (save once) or raise "
                    "SENSOR_INTERVAL_SECONDS so rapid edits collapse into one embedding.",
                )
            )
    return found


def low_packing(ops: list[dict], overhead_tokens: int, prices: dict[str, Decimal]) -> list[Recommendation]:
    """ops: (operation_id, model, rows_per_request, requests, rows) for column-batch operations."""
    found = []
    for op in ops:
        if op["rows_per_request"] < TARGET_ROWS_PER_REQUEST and op["model"] in prices:
            fewer = op["requests"] - -(-op["rows"] // TARGET_ROWS_PER_REQUEST)
            saving = Decimal(max(fewer, 0) * overhead_tokens) * prices[op["model"]] / 1_000_000
            if saving > 0:
                found.append(
                    Recommendation(
                        "low_packing",
                        f"operation:{op['operation_id']}",
                        saving.quantize(Decimal("0.00000001")),
                        f"{op['rows_per_request']} rows per request repeats the instructions "
                        f"{op['requests']} times; {TARGET_ROWS_PER_REQUEST} rows per request would send them "
                        f"{op['requests'] - fewer} times.",
                    )
                )
    return found


def billed_failures(failed_cost: Decimal, retried_cost: Decimal) -> list[Recommendation]:
    total = failed_cost + retried_cost
    if total <= 0:
        return []
    return [
        Recommendation(
            "billed_failures",
            "global",
            total.quantize(Decimal("0.00000001")),
            "requests that were billed but produced nothing usable, and rows generated more than once; "
            "check `pipeline column-batch report` error breakdowns and lower rows_per_request if answers "
            "come back partial.",
        )
    ]
