"""Deterministic chat completions: a sentence from the prompt's words, or JSON generated from a schema."""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass
from typing import Any

from pipeline.lib.tokens import count_tokens
from pipeline.openai_standin.embedder import words
from pipeline.openai_standin.faults import ApiError

KEY_LINE = re.compile(r"^\s*-?\s*\[?key[=:]\s*(\S+)", re.IGNORECASE | re.MULTILINE)
MAX_DEPTH = 8  # recursive schemas ($ref cycles) stop producing nested items below this depth
FORMATS = {
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "time": "00:00:00",
    "email": "standin@example.com",
    "uri": "https://example.com/standin",
    "uuid": "00000000-0000-4000-8000-000000000000",
}


def tokens(text: str, model: str) -> int:
    try:
        return count_tokens(text, model)
    except ValueError:  # a model tiktoken does not know: count like the current chat models
        return count_tokens(text, "gpt-4o")


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}, ...]
        return "\n".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


@dataclass(frozen=True)
class ChatRequest:
    model: str
    messages: list[dict[str, Any]]
    prompt_tokens: int
    body: dict[str, Any]


def parse_request(body: dict[str, Any]) -> ChatRequest:
    """Validate a chat completion request; raises ApiError."""
    model, messages = body.get("model"), body.get("messages")
    if not isinstance(model, str) or not model:
        raise ApiError(400, "you must provide a model parameter", param="model")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        raise ApiError(400, "'messages' must be a non-empty array of message objects.", param="messages")
    return ChatRequest(model, messages, prompt_tokens(messages, body, model), body)


# OpenAI's chat format wraps each message in a few tokens and primes the reply with a few more (see the
# cookbook's "How to count tokens"); a json_schema response format is sent to the model with the prompt
# and billed as input, approximated here by the tokens of its JSON.
PER_MESSAGE_TOKENS = 3
REPLY_PRIMING_TOKENS = 3


def prompt_tokens(messages: list[dict[str, Any]], body: dict[str, Any], model: str) -> int:
    count = REPLY_PRIMING_TOKENS
    count += sum(PER_MESSAGE_TOKENS + tokens(_text(m.get("content")), model) for m in messages)
    response_format = body.get("response_format") or {}
    if isinstance(response_format, dict) and response_format.get("type") == "json_schema":
        count += tokens(json.dumps(response_format.get("json_schema") or {}), model)
    return count


def response(request: ChatRequest, fault: str | None = None) -> dict[str, Any]:
    """The completion. Fault "wrong_count" leaves out the last item of the answer's first JSON array (a
    partial answer); "malformed_content" cuts the answer in half (JSON that does not parse)."""
    model, body = request.model, request.body
    prompt = next(
        (_text(m.get("content")) for m in reversed(request.messages) if m.get("role") == "user"), ""
    )
    content = _answer(prompt, body.get("response_format") or {})
    if fault == "wrong_count":
        content = _drop_last_item(content)
    elif fault == "malformed_content":
        content = content[: len(content) // 2]
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    finish_reason = "stop"
    if isinstance(limit, int) and tokens(content, model) > limit:
        content, finish_reason = _truncate(content, model, limit), "length"
    digest = hashlib.blake2b(json.dumps(body, sort_keys=True).encode(), digest_size=12).hexdigest()
    completion_tokens = tokens(content, model)
    return {
        "id": f"chatcmpl-standin{digest}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": None},
                "logprobs": None,
                "finish_reason": finish_reason,
            }
        ],
        "usage": {
            "prompt_tokens": request.prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": request.prompt_tokens + completion_tokens,
        },
    }


def _drop_last_item(content: str) -> str:
    try:
        data = json.loads(content)
    except ValueError:
        return content
    if isinstance(data, dict):
        for value in data.values():
            if isinstance(value, list) and value:
                value.pop()
                break
    return json.dumps(data)


def _truncate(content: str, model: str, limit: int) -> str:
    # Longest prefix within the limit; token counts grow (almost) monotonically with the prefix.
    low, high = 0, len(content)
    while low < high:
        middle = (low + high + 1) // 2
        if tokens(content[:middle], model) <= limit:
            low = middle
        else:
            high = middle - 1
    return content[:low]


def _sentence(prompt: str) -> str:
    distinct = list(dict.fromkeys(words(prompt)))[:12]
    return f"Offline stand-in answer about {' '.join(distinct)}." if distinct else "Offline stand-in answer."


