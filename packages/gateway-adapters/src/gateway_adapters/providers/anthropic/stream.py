"""Anthropic's streamed Messages events as OpenAI-style chunks, one event at a time. Pure.

The events (https://docs.anthropic.com/en/docs/build-with-claude/streaming): message_start,
then per content block content_block_start / content_block_delta... / content_block_stop,
message_delta (stop reason, output usage), message_stop; ping at any time; error at any time.
Tool calls are numbered among tool_use blocks only, from 0, as OpenAI's ``index`` is; thinking
streams as ``reasoning_content`` pieces, and each whole thinking block (signature included)
as one ``thinking_blocks`` delta when it ends; server-tool blocks are not shown.
"""

from __future__ import annotations

import msgspec

from gateway_adapters.providers.anthropic.errors import error_from_event
from gateway_adapters.providers.anthropic.schema import (
    ContentBlock,
    Delta,
    ErrorDetail,
    StreamEvent,
    TokenUsage,
)
from gateway_adapters.providers.anthropic.wire import finish_reason, thinking_block, tool_arguments
from gateway_core.domain.chat import ChatChunk, ToolCallDelta
from gateway_core.errors import UpstreamConnectionError, UpstreamResponseError

_event_decoder = msgspec.json.Decoder(StreamEvent)


class StreamTranslator:
    """Feed it each event's data; it returns the chunks to emit. Call ``finish`` at the end."""

    def __init__(self, provider: str) -> None:
        self._provider = provider
        self._usage = TokenUsage()
        self._tool_index: dict[int, int] = {}  # content block index -> tool call ordinal
        self._tool_has_input: set[int] = set()
        self._thinking: dict[int, ContentBlock] = {}  # open thinking blocks, by block index
        self._stopped = False

    def feed(self, data: str) -> list[ChatChunk]:
        try:
            event = _event_decoder.decode(data)
        except msgspec.DecodeError:
            raise UpstreamResponseError(
                f"{self._provider} sent a stream event that is not valid JSON",
                provider=self._provider,
            ) from None
        handler = _HANDLERS.get(event.type)
        return handler(self, event) if handler is not None else []  # ping, or a new event type

    def finish(self) -> None:
        """Raise if the stream ended before message_stop: the answer is incomplete."""
        if not self._stopped:
            raise UpstreamConnectionError(
                f"{self._provider} ended the stream before it was complete",
                provider=self._provider,
            )

    def _message_start(self, event: StreamEvent) -> list[ChatChunk]:
        model = None
        if event.message is not None:
            self._usage = event.message.usage
            model = event.message.model
        # No content yet: an answer of only tool calls has content null, as complete() says.
        return [ChatChunk(role="assistant", model=model)]

    def _block_start(self, event: StreamEvent) -> list[ChatChunk]:
        block = event.content_block
        if block is None:
            return []
        if block.type == "text":
            return [ChatChunk(content=block.text)] if block.text else []
        if block.type in ("thinking", "redacted_thinking"):
            self._thinking[event.index] = block
            return [ChatChunk(reasoning_content=block.thinking)] if block.thinking else []
        if block.type != "tool_use":
            return []
        ordinal = len(self._tool_index)
        self._tool_index[event.index] = ordinal
        call = ToolCallDelta(index=ordinal, id=block.id, name=block.name, arguments="")
        return [ChatChunk(tool_calls=(call,))]

    def _block_delta(self, event: StreamEvent) -> list[ChatChunk]:
        delta = event.delta
        if delta is None:
            return []
        if delta.type == "text_delta":
            return [ChatChunk(content=delta.text)] if delta.text else []
        if delta.type in ("thinking_delta", "signature_delta"):
            return self._thinking_delta(event.index, delta)
        ordinal = self._tool_index.get(event.index)
        if delta.type != "input_json_delta" or ordinal is None or not delta.partial_json:
            return []  # citation deltas are not shown
        self._tool_has_input.add(event.index)
        return [ChatChunk(tool_calls=(ToolCallDelta(index=ordinal, arguments=delta.partial_json),))]

    def _thinking_delta(self, index: int, delta: Delta) -> list[ChatChunk]:
        block = self._thinking.get(index)
        if block is None:
            return []
        block.thinking += delta.thinking
        block.signature += delta.signature
        return [ChatChunk(reasoning_content=delta.thinking)] if delta.thinking else []

    def _block_stop(self, event: StreamEvent) -> list[ChatChunk]:
        thinking = self._thinking.pop(event.index, None)
        if thinking is not None:
            # Whole, signature included, once the block ends: the client sends it back as is.
            return [ChatChunk(delta_extra={"thinking_blocks": [thinking_block(thinking)]})]
        ordinal = self._tool_index.get(event.index)
        if ordinal is None or event.index in self._tool_has_input:
            return []
        # A tool without arguments streams no JSON at all; complete() says "{}" for it.
        return [ChatChunk(tool_calls=(ToolCallDelta(index=ordinal, arguments=tool_arguments({})),))]

    def _message_delta(self, event: StreamEvent) -> list[ChatChunk]:
        if event.usage is not None:
            self._usage = self._usage.updated(event.usage)
        stop_reason = event.delta.stop_reason if event.delta is not None else None
        if stop_reason is None:
            return []
        return [
            ChatChunk(finish_reason=finish_reason(stop_reason), native_finish_reason=stop_reason)
        ]

    def _message_stop(self, event: StreamEvent) -> list[ChatChunk]:
        self._stopped = True
        return [ChatChunk(usage=self._usage.to_usage())]

    def _error(self, event: StreamEvent) -> list[ChatChunk]:
        detail = event.error or ErrorDetail()
        raise error_from_event(detail.type, detail.message, provider=self._provider)


_HANDLERS = {
    "message_start": StreamTranslator._message_start,
    "content_block_start": StreamTranslator._block_start,
    "content_block_delta": StreamTranslator._block_delta,
    "content_block_stop": StreamTranslator._block_stop,
    "message_delta": StreamTranslator._message_delta,
    "message_stop": StreamTranslator._message_stop,
    "error": StreamTranslator._error,
}
