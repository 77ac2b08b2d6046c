"""Output quality flags for generated values (pure)."""

from __future__ import annotations

import re
from collections import Counter

_REFUSAL = re.compile(
    r"^\s*(i'?m sorry|i am sorry|sorry, i|i can(?:no|')t|i cannot|i'?m unable|i am unable|as an ai\b)", re.I
)


def value_flags(value: str | None, finish_reason: str | None) -> list[str]:
    flags = []
    if value is None or not value.strip():
        flags.append("empty")
    if finish_reason == "length":
        flags.append("truncated")
    if value and _REFUSAL.search(value):
        flags.append("refusal")
    return flags


def duplicate_keys(values: dict[str, str]) -> set[str]:
    """Keys whose (normalised, non-empty) value also appears for another key."""
    norm = {k: " ".join(v.lower().split()) for k, v in values.items() if v and v.strip()}
    counts = Counter(norm.values())
    return {k for k, v in norm.items() if counts[v] > 1}
