"""How rows are packed into one chat request, and how the answer is mapped back (pure)."""

from __future__ import annotations

import json
from typing import Any

SYSTEM_PROMPT = (
    "You write values for one column of a restaurant database. You receive several rows, each introduced "
    "by a line `key=<key>` followed by its instruction. Answer with JSON only: an object whose `results` "
    "array holds exactly one {key, value} per row, where value is the text for that row and nothing else."
)

RESPONSE_FORMAT: dict[str, Any] = {
    "type": "json_schema",
    "json_schema": {
        "name": "column_values",
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {
                "results": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"key": {"type": "string"}, "value": {"type": "string"}},
                        "required": ["key", "value"],
                        "additionalProperties": False,
                    },
                }
            },
            "required": ["results"],
            "additionalProperties": False,
        },
    },
}


def pack_message(prompts: dict[str, str]) -> str:
    return "\n\n".join(f"key={key}\n{prompt}" for key, prompt in prompts.items())


def messages_for(prompts: dict[str, str]) -> list[dict[str, str]]:
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": pack_message(prompts)}]


def parse_answer(content: str, expected: set[str]) -> dict[str, str]:
    """Values by key for the expected keys present in a (possibly malformed or partial) answer."""
    try:
        data = json.loads(content)
    except (ValueError, TypeError):
        return {}
    results = data.get("results") if isinstance(data, dict) else None
    if not isinstance(results, list):
        return {}
    found: dict[str, str] = {}
    for item in results:
        if isinstance(item, dict) and isinstance(item.get("value"), str):
            key = str(item.get("key", ""))
            if key in expected and key not in found:
                found[key] = item["value"].strip()
    return found