def _answer(prompt: str, response_format: dict[str, Any]) -> str:
    if response_format.get("type") == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema") or {}
        return json.dumps(_SchemaFiller(prompt, schema).value(schema, "$", None, 0), ensure_ascii=False)
    if response_format.get("type") == "json_object":
        return json.dumps({"answer": _sentence(prompt)})
    return _sentence(prompt)


class _SchemaFiller:
    """Builds a value conforming to a JSON schema; strings are phrases picked from the prompt's words.

    Lines such as `key=abc` in the prompt turn the outermost array into one item per line, with the
    value copied into properties named `key` or `id`.
    """

    def __init__(self, prompt: str, root: dict[str, Any]) -> None:
        self.prompt = prompt
        self.root = root
        self.words = list(dict.fromkeys(words(prompt)))
        self.keys = [match.rstrip("]),;:.") for match in KEY_LINE.findall(prompt)]

    def _hash(self, path: str) -> int:
        data = f"{self.prompt}\0{path}".encode()
        return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")

    def _resolve(self, schema: Any) -> dict[str, Any]:
        while isinstance(schema, dict) and isinstance(schema.get("$ref"), str):
            target: Any = self.root
            for part in schema["$ref"].removeprefix("#/").split("/"):
                target = target.get(part, {}) if part and isinstance(target, dict) else target
            schema = target
        return schema if isinstance(schema, dict) else {}

    def value(self, schema: Any, path: str, key: str | None, depth: int) -> Any:
        schema = self._resolve(schema)
        if "const" in schema:
            return schema["const"]
        if schema.get("enum"):
            return schema["enum"][self._hash(path) % len(schema["enum"])]
        options = schema.get("anyOf") or schema.get("oneOf")
        if options:
            concrete = [o for o in options if self._resolve(o).get("type") != "null"]
            if depth >= MAX_DEPTH and len(concrete) < len(options):
                return None
            return self.value((concrete or options)[0], path, key, depth)
        if schema.get("allOf"):
            merged: dict[str, Any] = {}
            for part in schema["allOf"]:
                merged.update(self._resolve(part))
            return self.value(merged, path, key, depth)
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        if kind is None:
            kind = "object" if "properties" in schema else "array" if "items" in schema else "string"
        if kind == "object":
            properties = schema.get("properties") or {}
            return {
                name: self._property(name, sub, f"{path}.{name}", key, depth)
                for name, sub in properties.items()
            }
        if kind == "array":
            item = schema.get("items") or {}
            if key is None and self.keys:
                return [self.value(item, f"{path}[{i}]", k, depth + 1) for i, k in enumerate(self.keys)]
            count = 0 if depth >= MAX_DEPTH else max(1, int(schema.get("minItems", 1)))
            return [self.value(item, f"{path}[{i}]", key, depth + 1) for i in range(count)]
        if kind == "string":
            return self._string(schema, path)
        if kind == "integer":
            low = int(schema.get("minimum", schema.get("exclusiveMinimum", -1) + 1))
            high = int(schema.get("maximum", schema.get("exclusiveMaximum", low + 101) - 1))
            return low + self._hash(path) % (max(high, low) - low + 1)
        if kind == "number":
            low = float(schema.get("minimum", schema.get("exclusiveMinimum", 0.0)))
            high = float(schema.get("maximum", schema.get("exclusiveMaximum", low + 1.0)))
            return round(low + (high - low) * (self._hash(path) % 997 + 1) / 999, 6)
        if kind == "boolean":
            return bool(self._hash(path) & 1)
        return None

    def _property(self, name: str, schema: Any, path: str, key: str | None, depth: int) -> Any:
        if key is not None and name.lower() in ("key", "id"):
            kind = self._resolve(schema).get("type", "string")
            kinds = kind if isinstance(kind, list) else [kind]
            if "string" in kinds:
                return key
            if "integer" in kinds and key.lstrip("-").isdigit():
                return int(key)
        return self.value(schema, path, key, depth + 1)

    def _string(self, schema: dict[str, Any], path: str) -> str:
        if schema.get("format") in FORMATS:
            return FORMATS[schema["format"]]
        h = self._hash(path)
        if self.words:
            start = h % len(self.words)
            phrase = " ".join((self.words * 2)[start : start + min(3, len(self.words))])
        else:
            phrase = f"value {h:016x}"
        phrase = phrase[: int(schema.get("maxLength", len(phrase)))]
        return phrase.ljust(int(schema.get("minLength", 0)), "x")
