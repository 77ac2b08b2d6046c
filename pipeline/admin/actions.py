"""Admin actions, one implementation for the Dagster jobs and the CLI; each is recorded (who, when,
what, result) in admin_actions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Engine

from pipeline.content_types import CONTENT_TYPES
from pipeline.db import admin as sql
from pipeline.db import usage_reports
from pipeline.db.coverage import coverage
from pipeline.db.embedding_store import ChunkVector
from pipeline.db.vectors import ensure_vector_index
from pipeline.lib.chunking import chunk_text, content_hash
from pipeline.lib.packing import Packable, pack
from pipeline.llm.calls import CallContext
from pipeline.resources.openai import OpenAIResource
from pipeline.settings import get_settings

MIN_RETENTION_DAYS = 1


class AdminInputError(ValueError):
    pass


def audited(
    engine: Engine, action: str, actor: str, params: dict[str, Any], body: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    action_id = sql.start_action(engine, action, actor, params)
    try:
        result = body()
    except Exception as exc:
        sql.finish_action(engine, action_id, "failed", {"error": f"{type(exc).__name__}: {exc}"})
        raise
    sql.finish_action(engine, action_id, "succeeded", result)
    return {"action_id": action_id, **result}


def _require_business(engine: Engine, business_id: int | None) -> None:
    if business_id is None:
        return
    with engine.connect() as conn:
        if not usage_reports.business_exists(conn, business_id):
            raise AdminInputError(f"Unknown business {business_id}; `pipeline status` lists the businesses.")


def retry_failed(engine: Engine, actor: str, business_id: int | None = None) -> dict[str, Any]:
    _require_business(engine, business_id)

    def body() -> dict[str, Any]:
        with engine.begin() as conn:
            return {"rows_made_due": sql.retry_failures(conn, business_id)}

    return audited(engine, "retry_failed", actor, {"business_id": business_id}, body)


def reconcile(engine: Engine, actor: str, openai: OpenAIResource) -> dict[str, Any]:
    def body() -> dict[str, Any]:
        model, dims = openai.embedding_target()
        with engine.begin() as conn:
            drift = [
                (c.content_type, c.business_id) for c in coverage(conn, model, dims) if c.drifted(model, dims)
            ]
            sql.enqueue_partitions(conn, drift)
        settings = get_settings()
        memory, workers = settings.vector_index_build_memory, settings.vector_index_build_workers
        built = ensure_vector_index(engine, dims, memory, workers, concurrently=True)  # searches go on
        return {"partitions_queued": len(drift), "vector_index_built": built}

    return audited(engine, "reconcile", actor, {}, body)


def cleanup(engine: Engine, actor: str, days: int = 90) -> dict[str, Any]:
    if days < MIN_RETENTION_DAYS:
        raise AdminInputError(f"days must be at least {MIN_RETENTION_DAYS}, got {days}.")

    def body() -> dict[str, Any]:
        with engine.begin() as conn:
            return sql.cleanup(conn, days)

    return audited(engine, "cleanup", actor, {"days": days}, body)


def regenerate(engine: Engine, actor: str, business_id: int, openai: OpenAIResource) -> dict[str, Any]:
    """Re-embed every row of a business into the shadow table, then swap it in atomically."""
    _require_business(engine, business_id)
    service = openai.embedding_service()
    params = {"business_id": business_id, "model": service.model, "dimensions": service.dimensions}

    def body() -> dict[str, Any]:
        ensure_vector_index(engine, service.dimensions, concurrently=True)
        regeneration_id = sql.start_action(engine, "regenerate_shadow", actor, params)
        embedded, tokens = 0, 0
        settings = get_settings()
        for ct in CONTENT_TYPES:
            with engine.connect() as conn:
                docs = [
                    (cid, text) for cid, text in sql.business_documents(conn, ct.name, business_id) if text
                ]
            prepared = [(cid, text, chunk_text(text, service.model)) for cid, text in docs]
            items = [Packable(p, sum(c.tokens for c in p[2]), len(p[1].encode())) for p in prepared]
            for request in pack(
                items, settings.embedding_max_inputs_per_request, settings.embedding_max_tokens_per_request
            ):
                texts = [c.text for item in request for c in item.item[2]]
                batch = service.embed(
                    texts,
                    sum(item.tokens for item in request),
                    CallContext("embedding_sync", business_id, ct.name),
                )
                vectors = iter(batch.vectors)
                rows = [
                    ChunkVector(
                        cid, c.index, len(chunks), content_hash(text), c.tokens, c.text, next(vectors)
                    )
                    for cid, text, chunks in (item.item for item in request)
                    for c in chunks
                ]
                with engine.begin() as conn:
                    sql.write_shadow(
                        conn, regeneration_id, business_id, ct.name, service.model, service.dimensions, rows
                    )
                embedded, tokens = embedded + len(request), tokens + batch.input_tokens
        with engine.begin() as conn:
            swapped = sql.swap_in_shadow(conn, business_id, regeneration_id)
        sql.finish_action(engine, regeneration_id, "succeeded", {"chunks": swapped})
        return {"rows_embedded": embedded, "chunks_swapped_in": swapped, "tokens": tokens}

    return audited(engine, "regenerate", actor, params, body)
