"""Provider errors, sorted by what the caller must do about them."""

from __future__ import annotations

import re

_KEY_LIKE = re.compile(r"\b(sk-[A-Za-z0-9_\-*]{6,}|Bearer\s+\S+)")


def scrub(message: str, secrets: tuple[str, ...] = ()) -> str:
    """Remove API keys from a message before it reaches a log, metadata or the database."""
    for secret in secrets:
        if secret:
            message = message.replace(secret, "[redacted]")
    return _KEY_LIKE.sub("[redacted]", message)


class ProviderError(RuntimeError):
    error_type = "provider_error"


class ProviderFatalError(ProviderError):
    """Retrying cannot help (no quota, bad key): stop the run at once, no retry storm."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


class InputRejectedError(ProviderError):
    """The provider refused the input itself (HTTP 400); the rows in it need isolating."""

    error_type = "input_rejected"


class RequestFailedError(ProviderError):
    """Transient failures persisted through every retry."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


class EmergencyStopError(ProviderFatalError):
    """The global emergency stop is on: no API call may be made until it is switched off."""

    def __init__(
        self, message: str = "The emergency stop is on; `pipeline emergency-stop off` lifts it."
    ) -> None:
        super().__init__("emergency_stop", message)
