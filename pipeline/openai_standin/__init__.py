"""Offline, deterministic stand-in for the OpenAI API (also the fault-injecting fake used by tests)."""

from pipeline.openai_standin.server import RecordedRequest, StandinServer

__all__ = ["RecordedRequest", "StandinServer"]
