"""The chat completions endpoint, for column-batch generation."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import openai

from pipeline.lib.pricing import PriceBook
from pipeline.llm.calls import CallContext, MalformedResponseError, ProviderCaller


@dataclass(frozen=True)
class ChatAnswer:
    content: str
    finish_reason: str
    input_tokens: int
    output_tokens: int
    cost_usd: Decimal


@dataclass
class ChatService:
    client: openai.OpenAI
    caller: ProviderCaller
    prices: PriceBook

    @property
    def provider(self) -> str:
        return self.caller.provider

    def complete(
        self,
        *,
        model: str,
        messages: list[dict[str, str]],
        temperature: float,
        max_tokens: int,
        response_format: dict[str, Any] | None,
        estimated_tokens: int,
        ctx: CallContext,
    ) -> ChatAnswer:
        price = self.prices.price(model)
        extra = {"response_format": response_format} if response_format else {}

        def send() -> tuple[tuple[str, str], int, int, int]:
            raw = self.client.chat.completions.with_raw_response.create(
                model=model, messages=messages, temperature=temperature, max_tokens=max_tokens, **extra
            )
            parsed = raw.parse()
            if not getattr(parsed, "choices", None):
                raise MalformedResponseError("no choices in the chat completion")
            choice, usage = parsed.choices[0], parsed.usage
            tokens_in = usage.prompt_tokens if usage else estimated_tokens
            tokens_out = usage.completion_tokens if usage else 0
            return (
                (choice.message.content or "", choice.finish_reason or ""),
                raw.status_code,
                tokens_in,
                tokens_out,
            )

        billed = self.caller.call(
            send,
            ctx=ctx,
            endpoint="chat.completions",
            price=price,
            input_count=len(messages),
            estimated_tokens=estimated_tokens,
        )
        content, finish = billed.result
        return ChatAnswer(content, finish, billed.input_tokens, billed.output_tokens, billed.cost_usd)
