"""The chat completions endpoint, for column-batch generation."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import openai

from pipeline.db.usage_ledger import UsageRecord
from pipeline.lib.pricing import PriceBook, cost_usd
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

        def send() -> tuple[tuple[str, str], dict[str, str], int, int, int]:
            raw = self.client.chat.completions.with_raw_response.create(
                model=model, messages=messages, temperature=temperature, max_tokens=max_tokens, **extra
            )
            parsed = raw.parse()
            if not getattr(parsed, "choices", None):
                raise MalformedResponseError("no choices in the chat completion")
            choice = parsed.choices[0]
            usage = parsed.usage
            tokens_in = usage.prompt_tokens if usage else estimated_tokens
            tokens_out = usage.completion_tokens if usage else 0
            return (
                (choice.message.content or "", choice.finish_reason or ""),
                dict(raw.headers),
                raw.status_code,
                tokens_in,
                tokens_out,
            )

        billed: list[tuple[int, int, Decimal]] = []

        def bill(tokens_in: int, tokens_out: int) -> tuple[Decimal, str]:
            billed.append((tokens_in, tokens_out, cost_usd(price, tokens_in, tokens_out)))
            return billed[-1][2], price.version

        base = UsageRecord(
            workload=ctx.workload,
            provider=self.provider,
            model=model,
            endpoint="chat.completions",
            latency_ms=0,
            status="ok",
            business_id=ctx.business_id,
            content_type=ctx.content_type,
            run_id=ctx.run_id,
            operation_id=ctx.operation_id,
            input_count=len(messages),
        )
        content, finish = self.caller.call(send, base=base, estimated_tokens=estimated_tokens, price=bill)
        tokens_in, tokens_out, cost = billed[-1]
        return ChatAnswer(content, finish, tokens_in, tokens_out, cost)
