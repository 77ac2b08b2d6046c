"""search(business_id, query, k): the chatbot's retrieval, isolated per tenant by the database."""

from __future__ import annotations

import sqlalchemy as sa

from pipeline.db.engine import get_engine
from pipeline.db.search import SearchHit, nearest
from pipeline.lib.chunking import CHUNK_TOKEN_BUDGET, clean_text
from pipeline.lib.tokens import count_tokens
from pipeline.llm.calls import CallContext
from pipeline.resources.openai import OpenAIResource


class SearchInputError(ValueError):
    pass


def search(business_id: int, query: str, k: int = 5, openai: OpenAIResource | None = None) -> list[SearchHit]:
    if not 1 <= k <= 100:
        raise SearchInputError(f"k must be between 1 and 100, got {k}.")
    text = clean_text(query)
    if not text:
        raise SearchInputError("The search query is empty; pass some words to search for.")
    engine = get_engine()
    with engine.connect() as conn:
        exists = conn.execute(sa.text("SELECT 1 FROM businesses WHERE id = :b"), {"b": business_id}).first()
    if exists is None:
        raise SearchInputError(f"Unknown business {business_id}; `pipeline status` lists the businesses.")
    service = (openai or OpenAIResource()).embedding_service()
    tokens = count_tokens(text, service.model)
    if tokens > CHUNK_TOKEN_BUDGET:
        raise SearchInputError(f"The query has {tokens} tokens; keep it under {CHUNK_TOKEN_BUDGET}.")
    vector = service.embed([text], tokens, CallContext("search", business_id)).vectors[0]
    with engine.begin() as conn:
        return nearest(conn, business_id, vector, service.model, service.dimensions, k)
