"""Prices and cost arithmetic. Prices live in the versioned model_prices table."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

_PER_MILLION = Decimal(1_000_000)
_COST_QUANTUM = Decimal("0.00000001")


@dataclass(frozen=True)
class ModelPrice:
    model: str
    version: str
    input_usd_per_mtok: Decimal
    output_usd_per_mtok: Decimal


class UnknownModelPriceError(LookupError):
    def __init__(self, model: str, known: list[str]) -> None:
        super().__init__(
            f"No price is known for model {model!r}. Known models: {', '.join(sorted(known))}. "
            "Add a row to the model_prices table (a new migration) before using it."
        )
        self.model = model


def cost_usd(price: ModelPrice, input_tokens: int, output_tokens: int = 0) -> Decimal:
    raw = (price.input_usd_per_mtok * input_tokens + price.output_usd_per_mtok * output_tokens) / _PER_MILLION
    return raw.quantize(_COST_QUANTUM, rounding=ROUND_HALF_UP)


class PriceBook:
    def __init__(self, prices: dict[str, ModelPrice]) -> None:
        self._prices = prices

    def price(self, model: str) -> ModelPrice:
        try:
            return self._prices[model]
        except KeyError:
            raise UnknownModelPriceError(model, list(self._prices)) from None

    def __contains__(self, model: str) -> bool:
        return model in self._prices
