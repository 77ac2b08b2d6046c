"""The OpenAI resource: the official client behind a shared limiter, retries and the usage ledger."""

from __future__ import annotations

import dagster as dg
import openai
from pydantic import PrivateAttr
from sqlalchemy.engine import Engine

from pipeline.db import emergency_stop
from pipeline.db.engine import get_engine
from pipeline.db.usage_ledger import load_price_book
from pipeline.llm.calls import ProviderCaller
from pipeline.llm.chat import ChatService
from pipeline.llm.client import build_client
from pipeline.llm.embeddings import EmbeddingService, effective_dimensions
from pipeline.llm.errors import EmergencyStopError
from pipeline.llm.limiter import SharedLimiter
from pipeline.settings import get_settings


def refuse_during_emergency_stop(engine: Engine) -> None:
    if emergency_stop.is_active(engine):
        raise EmergencyStopError()


class OpenAIResource(dg.ConfigurableResource):
    """Model and limits default to the environment (see README); the API key is only ever read from
    OPENAI_API_KEY and never appears in config, logs or metadata."""

    embedding_model: str | None = None
    embedding_dimensions: int | None = None

    _caller: ProviderCaller | None = PrivateAttr(default=None)
    _client: openai.OpenAI | None = PrivateAttr(default=None)

    def caller(self) -> tuple[openai.OpenAI, ProviderCaller]:
        if self._caller is None or self._client is None:
            settings, engine = get_settings(), get_engine()
            self._client, provider = build_client(settings)
            limiter = SharedLimiter(
                engine, "openai", settings.openai_rpm, settings.openai_tpm, settings.openai_max_concurrency
            )
            secrets = (settings.openai_api_key.get_secret_value(),) if settings.openai_api_key else ()
            self._caller = ProviderCaller(
                engine,
                limiter,
                provider,
                settings.openai_max_attempts,
                secrets,
                before_call=lambda: refuse_during_emergency_stop(engine),
            )
        return self._client, self._caller

    def embedding_target(self) -> tuple[str, int]:
        """(model, dimensions) the vectors must have; no client or network needed."""
        settings = get_settings()
        model = self.embedding_model or settings.embedding_model
        return model, effective_dimensions(model, self.embedding_dimensions or settings.embedding_dimensions)

    def embedding_service(self) -> EmbeddingService:
        client, caller = self.caller()
        settings = get_settings()
        return EmbeddingService(
            client=client,
            caller=caller,
            prices=load_price_book(caller.engine),
            model=self.embedding_model or settings.embedding_model,
            requested_dimensions=self.embedding_dimensions or settings.embedding_dimensions,
        )

    def chat_service(self) -> ChatService:
        client, caller = self.caller()
        return ChatService(client=client, caller=caller, prices=load_price_book(caller.engine))
