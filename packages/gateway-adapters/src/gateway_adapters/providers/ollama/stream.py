"""Ollama's NDJSON stream, one decoded line at a time, as the gateway's chat chunks. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway_adapters.providers.ollama.wire import (
    answer_object,
    done_reason_from_wire,
    finish_reason,
    json_object,
    tool_calls_from_wire,
    usage_from_wire,
)
from gateway_core.domain.chat import ChatChunk, ToolCallDelta
from gateway_core.errors import UpstreamConnectionError


class StreamTranslator:
    """The chunks of one streamed answer: a role chunk first, content and tool calls as the
    lines bring them, then finish_reason and usage once the ``done: true`` line arrives.

    Raises UpstreamServerError for an ``{"error": ...}`` line, UpstreamResponseError for a
    line it cannot use, and (from ``finish``) UpstreamConnectionError for a stream cut short.
    """

    def __init__(self, *, provider: str, fallback_model: str) -> None:
        self._provider = provider
        self._fallback_model = fallback_model
        self._started = False
        self._tool_calls_seen = 0
        self.done = False

    def feed(self, line: Any) -> list[ChatChunk]:
        payload = answer_object(line, self._provider)
        chunks: list[ChatChunk] = []
        if not self._started:
            self._started = True
            model = payload.get("model") or self._fallback_model
            chunks.append(ChatChunk(role="assistant", content="", model=model))
        if payload.get("message") is not None:
            message = json_object(payload["message"], self._provider, "message")
            chunks.extend(self._message_chunks(message))
        if payload.get("done") is True:
            self.done = True
            chunks.extend(self._final_chunks(payload))
        return chunks

    def finish(self) -> None:
        """Call when the lines run out: an answer without its done line was cut short."""
        if not self.done:
            raise UpstreamConnectionError(
                f"{self._provider} ended the stream before the answer was done.",
                provider=self._provider,
            )

    def _message_chunks(self, message: Mapping[str, Any]) -> list[ChatChunk]:
        chunks: list[ChatChunk] = []
        content = message.get("content")
        if isinstance(content, str) and content:
            chunks.append(ChatChunk(content=content))
        calls = tool_calls_from_wire(
            message.get("tool_calls"), provider=self._provider, first_position=self._tool_calls_seen
        )
        for call in calls:
            # Ollama sends each call whole, so one delta carries id, name and all arguments.
            delta = ToolCallDelta(self._tool_calls_seen, call.id, call.name, call.arguments)
            chunks.append(ChatChunk(tool_calls=(delta,)))
            self._tool_calls_seen += 1
        return chunks

    def _final_chunks(self, payload: Mapping[str, Any]) -> list[ChatChunk]:
        done_reason = done_reason_from_wire(payload, self._provider)
        reason = finish_reason(done_reason, has_tool_calls=self._tool_calls_seen > 0)
        return [
            ChatChunk(finish_reason=reason, native_finish_reason=done_reason),
            ChatChunk(usage=usage_from_wire(payload)),
        ]
