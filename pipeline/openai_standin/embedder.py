"""Deterministic feature-hashing embeddings: texts that share words get a high cosine similarity."""

from __future__ import annotations

import binascii
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


def _hash_rows(seeds: Sequence[str], dims: int) -> np.ndarray:
    """One pseudo-random row per seed: components k / 32767.5 - 1 for integer k, so never 0 and the norm
    is never 0."""
    stream = b"".join(hashlib.shake_256(seed.encode("utf-8")).digest(2 * dims) for seed in seeds)
    return np.frombuffer(stream, dtype="<u2").reshape(len(seeds), dims).astype(np.float32) / 32767.5 - 1


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    # A row-wise norm whose summation order does not depend on how many rows there are, so a text's vector
    # is the same alone or in any batch.
    return matrix / np.sqrt(np.einsum("ij,ij->i", matrix, matrix))[:, None]


# Norm of the dense component next to the unit word component: texts sharing words stay the nearest.
DENSE_SHARE = 0.5


@lru_cache(maxsize=1 << 18)
def _feature_slot(feature: str, dims: int) -> tuple[int, float]:
    # Menu vocabularies repeat: caching a feature's slot and sign keeps the stand-in's CPU (which shares the
    # machine with the pipeline in tests and benchmarks) well below the pipeline's own.
    digest = _digest(feature)
    return int.from_bytes(digest[:4], "little") % dims, 1.0 if digest[4] & 1 else -1.0


def _word_rows(texts: Sequence[str], dims: int) -> np.ndarray:
    """A component per word and word pair; a text with none (or whose features cancel out) hashes whole."""
    flat: list[int] = []
    signs: list[float] = []
    for row, text in enumerate(texts):
        tokens = words(text)
        features = [f"w:{w}" for w in tokens] + [f"b:{a} {b}" for a, b in itertools.pairwise(tokens)]
        base = row * dims
        for slot, sign in map(_feature_slot, features, itertools.repeat(dims)):
            flat.append(base + slot)
            signs.append(sign)
    matrix = np.bincount(flat, weights=signs, minlength=len(texts) * dims).astype(np.float32)
    matrix = matrix.reshape(len(texts), dims)
    blank = np.flatnonzero(~matrix.any(axis=1))
    if blank.size:
        matrix[blank] = _hash_rows([f"text:{texts[i]}" for i in blank], dims)
    return matrix


def embed_batch(items: Sequence[str | Sequence[int]], dims: int, dense: bool = False) -> np.ndarray:
    """Unit float32 vectors, one row per text (a token array is only hashed), stable across processes and
    machines, and the same for a text whatever else is in the batch.

    By default a text's vector has a component per word and word pair only, so similar texts are near.
    `dense` adds a text-specific component in every dimension, as OpenAI's vectors have: sparse vectors
    compress to a tenth in PostgreSQL's heap and build an HNSW index about twice as fast, which would
    flatter storage and indexing benchmarks. Whole batches at a time, because the stand-in shares the
    machine with the pipeline in benchmarks: a remote API's CPU would not.
    """
    out = np.empty((len(items), dims), dtype=np.float32)
    texts = [i for i, item in enumerate(items) if isinstance(item, str)]
    arrays = [i for i, item in enumerate(items) if not isinstance(item, str)]
    if arrays:
        seeds = ["tokens:" + ",".join(map(str, items[i])) for i in arrays]
        out[arrays] = _unit_rows(_hash_rows(seeds, dims))
    if texts:
        strings = [str(items[i]) for i in texts]
        vectors = _unit_rows(_word_rows(strings, dims))
        if dense:
            spread = _unit_rows(_hash_rows([f"dense:{t}" for t in strings], dims))
            vectors = _unit_rows(vectors + DENSE_SHARE * spread)
        out[texts] = vectors
    return out


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


def _base64_rows(vectors: np.ndarray) -> list[bytes]:
    """OpenAI's base64 encoding of each row. A row of 3k bytes encodes to exactly its share of the whole
    matrix's encoding, so the matrix is encoded in one call and cut."""
    row_bytes = vectors.shape[1] * 4
    if row_bytes % 3:
        return [binascii.b2a_base64(v.tobytes(), newline=False) for v in vectors]
    encoded = binascii.b2a_base64(vectors.tobytes(), newline=False)
    width = row_bytes // 3 * 4
    return [encoded[i : i + width] for i in range(0, len(encoded), width)]


def response(request: EmbeddingRequest, *, drop_last: bool = False, dense: bool = False) -> bytes:
    """The JSON body. Assembled by hand, as bytes: json.dumps scans every character of every base64
    string, which cost the stand-in more than computing the vectors."""
    inputs = request.inputs[:-1] if drop_last else request.inputs
    vectors = embed_batch(inputs, request.dimensions, dense).astype("<f4", copy=False)
    if request.encoding_format == "base64":
        encoded = _base64_rows(vectors)
        quote = b'"'
    else:
        encoded = [json.dumps(v.tolist()).encode() for v in vectors]
        quote = b""
    parts = [b'{"object": "list", "data": [']
    for index, value in enumerate(encoded):
        if index:
            parts.append(b", ")
        head = b'{"object": "embedding", "index": %d, "embedding": %s' % (index, quote)
        parts += (head, value, quote, b"}")
    usage = {"prompt_tokens": request.prompt_tokens, "total_tokens": request.prompt_tokens}
    parts.append(f'], "model": {json.dumps(request.model)}, "usage": {json.dumps(usage)}}}'.encode())
    return b"".join(parts)
