"""The shapes of Anthropic's answers, as msgspec structs: decoding them is validating them.

One struct per JSON object, each with every field the translation reads; fields it does not
read are dropped, and new content block or event types decode too (their ``type`` says so).
"""

from __future__ import annotations

from typing import Any

import msgspec

from gateway_core.domain.usage import Usage


class ContentBlock(msgspec.Struct):
    """Any content block; fields other types lack keep their defaults, unknown ones are dropped."""

    type: str
    text: str = ""
    id: str = ""
    name: str = ""
    input: dict[str, Any] = msgspec.field(default_factory=dict)
    thinking: str = ""
    signature: str = ""
    data: str = ""
    """A ``redacted_thinking`` block's encrypted thinking."""


class TokenUsage(msgspec.Struct):
    """``None`` means "not reported", which matters when a message_delta updates message_start."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_input_tokens: int | None = None
    cache_creation_input_tokens: int | None = None

    def updated(self, later: TokenUsage) -> TokenUsage:
        """Counts in a later report are cumulative totals: they replace, never add."""
        pairs = zip(msgspec.structs.astuple(self), msgspec.structs.astuple(later), strict=True)
        return TokenUsage(*(new if new is not None else old for old, new in pairs))

    def to_usage(self) -> Usage:
        # Anthropic's input_tokens excludes cached input; OpenAI's prompt_tokens includes it.
        cache_read = self.cache_read_input_tokens or 0
        cache_write = self.cache_creation_input_tokens or 0
        return Usage(
            prompt_tokens=(self.input_tokens or 0) + cache_read + cache_write,
            completion_tokens=self.output_tokens or 0,
            cached_tokens=cache_read,
            cache_write_tokens=cache_write,
        )


class MessageBody(msgspec.Struct):
    id: str
    model: str
    content: list[ContentBlock]
    stop_reason: str | None = None
    usage: TokenUsage = msgspec.field(default_factory=TokenUsage)


class Delta(msgspec.Struct):
    type: str = ""
    text: str = ""
    partial_json: str = ""
    thinking: str = ""
    signature: str = ""
    stop_reason: str | None = None


class ErrorDetail(msgspec.Struct):
    type: str = ""
    message: str = ""


class StreamEvent(msgspec.Struct):
    """Every event type in one shape; each uses the fields it has."""

    type: str
    message: MessageBody | None = None
    index: int = 0
    content_block: ContentBlock | None = None
    delta: Delta | None = None
    usage: TokenUsage | None = None
    error: ErrorDetail | None = None


class ErrorBody(msgspec.Struct):
    error: ErrorDetail = msgspec.field(default_factory=ErrorDetail)
