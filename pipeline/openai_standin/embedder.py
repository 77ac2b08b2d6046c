"""Deterministic feature-hashing embeddings: texts that share words get a high cosine similarity."""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from pipeline.lib.tokens import count_tokens
from pipeline.openai_standin.faults import ApiError

WORD = re.compile(r"\w+")
MODEL_DIMENSIONS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}
MAX_INPUTS = 2048
MAX_INPUT_TOKENS = 8192
MAX_REQUEST_TOKENS = 300_000
INVALID_INPUT = (
    "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference."
)


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def _digest(text: str) -> bytes:
    # blake2b rather than hash(): the result must not depend on PYTHONHASHSEED or the process.
    return hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()


def _hash_vector(seed: str, dims: int) -> np.ndarray:
    # Components are k / 32767.5 - 1 for integer k, so never 0 and the norm is never 0.
    stream = hashlib.shake_256(seed.encode("utf-8")).digest(2 * dims)
    return np.frombuffer(stream, dtype="<u2").astype(np.float64) / 32767.5 - 1.0


def _unit(vector: np.ndarray) -> np.ndarray:
    # float32, so the "float" and "base64" encodings carry identical values.
    return (vector / np.linalg.norm(vector)).astype(np.float32)


# Norm of the dense component next to the unit word component: texts sharing words stay the nearest.
DENSE_SHARE = 0.5


@lru_cache(maxsize=1 << 18)
def _feature_slot(feature: str, dims: int) -> tuple[int, float]:
    # Menu vocabularies repeat: caching a feature's slot and sign keeps the stand-in's CPU (which shares the
    # machine with the pipeline in tests and benchmarks) well below the pipeline's own.
    digest = _digest(feature)
    return int.from_bytes(digest[:4], "little") % dims, 1.0 if digest[4] & 1 else -1.0


def embed_array(item: str | Sequence[int], dims: int, dense: bool = False) -> np.ndarray:
    """Unit float32 vector for a text (a token array is only hashed), stable across processes and machines.

    By default a text's vector has a component per word and word pair only, so similar texts are near.
    `dense` adds a text-specific component in every dimension, as OpenAI's vectors have: sparse vectors
    compress to a tenth in PostgreSQL's heap and build an HNSW index about twice as fast, which would
    flatter storage and indexing benchmarks.
    """
    if not isinstance(item, str):
        return _unit(_hash_vector("tokens:" + ",".join(map(str, item)), dims))
    if dense:
        spread = _hash_vector("dense:" + item, dims)
        return _unit(embed_array(item, dims) + DENSE_SHARE * spread / np.linalg.norm(spread))
    vector = np.zeros(dims)
    tokens = words(item)
    features = [f"w:{w}" for w in tokens] + [f"b:{a} {b}" for a, b in itertools.pairwise(tokens)]
    if features:
        slots, signs = zip(*(_feature_slot(f, dims) for f in features), strict=True)
        np.add.at(vector, list(slots), list(signs))
    if not vector.any():  # no words at all (punctuation, emoji) or features that cancel out exactly
        vector = _hash_vector("text:" + item, dims)
    return _unit(vector)


def embed(item: str | Sequence[int], dims: int) -> list[float]:
    return embed_array(item, dims).tolist()


def to_base64(vector: np.ndarray) -> str:
    """OpenAI's base64 encoding: little-endian float32 bytes."""
    return base64.b64encode(vector.astype("<f4", copy=False).tobytes()).decode("ascii")


@dataclass(frozen=True)
class EmbeddingRequest:
    model: str
    inputs: list[str | list[int]]
    dimensions: int
    encoding_format: str
    prompt_tokens: int


def _is_token_array(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(t, int) for t in value)


def _inputs(raw: Any) -> list[str | list[int]]:
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list) and raw and _is_token_array(raw):
        return [raw]  # a single token array
    if isinstance(raw, list) and raw and all(isinstance(x, str) for x in raw):
        return list(raw)
    if isinstance(raw, list) and raw and all(_is_token_array(x) for x in raw):
        return list(raw)
    raise ApiError(400, INVALID_INPUT, param="input")


def parse_request(body: dict[str, Any], poison: Iterable[str]) -> EmbeddingRequest:
    """Validate an embeddings request the way the API does; raises ApiError."""
    model = body.get("model")
    if not isinstance(model, str) or model not in MODEL_DIMENSIONS:
        message = f"The model `{model}` does not exist or you do not have access to it."
        raise ApiError(404, message, code="model_not_found")
    inputs = _inputs(body.get("input"))
    if len(inputs) > MAX_INPUTS:
        raise ApiError(400, f"'$.input' is too long: {len(inputs)} items, max {MAX_INPUTS}.", param="input")
    if any(len(item) == 0 for item in inputs):
        raise ApiError(400, INVALID_INPUT, param="input")
    for marker in poison:
        for index, item in enumerate(inputs):
            if isinstance(item, str) and marker in item:
                raise ApiError(400, f"Invalid content in input at index {index}.", param=f"input[{index}]")

    dimensions = body.get("dimensions")
    native = MODEL_DIMENSIONS[model]
    if dimensions is None:
        dimensions = native
    elif model == "text-embedding-ada-002":
        raise ApiError(400, "This model does not support specifying dimensions.", param="dimensions")
    elif not isinstance(dimensions, int) or isinstance(dimensions, bool) or not 1 <= dimensions <= native:
        raise ApiError(
            400, f"Invalid 'dimensions': must be an integer between 1 and {native}.", param="dimensions"
        )

    encoding_format = body.get("encoding_format") or "float"
    if encoding_format not in ("float", "base64"):
        message = f"Invalid 'encoding_format': {encoding_format!r}, expected 'float' or 'base64'."
        raise ApiError(400, message, param="encoding_format")

    counts = [count_tokens(item, model) if isinstance(item, str) else len(item) for item in inputs]
    for count in counts:
        if count > MAX_INPUT_TOKENS:
            raise ApiError(
                400,
                f"This model's maximum context length is {MAX_INPUT_TOKENS} tokens, however you requested "
                f"{count} tokens ({count} in your prompt; 0 for the completion). "
                "Please reduce your prompt; or completion length.",
            )
    if sum(counts) > MAX_REQUEST_TOKENS:
        message = f"Requested {sum(counts)} tokens, max {MAX_REQUEST_TOKENS} tokens per request"
        raise ApiError(400, message, param="input")
    return EmbeddingRequest(model, inputs, dimensions, encoding_format, sum(counts))


def response(request: EmbeddingRequest, *, drop_last: bool = False, dense: bool = False) -> bytes:
    """The JSON body. Assembled by hand: json.dumps scans every character of every base64 string, which
    cost the stand-in more than computing the vectors."""
    items = []
    for index, item in enumerate(request.inputs[:-1] if drop_last else request.inputs):
        vector = embed_array(item, request.dimensions, dense)
        encoded = (
            f'"{to_base64(vector)}"' if request.encoding_format == "base64" else json.dumps(vector.tolist())
        )
        items.append(f'{{"object": "embedding", "index": {index}, "embedding": {encoded}}}')
    usage = {"prompt_tokens": request.prompt_tokens, "total_tokens": request.prompt_tokens}
    head = f'{{"object": "list", "data": [{", ".join(items)}], '
    return (head + f'"model": {json.dumps(request.model)}, "usage": {json.dumps(usage)}}}').encode()
