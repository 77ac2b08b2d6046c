"""The embeddings endpoint: request building, response validation and cost."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import openai

from pipeline.lib.pricing import PriceBook
from pipeline.llm.calls import CallContext, MalformedResponseError, ProviderCaller

DEFAULT_DIMENSIONS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}
FIXED_DIMENSION_MODELS = {"text-embedding-ada-002"}


def effective_dimensions(model: str, requested: int | None) -> int:
    if model in FIXED_DIMENSION_MODELS and requested not in (None, DEFAULT_DIMENSIONS[model]):
        raise ValueError(
            f"{model} always returns {DEFAULT_DIMENSIONS[model]} dimensions; unset EMBEDDING_DIMENSIONS."
        )
    if requested is not None:
        return requested
    try:
        return DEFAULT_DIMENSIONS[model]
    except KeyError:
        raise ValueError(
            f"Unknown embedding model {model!r}: set EMBEDDING_DIMENSIONS to its output width."
        ) from None


@dataclass(frozen=True)
class EmbeddingBatch:
    vectors: list[np.ndarray]
    input_tokens: int
    cost_usd: Decimal


@dataclass
class EmbeddingService:
    client: openai.OpenAI
    caller: ProviderCaller
    prices: PriceBook
    model: str
    requested_dimensions: int | None

    def __post_init__(self) -> None:
        self.dimensions = effective_dimensions(self.model, self.requested_dimensions)
        self.price = self.prices.price(self.model)  # fails fast on a model without a price

    @property
    def provider(self) -> str:
        return self.caller.provider

    def embed(self, texts: Sequence[str], tokens: int, ctx: CallContext) -> EmbeddingBatch:
        extra = {} if self.requested_dimensions is None else {"dimensions": self.requested_dimensions}

        def send() -> tuple[list[np.ndarray], int, int, int]:
            raw = self.client.embeddings.with_raw_response.create(
                model=self.model, input=list(texts), **extra
            )
            parsed = raw.parse()
            vectors = self._validated(parsed, len(texts))
            used = parsed.usage.prompt_tokens if parsed.usage else tokens
            return vectors, raw.status_code, used, 0

        billed = self.caller.call(
            send,
            ctx=ctx,
            endpoint="embeddings",
            price=self.price,
            input_count=len(texts),
            estimated_tokens=tokens,
        )
        return EmbeddingBatch(billed.result, billed.input_tokens, billed.cost_usd)

    def _validated(self, parsed: object, expected: int) -> list[np.ndarray]:
        data = getattr(parsed, "data", None)
        if not isinstance(data, list) or len(data) != expected:
            got = len(data) if isinstance(data, list) else "no"
            raise MalformedResponseError(f"expected {expected} embeddings, got {got}")
        ordered = sorted(data, key=lambda d: d.index)
        vectors = [np.asarray(d.embedding, dtype=np.float32) for d in ordered]
        for v in vectors:
            if v.shape != (self.dimensions,) or not np.all(np.isfinite(v)):
                raise MalformedResponseError(
                    f"expected finite vectors of {self.dimensions} dimensions, got shape {v.shape}"
                )
        return vectors
