"""Builds the official OpenAI client, or points it at the offline stand-in when no key is set."""

from __future__ import annotations

import logging
import threading

import openai

from pipeline.settings import Settings

log = logging.getLogger(__name__)

OFFLINE_PROVIDER = "offline-standin"
_standin_lock = threading.Lock()
_standin = None


def standin_base_url() -> str:
    """One stand-in server per process, started on first use on a loopback port."""
    global _standin
    with _standin_lock:
        if _standin is None:
            from pipeline.openai_standin import StandinServer

            _standin = StandinServer().start()
            log.warning(
                "OPENAI_API_KEY is not set: using the offline, deterministic OpenAI stand-in at %s. "
                "Vectors and generated text are placeholders; set OPENAI_API_KEY for real ones.",
                _standin.base_url,
            )
        return _standin.base_url


def build_client(settings: Settings) -> tuple[openai.OpenAI, str]:
    """The client and the provider label recorded in the ledger and asset metadata."""
    # max_retries=0: we retry ourselves, because the SDK would also retry insufficient_quota 429s
    # and cannot share a backoff with other processes.
    if settings.openai_api_key is not None:
        client = openai.OpenAI(
            api_key=settings.openai_api_key.get_secret_value(),
            base_url=settings.openai_base_url,
            timeout=settings.openai_timeout_seconds,
            max_retries=0,
        )
        return client, "openai"
    client = openai.OpenAI(
        api_key=OFFLINE_PROVIDER,
        base_url=standin_base_url(),
        timeout=settings.openai_timeout_seconds,
        max_retries=0,
    )
    return client, OFFLINE_PROVIDER
