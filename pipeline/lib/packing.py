"""Packing embedding inputs into API requests under OpenAI's per-request limits."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

MAX_INPUTS_PER_REQUEST = 2048
MAX_TOKENS_PER_REQUEST = 300_000

T = TypeVar("T")


@dataclass(frozen=True)
class Packable(Generic[T]):
    item: T
    tokens: int
    utf8_bytes: int


def request_weight(p: Packable[T]) -> int:
    # OpenAI enforces the 300k limit with an estimate of 0.25 tokens per UTF-8 byte, not real tokens,
    # so a request must fit under both counts.
    return max(p.tokens, (p.utf8_bytes + 3) // 4)


def pack(
    items: Iterable[Packable[T]],
    max_inputs: int = MAX_INPUTS_PER_REQUEST,
    max_tokens: int = MAX_TOKENS_PER_REQUEST,
) -> Iterator[Sequence[Packable[T]]]:
    """Greedy, order-preserving packing: each yielded request has <= max_inputs items and a total
    weight <= max_tokens. A single item heavier than max_tokens gets a request of its own."""
    current: list[Packable[T]] = []
    weight = 0
    for p in items:
        w = request_weight(p)
        if current and (len(current) >= max_inputs or weight + w > max_tokens):
            yield current
            current, weight = [], 0
        current.append(p)
        weight += w
    if current:
        yield current
