"""Anthropic's Messages API: adapter (HTTP), wire (pure translation), stream (pure), errors."""

from gateway_adapters.providers.anthropic.adapter import AnthropicChatProvider

__all__ = ["AnthropicChatProvider"]
