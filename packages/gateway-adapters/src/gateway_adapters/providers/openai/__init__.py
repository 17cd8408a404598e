"""OpenAI Chat Completions, and every OpenAI-compatible server (by configuration only)."""

from gateway_adapters.providers.openai.adapter import OpenAIChatProvider

__all__ = ["OpenAIChatProvider"]
