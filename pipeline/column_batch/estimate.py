"""Pricing an operation before it starts, and the limits it is checked against (pure functions)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from decimal import Decimal

from pipeline.column_batch.spec import OperationSpec
from pipeline.lib.pricing import ModelPrice, cost_usd

# Tokens each row adds to the JSON answer beyond its value: {"key": "...", "value": "..."},
JSON_TOKENS_PER_ROW = 12
# Assumed time for one chat request when nothing better is known (for the duration estimate).
ASSUMED_SECONDS_PER_REQUEST = 3.0


@dataclass(frozen=True)
class Estimate:
    rows: int
    requests: int
    input_tokens: int
    expected_output_tokens: int
    worst_output_tokens: int
    expected_cost_usd: Decimal
    worst_cost_usd: Decimal
    expected_cost_per_row_usd: Decimal
    duration_seconds: float
    price_version: str

    def as_json(self) -> dict[str, object]:
        return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in asdict(self).items()}


def estimate_operation(
    prompt_tokens: list[int],
    overhead_tokens_per_request: int,
    expected_output_per_row: int,
    spec: OperationSpec,
    price: ModelPrice,
    rpm: int,
    tpm: int,
) -> Estimate:
    rows = len(prompt_tokens)
    requests = math.ceil(rows / spec.rows_per_request) if rows else 0
    input_tokens = sum(prompt_tokens) + requests * overhead_tokens_per_request
    per_row_out = min(spec.max_output_tokens, expected_output_per_row) + JSON_TOKENS_PER_ROW
    expected_out = rows * per_row_out
    # max_output_tokens bounds each row's value, so a request may produce that much per row it carries.
    worst_out = rows * (spec.max_output_tokens + JSON_TOKENS_PER_ROW)
    expected = cost_usd(price, input_tokens, expected_out)
    worst = cost_usd(price, input_tokens, worst_out)
    rate_minutes = max(requests / rpm, (input_tokens + expected_out) / tpm) if rows else 0.0
    latency_seconds = requests * ASSUMED_SECONDS_PER_REQUEST / spec.max_concurrent_batches
    return Estimate(
        rows=rows,
        requests=requests,
        input_tokens=input_tokens,
        expected_output_tokens=expected_out,
        worst_output_tokens=worst_out,
        expected_cost_usd=expected,
        worst_cost_usd=worst,
        expected_cost_per_row_usd=(expected / rows).quantize(Decimal("0.00000001")) if rows else Decimal(0),
        duration_seconds=max(rate_minutes * 60, latency_seconds),
        price_version=price.version,
    )


def _plain(value: Decimal | float | int) -> str:
    """Numbers as people write them (no 1E-7)."""
    return f"{value.normalize():f}" if isinstance(value, Decimal) else str(value)


@dataclass(frozen=True)
class SafetyLimits:
    max_concurrent_operations: int = 5
    max_operations_per_hour: int = 10
    max_operations_per_day: int = 50
    max_total_cost_per_day_usd: Decimal = Decimal("500")
    max_rows_per_operation: int = 5000
    max_cost_per_operation_usd: Decimal = Decimal("100")
    max_duration_hours: float = 24
    user_max_operations_per_day: int = 20
    user_max_cost_per_day_usd: Decimal = Decimal("100")


@dataclass(frozen=True)
class SpendToday:
    global_usd: Decimal = Decimal(0)
    user_usd: Decimal = Decimal(0)


@dataclass(frozen=True)
class Violation:
    limit: str
    allowed: str
    estimated: str
    message: str


def limit_violations(
    est: Estimate,
    spec: OperationSpec,
    limits: SafetyLimits,
    spend: SpendToday,
    spent_so_far: Decimal = Decimal(0),
) -> list[Violation]:
    """Every limit the operation would break, each saying which and by how much. `spent_so_far` is what a
    resumed operation has already spent; it counts against the operation's own budgets."""
    found: list[Violation] = []

    def over(limit: str, allowed: Decimal | float | int, estimated: Decimal | float | int, what: str) -> None:
        if estimated > allowed:
            a, e, by = _plain(allowed), _plain(estimated), _plain(estimated - allowed)
            found.append(Violation(limit, a, e, f"{what}: estimated {e} exceeds {limit} {a} by {by}."))

    if est.rows == 0:
        found.append(
            Violation(
                "rows",
                ">= 1",
                "0",
                "The selection is empty: no row matches the target, filter "
                "and fill mode (use regenerate_existing to rewrite filled values).",
            )
        )
    over("max_rows_per_operation", limits.max_rows_per_operation, est.rows, "Rows")
    total = est.expected_cost_usd + spent_so_far
    over("max_total_cost_usd", spec.max_total_cost_usd, total, "Cost (USD)")
    over("max_cost_per_operation_usd", limits.max_cost_per_operation_usd, total, "Cost (USD)")
    if spec.max_cost_per_row_usd is not None:
        over(
            "max_cost_per_row_usd",
            spec.max_cost_per_row_usd,
            est.expected_cost_per_row_usd,
            "Cost per row (USD)",
        )
    over(
        "max_total_cost_per_day_usd",
        limits.max_total_cost_per_day_usd,
        spend.global_usd + est.expected_cost_usd,
        "Today's total cost with this operation (USD)",
    )
    over(
        "user_max_cost_per_day_usd",
        limits.user_max_cost_per_day_usd,
        spend.user_usd + est.expected_cost_usd,
        f"{spec.requested_by}'s cost today with this operation (USD)",
    )
    over(
        "max_duration_hours",
        limits.max_duration_hours,
        round(est.duration_seconds / 3600, 2),
        "Duration (hours)",
    )
    return found
