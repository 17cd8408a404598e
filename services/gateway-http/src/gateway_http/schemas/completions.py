"""Chat responses and stream chunks in OpenAI's wire shapes, encoded straight to bytes.

Gateway additions live under ``x_gateway`` (OpenAI SDKs keep unknown fields), e.g. the
provider that answered and the provider's own finish reason.
"""

from __future__ import annotations

from typing import Any

import msgspec
from gateway_core.domain.chat import ChatChunk, ChatResponse, ToolCallDelta
from gateway_core.domain.messages import Message
from gateway_core.domain.usage import Usage
from gateway_core.use_cases.chat_turn import TurnOutcome

_encode = msgspec.json.Encoder().encode


COST_HEADER = "x-gateway-cost-usd"


def cost_header_value(cost_usd: float) -> str:
    """The cost header's plain decimal: at most 10 decimals, no trailing zeros, ``0`` for none."""
    return f"{cost_usd:.10f}".rstrip("0").rstrip(".") or "0"


def usage_body(usage: Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_tokens},
    }


def message_body(message: Message) -> dict[str, Any]:
    body: dict[str, Any] = {"role": message.role, "content": message.content, "refusal": None}
    if message.tool_calls:
        body["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in message.tool_calls
        ]
    return body


def outcome_extension(outcome: TurnOutcome) -> dict[str, Any]:
    """The gateway's additions to an answer: its cost, cache result, and the tools it ran."""
    extension: dict[str, Any] = {"cost_usd": outcome.cost_usd}
    if outcome.response is not None and outcome.response.provider:
        extension["provider"] = outcome.response.provider
    if outcome.cache is not None:
        extension["cache"] = outcome.cache
    if outcome.tool_runs:
        extension["tool_runs"] = [
            {
                "name": run.name,
                "tool_call_id": run.tool_call_id,
                "success": run.success,
                "round": run.round,
                "duration_ms": round(run.duration_ms, 1),
                "error": run.error,
            }
            for run in outcome.tool_runs
        ]
    if outcome.notice:
        extension["notice"] = outcome.notice
    return extension


def completion_body(
    response: ChatResponse, extension: dict[str, Any] | None = None
) -> dict[str, Any]:
    native = {c.index: c.native_finish_reason for c in response.choices if c.native_finish_reason}
    gateway: dict[str, Any] = {"provider": response.provider, **(extension or {})}
    if native:
        gateway["native_finish_reason"] = native.get(0) if len(native) == 1 else native
    body = {
        "id": response.id,
        "object": "chat.completion",
        "created": response.created,
        "model": response.model,
        "choices": [
            {
                "index": choice.index,
                "message": message_body(choice.message),
                "finish_reason": choice.finish_reason,
                "logprobs": None,
            }
            for choice in response.choices
        ],
        "usage": usage_body(response.usage),
        "system_fingerprint": response.system_fingerprint,
        "x_gateway": gateway,
    }
    return body


def encode_completion(response: ChatResponse, extension: dict[str, Any] | None = None) -> bytes:
    return _encode(completion_body(response, extension))


def _tool_call_delta(delta: ToolCallDelta) -> dict[str, Any]:
    body: dict[str, Any] = {"index": delta.index}
    function: dict[str, Any] = {"arguments": delta.arguments}
    if delta.id is not None:
        body["id"] = delta.id
        body["type"] = "function"
    if delta.name is not None:
        function["name"] = delta.name
    body["function"] = function
    return body


class ChunkEncoder:
    """Encodes a stream's chunks as SSE ``data:`` events sharing one id, created and model."""

    def __init__(self, completion_id: str, created: int, model: str) -> None:
        self.id = completion_id
        self.created = created
        self.model = model

    def _event(self, body: dict[str, Any]) -> bytes:
        return b"data: " + _encode(body) + b"\n\n"

    def _envelope(self, choices: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": choices,
        }

    def chunk(self, chunk: ChatChunk, extension: dict[str, Any] | None = None) -> bytes:
        delta: dict[str, Any] = {}
        if chunk.role is not None:
            delta["role"] = chunk.role
        if chunk.content is not None:
            delta["content"] = chunk.content
        if chunk.tool_calls:
            delta["tool_calls"] = [_tool_call_delta(d) for d in chunk.tool_calls]
        choice = {
            "index": chunk.index,
            "delta": delta,
            "finish_reason": chunk.finish_reason,
            "logprobs": None,
        }
        body = self._envelope([choice])
        if extension is not None or chunk.native_finish_reason is not None:
            body["x_gateway"] = dict(extension or {})
            if chunk.native_finish_reason is not None:
                body["x_gateway"]["native_finish_reason"] = chunk.native_finish_reason
        return self._event(body)

    def usage(self, usage: Usage, extension: dict[str, Any] | None = None) -> bytes:
        body = self._envelope([])
        body["usage"] = usage_body(usage)
        if extension:
            body["x_gateway"] = extension
        return self._event(body)

    def error(self, error: dict[str, Any]) -> bytes:
        return self._event(error)

    @staticmethod
    def done() -> bytes:
        return b"data: [DONE]\n\n"
