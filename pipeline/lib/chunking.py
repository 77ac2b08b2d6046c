"""Text preparation: hashing and the chunking policy for texts over the model's input limit.

Policy: a text within the limit is embedded whole. A longer text is cut at token boundaries into the
fewest windows that each fit CHUNK_TOKEN_BUDGET, of near-equal size, without overlap; each window is
embedded as its own chunk and search ranks a row by its best chunk. The budget stays a little under
the 8191-token input limit because decoding a window back to text and re-encoding it can shift a
token or two at the cut.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

from pipeline.lib.tokens import encoding_for_model

MODEL_INPUT_LIMIT = 8191
CHUNK_TOKEN_BUDGET = MODEL_INPUT_LIMIT - 64


def content_hash(text: str) -> str:
    """sha256 of the embedded text; equals SQL's encode(sha256(convert_to(text, 'UTF8')), 'hex')."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def clean_text(text: str | None) -> str:
    """Make any Python string safe to send: no NUL bytes, no lone surrogates (invalid Unicode)."""
    if not text:
        return ""
    text = text.replace("\x00", "")
    return text.encode("utf-8", errors="replace").decode("utf-8").strip()


@dataclass(frozen=True)
class Chunk:
    index: int
    text: str
    tokens: int


def chunk_text(text: str, model: str, budget: int = CHUNK_TOKEN_BUDGET) -> list[Chunk]:
    encoding = encoding_for_model(model)
    tokens = encoding.encode(text, disallowed_special=())
    if len(tokens) <= budget:
        return [Chunk(0, text, len(tokens))]
    pieces = math.ceil(len(tokens) / budget)
    size = math.ceil(len(tokens) / pieces)
    chunks = []
    for i in range(pieces):
        window = encoding.decode(tokens[i * size : (i + 1) * size])
        chunks.append(Chunk(i, window, len(encoding.encode(window, disallowed_special=()))))
    return chunks
