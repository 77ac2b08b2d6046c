"""OpenAI-shaped errors, scripted faults and the sliding-window rate limiter of the stand-in server."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

FAULT_KINDS = frozenset(
    {
        "rate_limit",
        "insufficient_quota",
        "server_error",
        "timeout",
        "malformed_json",
        "wrong_count",
        "malformed_content",
        "auth",
        "latency",
    }
)
WINDOW_SECONDS = 60.0
# Reported (never enforced) when no limit is configured, roughly a high usage tier.
DEFAULT_RPM = 10_000
DEFAULT_TPM = 10_000_000


@dataclass(frozen=True)
class Fault:
    kind: str
    params: dict[str, Any] = field(default_factory=dict)


class ApiError(Exception):
    """An error answered as `{"error": {"message", "type", "param", "code"}}`, the shape the client parses."""

    def __init__(
        self,
        status: int,
        message: str,
        type_: str = "invalid_request_error",
        *,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
        self.headers = headers or {}


def retry_after_headers(seconds: float) -> dict[str, str]:
    # The client prefers retry-after-ms and accepts fractional seconds in Retry-After.
    return {"Retry-After": f"{max(seconds, 0.0):g}", "retry-after-ms": str(max(round(seconds * 1000), 0))}


def rate_limit_error(message: str, limit_type: str, retry_after: float) -> ApiError:
    return ApiError(
        429, message, limit_type, code="rate_limit_exceeded", headers=retry_after_headers(retry_after)
    )


def fault_error(fault: Fault) -> ApiError | None:
    """The error a fault answers with, or None for faults that change how a normal answer is given."""
    if fault.kind == "rate_limit":
        retry_after = float(fault.params.get("retry_after", 1.0))
        message = f"Rate limit reached (injected fault). Please try again in {retry_after:g}s."
        return rate_limit_error(message, "requests", retry_after)
    if fault.kind == "insufficient_quota":
        message = "You exceeded your current quota, please check your plan and billing details."
        return ApiError(429, message, "insufficient_quota", code="insufficient_quota")
    if fault.kind == "server_error":
        message = "The server had an error while processing your request. Sorry about that!"
        return ApiError(500, message, "server_error")
    if fault.kind == "auth":
        # The real API quotes (part of) the key it was given; the server fills in {key} with all of it,
        # the worst case for anything that logs error messages.
        message = (
            "Incorrect API key provided: {key}. You can find your API key at https://platform.openai.com."
        )
        return ApiError(401, message, code="invalid_api_key")
    return None


def format_duration(seconds: float) -> str:
    """Durations the way OpenAI's x-ratelimit-reset-* headers spell them: "250ms", "1s", "6m0s"."""
    if seconds < 1:
        return f"{max(round(seconds * 1000), 0)}ms"
    minutes, secs = divmod(round(seconds, 3), 60)
    text = f"{secs:.3f}".rstrip("0").rstrip(".") + "s"
    return f"{int(minutes)}m{text}" if minutes else text


class RateWindow:
    """Requests and tokens admitted over the last 60 s; enforces the limits that are set."""

    def __init__(self, rpm_limit: int | None, tpm_limit: int | None) -> None:
        self.rpm_limit = rpm_limit
        self.tpm_limit = tpm_limit
        self._lock = threading.Lock()
        self._entries: deque[tuple[float, int]] = deque()

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def _expire(self, now: float) -> None:
        while self._entries and self._entries[0][0] <= now - WINDOW_SECONDS:
            self._entries.popleft()

    def admit(self, tokens: int, now: float, model: str) -> None:
        """Record the request, or raise a 429 ApiError when it would exceed a configured limit."""
        with self._lock:
            self._expire(now)
            used = sum(t for _, t in self._entries)
            if self.rpm_limit is not None and len(self._entries) >= self.rpm_limit:
                wait = self._entries[0][0] + WINDOW_SECONDS - now if self._entries else WINDOW_SECONDS
                raise rate_limit_error(
                    self._message(model, "requests", "RPM", self.rpm_limit, len(self._entries), 1, wait),
                    "requests",
                    wait,
                )
            if self.tpm_limit is not None and used + tokens > self.tpm_limit:
                wait = WINDOW_SECONDS  # a request larger than the whole limit never fits
                freed = 0
                for stamp, spent in self._entries:
                    freed += spent
                    if used - freed + tokens <= self.tpm_limit:
                        wait = stamp + WINDOW_SECONDS - now
                        break
                raise rate_limit_error(
                    self._message(model, "tokens", "TPM", self.tpm_limit, used, tokens, wait), "tokens", wait
                )
            self._entries.append((now, tokens))

    @staticmethod
    def _message(
        model: str, unit: str, short: str, limit: int, used: int, requested: int, wait: float
    ) -> str:
        return (
            f"Rate limit reached for {model} in organization org-standin on {unit} per min ({short}): "
            f"Limit {limit}, Used {used}, Requested {requested}. Please try again in {format_duration(wait)}."
        )

    def headers(self, now: float) -> dict[str, str]:
        with self._lock:
            self._expire(now)
            count = len(self._entries)
            used = sum(t for _, t in self._entries)
            # OpenAI reports the time until the limit is back to its initial state: here, when the newest
            # admitted request leaves the window.
            reset = format_duration(self._entries[-1][0] + WINDOW_SECONDS - now if self._entries else 0.0)
        rpm = self.rpm_limit if self.rpm_limit is not None else DEFAULT_RPM
        tpm = self.tpm_limit if self.tpm_limit is not None else DEFAULT_TPM
        return {
            "x-ratelimit-limit-requests": str(rpm),
            "x-ratelimit-limit-tokens": str(tpm),
            "x-ratelimit-remaining-requests": str(max(rpm - count, 0)),
            "x-ratelimit-remaining-tokens": str(max(tpm - used, 0)),
            "x-ratelimit-reset-requests": reset,
            "x-ratelimit-reset-tokens": reset,
        }
