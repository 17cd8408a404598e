"""Ollama over its native chat API (``/api/chat``, NDJSON streams)."""

from gateway_adapters.providers.ollama.adapter import OllamaChatProvider

__all__ = ["OllamaChatProvider"]
