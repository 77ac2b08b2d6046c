"""One provider call with the shared limiter, classified retries and a ledger row per attempt."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Generic, TypeVar

import openai
from sqlalchemy.engine import Engine

from pipeline.db.usage_ledger import UsageRecord, record_usage
from pipeline.lib.backoff import retry_delay
from pipeline.lib.pricing import ModelPrice, cost_usd
from pipeline.llm.errors import InputRejectedError, ProviderFatalError, RequestFailedError, scrub
from pipeline.llm.limiter import SharedLimiter

log = logging.getLogger(__name__)
T = TypeVar("T")

_FATAL_CODES = {"insufficient_quota", "billing_hard_limit_reached", "invalid_api_key"}


class MalformedResponseError(Exception):
    """The provider answered 2xx with something we cannot use; retried like a 5xx."""


@dataclass(frozen=True)
class CallContext:
    workload: str
    business_id: int | None = None
    content_type: str | None = None
    run_id: str | None = None
    operation_id: int | None = None


@dataclass(frozen=True)
class Billed(Generic[T]):
    result: T
    input_tokens: int
    output_tokens: int
    cost_usd: Decimal


@dataclass
class ProviderCaller:
    engine: Engine
    limiter: SharedLimiter
    provider: str
    max_attempts: int
    secrets: tuple[str, ...] = ()
    before_call: Callable[[], None] | None = None  # e.g. the emergency-stop check

    def call(
        self,
        send: Callable[[], tuple[T, int, int, int]],
        *,
        ctx: CallContext,
        endpoint: str,
        price: ModelPrice,
        input_count: int,
        estimated_tokens: int,
    ) -> Billed[T]:
        """Run `send` (returning parsed result, http status, input and output tokens) until it succeeds,
        writing one ledger row per attempt, priced at `price`. Raises ProviderFatalError at once on
        quota/auth, InputRejectedError on a 400, RequestFailedError when transient errors outlast
        max_attempts."""
        base = UsageRecord(
            workload=ctx.workload,
            provider=self.provider,
            model=price.model,
            endpoint=endpoint,
            latency_ms=0,
            status="ok",
            business_id=ctx.business_id,
            content_type=ctx.content_type,
            run_id=ctx.run_id,
            operation_id=ctx.operation_id,
            input_count=input_count,
        )
        attempt = 0
        while True:
            attempt += 1
            if self.before_call is not None:
                self.before_call()
            with self.limiter.slot(estimated_tokens):
                started = time.monotonic()
                try:
                    result, status, tokens_in, tokens_out = send()
                except Exception as exc:  # classified below; every failure is ledgered first
                    latency = int((time.monotonic() - started) * 1000)
                    error_type, http_status, headers = _classify(exc)
                    record_usage(
                        self.engine,
                        replace(
                            base,
                            latency_ms=latency,
                            status="error",
                            http_status=http_status,
                            error_type=error_type,
                        ),
                    )
                    message = scrub(f"{type(exc).__name__}: {exc}", self.secrets)
                    if error_type in _FATAL_CODES or http_status in (401, 403):
                        raise ProviderFatalError(error_type, message) from None
                    if http_status == 400 or http_status == 422:
                        raise InputRejectedError(message) from None
                    if attempt >= self.max_attempts:
                        raise RequestFailedError(error_type, message) from None
                    delay = retry_delay(attempt, headers)
                    if error_type == "rate_limit_exceeded":
                        self.limiter.pause_all(delay)
                    log.warning(
                        "%s (attempt %d/%d); retrying in %.1fs", message, attempt, self.max_attempts, delay
                    )
                    time.sleep(delay)
                    continue
            latency = int((time.monotonic() - started) * 1000)
            cost = cost_usd(price, tokens_in, tokens_out)
            record_usage(
                self.engine,
                replace(
                    base,
                    latency_ms=latency,
                    status="ok",
                    http_status=status,
                    input_tokens=tokens_in,
                    output_tokens=tokens_out,
                    cost_usd=cost,
                    price_version=price.version,
                ),
            )
            return Billed(result, tokens_in, tokens_out, cost)


def _classify(exc: Exception) -> tuple[str, int | None, Mapping[str, str]]:
    if isinstance(exc, openai.APIStatusError):
        body = exc.body if isinstance(exc.body, dict) else {}
        inner = body.get("error", body) if isinstance(body, dict) else {}
        code = getattr(exc, "code", None) or (inner.get("code") if isinstance(inner, dict) else None)
        if exc.status_code == 429:
            error_type = "insufficient_quota" if code == "insufficient_quota" else "rate_limit_exceeded"
        else:
            error_type = str(code or f"http_{exc.status_code}")
        return error_type, exc.status_code, dict(exc.response.headers)
    if isinstance(exc, openai.APITimeoutError):
        return "timeout", None, {}
    if isinstance(exc, openai.APIConnectionError):
        return "connection_error", None, {}
    if isinstance(exc, MalformedResponseError | openai.APIResponseValidationError | ValueError):
        return "malformed_response", None, {}
    raise exc
