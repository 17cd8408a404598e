"""Chat responses and stream chunks in OpenAI's wire shapes, encoded straight to bytes.

Gateway additions live under ``x_gateway`` (OpenAI SDKs keep unknown fields), e.g. the
provider that answered and the provider's own finish reason. Fields a provider returned that
the gateway does not model (the values' ``extra``) are written back as they came.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from gateway_core.domain.chat import ChatChunk, ChatResponse, Choice, ToolCallDelta
from gateway_core.domain.messages import Message
from gateway_core.domain.money import Money
from gateway_core.domain.usage import Usage
from gateway_core.use_cases.chat_turn import TurnOutcome

_encode = msgspec.json.Encoder().encode


COST_HEADER = "x-gateway-cost-usd"


def cost_header_value(cost_usd: Money) -> str:
    """The cost header's plain decimal: no exponent, no trailing zeros, ``0`` for none (a
    call's cost has at most ten decimals: ``pricing`` rounds it so)."""
    return str(cost_usd)


def usage_body(usage: Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
        "prompt_tokens_details": {
            "cached_tokens": usage.cached_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
        },
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }


def message_body(message: Message) -> dict[str, Any]:
    body: dict[str, Any] = {"role": message.role, "content": message.content, "refusal": None}
    if message.extra:
        body.update(message.extra)
    if message.reasoning_content is not None:
        body["reasoning_content"] = message.reasoning_content
    if message.tool_calls:
        body["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in message.tool_calls
        ]
    return body


def _choice_body(choice: Choice) -> dict[str, Any]:
    body: dict[str, Any] = {"index": choice.index, "logprobs": None}
    if choice.extra:
        body.update(choice.extra)
    body["message"] = message_body(choice.message)
    body["finish_reason"] = choice.finish_reason
    return body


def outcome_extension(outcome: TurnOutcome) -> dict[str, Any]:
    """The gateway's additions to an answer: its cost, cache result, and the tools it ran."""
    extension: dict[str, Any] = {"cost_usd": outcome.cost_usd.to_float()}
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
    if outcome.dropped_params:
        extension["dropped_params"] = list(outcome.dropped_params)
    return extension


def completion_body(
    response: ChatResponse, extension: dict[str, Any] | None = None
) -> dict[str, Any]:
    native = {c.index: c.native_finish_reason for c in response.choices if c.native_finish_reason}
    gateway: dict[str, Any] = {"provider": response.provider, **(extension or {})}
    if response.dropped_params:
        gateway["dropped_params"] = list(response.dropped_params)
    if native:
        gateway["native_finish_reason"] = native.get(0) if len(native) == 1 else native
    body: dict[str, Any] = dict(response.extra) if response.extra else {}
    body |= {
        "id": response.id,
        "object": "chat.completion",
        "created": response.created,
        "model": response.model,
        "choices": [_choice_body(choice) for choice in response.choices],
        "usage": usage_body(response.usage),
        "system_fingerprint": response.system_fingerprint,
        "x_gateway": gateway,
    }
    return body


def encode_completion(response: ChatResponse, extension: dict[str, Any] | None = None) -> bytes:
    return _encode(completion_body(response, extension))


def with_extension(event: bytes, extension: dict[str, Any]) -> bytes:
    """A relayed event (``data: {...}`` and its blank line) with ``x_gateway`` added as its
    object's last field; every byte before it stays as the upstream sent it. An event that
    does not end in an object goes as it came."""
    if not event.endswith(b"}\n\n"):
        return event
    head = event[:-3]
    comma = b"" if head.rstrip().endswith(b"{") else b","
    return head + comma + b'"x_gateway":' + _encode(extension) + b"}\n\n"


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
        delta: dict[str, Any] = dict(chunk.delta_extra) if chunk.delta_extra else {}
        if chunk.role is not None:
            delta["role"] = chunk.role
        if chunk.content is not None:
            delta["content"] = chunk.content
        if chunk.reasoning_content is not None:
            delta["reasoning_content"] = chunk.reasoning_content
        if chunk.tool_calls:
            delta["tool_calls"] = [_tool_call_delta(d) for d in chunk.tool_calls]
        choice: dict[str, Any] = {"index": chunk.index, "delta": delta, "logprobs": None}
        if chunk.choice_extra:
            choice.update(chunk.choice_extra)
        choice["finish_reason"] = chunk.finish_reason
        body = self._envelope([choice])
        if chunk.extra:
            body = {**chunk.extra, **body}
        if extension is not None or chunk.native_finish_reason is not None:
            body["x_gateway"] = dict(extension or {})
            if chunk.native_finish_reason is not None:
                body["x_gateway"]["native_finish_reason"] = chunk.native_finish_reason
        return self._event(body)

    def usage(
        self,
        usage: Usage,
        extension: dict[str, Any] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> bytes:
        body = self._envelope([])
        if extra:
            body = {**extra, **body}
        body["usage"] = usage_body(usage)
        if extension:
            body["x_gateway"] = extension
        return self._event(body)

    def error(self, error: dict[str, Any]) -> bytes:
        return self._event(error)

    @staticmethod
    def done() -> bytes:
        return b"data: [DONE]\n\n"
