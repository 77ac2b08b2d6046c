"""The embeddings endpoint: request building, response validation and cost."""

from __future__ import annotations

import base64
import binascii
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
            # base64 float32, decoded straight into arrays: the client's own parsing builds a Python
            # list of floats per vector first, which costs more than the rest of the response handling.
            raw = self.client.embeddings.with_raw_response.create(
                model=self.model, input=list(texts), encoding_format="base64", **extra
            )
            try:
                body = raw.http_response.json()
            except ValueError as exc:
                raise MalformedResponseError(f"response is not JSON: {exc}") from None
            vectors = self._validated(body, len(texts))
            usage = body.get("usage") if isinstance(body, dict) else None
            used = usage.get("prompt_tokens") if isinstance(usage, dict) else None
            return vectors, raw.status_code, used if isinstance(used, int) else tokens, 0

        billed = self.caller.call(
            send,
            ctx=ctx,
            endpoint="embeddings",
            price=self.price,
            input_count=len(texts),
            estimated_tokens=tokens,
        )
        return EmbeddingBatch(billed.result, billed.input_tokens, billed.cost_usd)

    def _validated(self, body: object, expected: int) -> list[np.ndarray]:
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list) or len(data) != expected:
            got = len(data) if isinstance(data, list) else "no"
            raise MalformedResponseError(f"expected {expected} embeddings, got {got}")
        try:
            ordered = sorted(data, key=lambda d: d["index"])
            vectors = [_decode(d["embedding"]) for d in ordered]
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            raise MalformedResponseError(f"unreadable embedding in the response: {exc!r}") from None
        for v in vectors:
            if v.shape != (self.dimensions,) or not np.all(np.isfinite(v)):
                raise MalformedResponseError(
                    f"expected finite vectors of {self.dimensions} dimensions, got shape {v.shape}"
                )
        return vectors


def _decode(embedding: object) -> np.ndarray:
    """base64 little-endian float32 (as requested), or a JSON list from a server that ignores the format."""
    if isinstance(embedding, str):
        return np.frombuffer(base64.b64decode(embedding, validate=True), dtype="<f4")
    return np.asarray(embedding, dtype=np.float32)
