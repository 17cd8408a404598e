"""What a client makes of an answer: a ``ChatResponse`` as it is, or ``ChatChunk``s sent as
OpenAI ``chat.completion.chunk`` events and put back together by the official openai SDK's own
stream accumulator (``ChatCompletionStreamState``, what ``client.chat.completions.stream()``
runs). Both become one comparable ``Answer``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from openai.lib.streaming.chat import ChatCompletionStreamState, ParsedChatCompletionSnapshot
from openai.types.chat import ChatCompletionChunk

from gateway_core.domain.chat import ChatChunk, ChatRequest, ChatResponse, ToolCallDelta
from gateway_core.domain.messages import ToolCall
from gateway_core.domain.usage import Usage
from gateway_core.ports.providers import ChatProvider


@dataclass(frozen=True)
class Answer:
    """One answer as a client sees it. ``calls``: (id, name, arguments as a JSON value)."""

    role: str | None
    text: str | None
    calls: tuple[tuple[str, str, Any], ...]
    finish_reason: str | None
    native_finish_reason: str | None
    usage: Usage | None
    model: str
    tool_calls: tuple[ToolCall, ...] = field(compare=False)  # as sent back in the next turn


async def answer(provider: ChatProvider, request: ChatRequest, *, streamed: bool) -> Answer:
    if streamed:
        return answer_of_stream(await collect(provider, request), request.model)
    return answer_of_response(await provider.complete(request))


async def collect(provider: ChatProvider, request: ChatRequest) -> list[ChatChunk]:
    return [chunk async for chunk in provider.stream(request)]


def answer_of_response(response: ChatResponse) -> Answer:
    (choice,) = response.choices
    message = choice.message
    assert message.content is None or isinstance(message.content, str)
    return Answer(
        role=message.role,
        text=message.content,
        calls=_calls(message.tool_calls),
        finish_reason=choice.finish_reason,
        native_finish_reason=choice.native_finish_reason,
        usage=response.usage,
        model=response.model,
        tool_calls=message.tool_calls,
    )


def answer_of_stream(chunks: list[ChatChunk], requested_model: str) -> Answer:
    completion = reassembled(chunks, requested_model)
    (choice,) = completion.choices
    tool_calls = tuple(
        ToolCall(call.id, call.function.name, call.function.arguments)
        for call in choice.message.tool_calls or ()
        if call.type == "function"
    )
    (final,) = [chunk for chunk in chunks if chunk.finish_reason is not None]
    return Answer(
        role=choice.message.role,
        # OpenAI's streams open with content "" even when the answer has no text.
        text=choice.message.content or None,
        calls=_calls(tool_calls),
        finish_reason=choice.finish_reason,
        native_finish_reason=final.native_finish_reason,
        usage=_usage(completion),
        model=completion.model,
        tool_calls=tool_calls,
    )


def reassembled(chunks: list[ChatChunk], requested_model: str) -> ParsedChatCompletionSnapshot:
    """The chunks as ``chat.completion.chunk`` events, accumulated by the openai SDK.

    The events name the model of the latest chunk that named one, as the gateway's stream does.
    The snapshot, not ``get_final_completion()``: that one also parses structured output and
    raises on finish_reason "length", which is not ours to test.
    """
    state: ChatCompletionStreamState[Any] = ChatCompletionStreamState()
    model = requested_model
    for chunk in chunks:
        model = chunk.model or model
        # construct(), not model_validate(): the SDK's client reads events leniently too, so
        # a finish reason OpenAI does not list (pause_turn, ...) reaches the caller.
        state.handle_chunk(ChatCompletionChunk.construct(**chunk_event(chunk, model)))
    return state.current_completion_snapshot


def chunk_event(chunk: ChatChunk, model: str) -> dict[str, Any]:
    """``chunk`` as https://platform.openai.com/docs/api-reference/chat-streaming shows it; a
    usage-only chunk has no choices, as with ``stream_options.include_usage``."""
    event: dict[str, Any] = {
        "id": "chatcmpl-contract",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": model,
        "choices": [],
    }
    delta: dict[str, Any] = {}
    if chunk.role is not None:
        delta["role"] = chunk.role
    if chunk.content is not None:
        delta["content"] = chunk.content
    if chunk.tool_calls:
        delta["tool_calls"] = [_tool_call_delta(call) for call in chunk.tool_calls]
    if delta or chunk.finish_reason is not None or chunk.usage is None:
        choice = {"index": chunk.index, "delta": delta, "finish_reason": chunk.finish_reason}
        event["choices"] = [choice]
    if chunk.usage is not None:
        event["usage"] = {
            "prompt_tokens": chunk.usage.prompt_tokens,
            "completion_tokens": chunk.usage.completion_tokens,
            "total_tokens": chunk.usage.total_tokens,
            "prompt_tokens_details": {"cached_tokens": chunk.usage.cached_tokens},
        }
    return event


def _tool_call_delta(delta: ToolCallDelta) -> dict[str, Any]:
    function: dict[str, Any] = {"arguments": delta.arguments}
    if delta.name is not None:
        function["name"] = delta.name
    event: dict[str, Any] = {"index": delta.index, "function": function}
    if delta.id is not None:
        event.update(id=delta.id, type="function")
    return event


def _usage(completion: ParsedChatCompletionSnapshot) -> Usage | None:
    usage = completion.usage
    if usage is None:
        return None
    details = usage.prompt_tokens_details
    cached = details.cached_tokens if details is not None else 0
    return Usage(usage.prompt_tokens, usage.completion_tokens, cached or 0)


def _calls(tool_calls: tuple[ToolCall, ...]) -> tuple[tuple[str, str, Any], ...]:
    # Arguments compare as JSON values: Anthropic answers a non-streamed call with an ``input``
    # object the adapter serialises itself, but streams the upstream's own JSON text.
    return tuple((call.id, call.name, json.loads(call.arguments)) for call in tool_calls)
