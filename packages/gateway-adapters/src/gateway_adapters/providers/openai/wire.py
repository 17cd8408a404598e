"""OpenAI Chat Completions wire format <-> the gateway's domain values. Pure: no I/O.

Outgoing payloads are typed with the openai SDK's own TypedDicts, so a type checker holds them
to the vendor's definitions; the SDK is never called at run time. Incoming bodies are decoded
into the Structs of ``schema``. Reference: https://platform.openai.com/docs/api-reference/chat
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import msgspec

from gateway_adapters.providers.openai import schema
from gateway_adapters.providers.openai.errors import stream_error
from gateway_adapters.providers.openai.extras import AnswerExtras, Extras
from gateway_core.domain.chat import ChatChunk, ChatRequest, ChatResponse, Choice, ToolCallDelta
from gateway_core.domain.messages import (
    NO_EXTRA,
    ContentPart,
    Message,
    OpaquePart,
    TextPart,
    ToolCall,
)
from gateway_core.domain.tools import NamedToolChoice, ToolChoice, ToolSpec
from gateway_core.domain.usage import Usage
from gateway_core.errors import UpstreamBadRequestError, UpstreamResponseError

if TYPE_CHECKING:
    from openai.types.chat import (
        ChatCompletionAssistantMessageParam,
        ChatCompletionContentPartParam,
        ChatCompletionContentPartTextParam,
        ChatCompletionFunctionToolParam,
        ChatCompletionMessageFunctionToolCallParam,
        ChatCompletionMessageParam,
        ChatCompletionToolChoiceOptionParam,
        CompletionCreateParams,
    )
    from openai.types.chat.chat_completion_content_part_image_param import ImageURL
    from openai.types.chat.completion_create_params import (
        CompletionCreateParamsNonStreaming,
        CompletionCreateParamsStreaming,
    )
    from openai.types.shared_params import FunctionDefinition


def _plain(value: Any) -> Any:
    """msgspec encodes dicts natively; read-only mappings (MappingProxyType...) become dicts."""
    if isinstance(value, Mapping):
        return dict(value)
    raise NotImplementedError(f"cannot encode {type(value).__name__}")


_ENCODER = msgspec.json.Encoder(enc_hook=_plain)


def encode_payload(payload: Mapping[str, Any]) -> bytes:
    return _ENCODER.encode(payload)


# ---------------------------------------------------------------- request: domain -> OpenAI


def to_openai_payload(request: ChatRequest, *, stream: bool = False) -> CompletionCreateParams:
    """The request body. Fields the client did not set are left out, so the vendor's defaults
    (and an OpenAI-compatible server's own defaults) apply; fields the gateway does not model
    (``request.extra``) are passed as the client sent them."""
    payload: CompletionCreateParamsNonStreaming = {
        "model": request.model,
        "messages": [_message(message) for message in request.messages],
    }
    if request.extra:
        payload.update(request.extra)  # type: ignore[typeddict-item]
    # OpenAI's reasoning models refuse max_tokens: the limit keeps the name the client used.
    limit = "max_completion_tokens" if request.max_completion_tokens else "max_tokens"
    optional: dict[str, Any] = {
        "temperature": request.temperature,
        "top_p": request.top_p,
        limit: request.max_tokens,
        "stop": list(request.stop) or None,
        "n": request.n if request.n != 1 else None,
        "seed": request.seed,
        "tools": [_tool(spec) for spec in request.tools] or None,
        "tool_choice": _tool_choice(request.tool_choice),
        "response_format": request.response_format,
        "user": request.user,
        "metadata": request.metadata,
        "parallel_tool_calls": request.parallel_tool_calls,
    }
    given = {key: value for key, value in optional.items() if value is not None}
    if "tools" in given and "tools" in request.extra:
        # Function tools (the gateway's, maybe) and the client's other tools (custom) together.
        given["tools"] = [*given["tools"], *request.extra["tools"]]
    payload.update(given)  # type: ignore[typeddict-item]
    if not stream:
        return payload
    # Without include_usage a stream reports no token counts, and usage is billed.
    streaming: CompletionCreateParamsStreaming = {
        **payload,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    return streaming


def _message(message: Message) -> ChatCompletionMessageParam:
    if message.role == "assistant":
        return _assistant_message(message)
    if message.role == "tool":
        return {
            "role": "tool",
            "tool_call_id": message.tool_call_id or "",
            "content": _text_content(message),
        }
    if message.role == "user":
        user: ChatCompletionMessageParam = {"role": "user", "content": _content(message.content)}
        return _named(user, message)
    if message.role == "developer":
        return _named({"role": "developer", "content": _text_content(message)}, message)
    return _named({"role": "system", "content": _text_content(message)}, message)


def _named(param: ChatCompletionMessageParam, message: Message) -> ChatCompletionMessageParam:
    if message.name is not None:
        param["name"] = message.name  # type: ignore[typeddict-unknown-key]
    return param


def _assistant_message(message: Message) -> ChatCompletionAssistantMessageParam:
    param: ChatCompletionAssistantMessageParam = {
        "role": "assistant",
        "content": _text_content(message) if message.content is not None else None,
    }
    if message.tool_calls:  # OpenAI rejects an empty tool_calls array
        param["tool_calls"] = [_tool_call(call) for call in message.tool_calls]
    if message.name is not None:
        param["name"] = message.name
    if message.reasoning_content is not None:
        param["reasoning_content"] = message.reasoning_content  # type: ignore[typeddict-unknown-key]
    for name in _ASSISTANT_INPUT_EXTRAS:
        if message.extra.get(name) is not None:
            param[name] = message.extra[name]  # type: ignore[literal-required]
    return param


# Assistant fields OpenAI accepts back in a request; others an answer carried (annotations)
# are answer-only and would be refused.
_ASSISTANT_INPUT_EXTRAS = ("refusal", "audio", "function_call")


def _tool_call(call: ToolCall) -> ChatCompletionMessageFunctionToolCallParam:
    return {
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": call.arguments},
    }


def _content(
    content: str | tuple[ContentPart, ...] | None,
) -> str | list[ChatCompletionContentPartParam]:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return [_part(part) for part in content]


def _part(part: ContentPart) -> ChatCompletionContentPartParam:
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text}
    if isinstance(part, OpaquePart):
        return {"type": part.type, part.type: part.body}  # type: ignore[return-value,misc,unused-ignore]
    image_url: ImageURL = {"url": part.url}
    if part.detail is not None:
        # The client's own value, passed on for the vendor to judge (OpenAI's list grows).
        image_url["detail"] = part.detail  # type: ignore[typeddict-item]
    return {"type": "image_url", "image_url": image_url}


def _text_content(message: Message) -> str | list[ChatCompletionContentPartTextParam]:
    """Content of a role that takes text only: OpenAI accepts images in user messages alone."""
    if message.content is None or isinstance(message.content, str):
        return message.content or ""
    texts = [part for part in message.content if isinstance(part, TextPart)]
    if len(texts) < len(message.content):
        raise UpstreamBadRequestError(
            f"image, audio and file content is only accepted in user messages, not in "
            f"{message.role} messages",
            param="messages",
        )
    return [{"type": "text", "text": part.text} for part in texts]


def _tool(spec: ToolSpec) -> ChatCompletionFunctionToolParam:
    function: FunctionDefinition = {"name": spec.name, "parameters": dict(spec.parameters)}
    if spec.description:
        function["description"] = spec.description
    if spec.strict is not None:
        function["strict"] = spec.strict
    return {"type": "function", "function": function}


def _tool_choice(choice: ToolChoice | None) -> ChatCompletionToolChoiceOptionParam | None:
    if isinstance(choice, NamedToolChoice):
        return {"type": "function", "function": {"name": choice.name}}
    return choice


# ---------------------------------------------------------------- response: OpenAI -> domain


def decode_response(raw: bytes, provider: str) -> ChatResponse:
    """A ``chat.completion`` body; ``UpstreamResponseError`` if it is not one."""
    try:
        completion = schema.COMPLETION_DECODER.decode(raw)
        extras = AnswerExtras(raw, chunk=False)
    except msgspec.DecodeError as error:
        raise _bad_response(provider, "a body that is not a chat completion") from error
    return _response(completion, provider, extras)


def from_openai_response(body: Mapping[str, Any], provider: str) -> ChatResponse:
    try:
        completion = msgspec.convert(body, schema.Completion)
    except msgspec.ValidationError as error:
        raise _bad_response(provider, "a body that is not a chat completion") from error
    return _response(completion, provider, AnswerExtras(msgspec.json.encode(body), chunk=False))


def decode_chunk(data: str, provider: str) -> list[ChatChunk]:
    """One SSE ``data`` payload of a stream (other than ``[DONE]``)."""
    try:
        chunk = schema.CHUNK_DECODER.decode(data)
        extras = AnswerExtras(data, chunk=True)
    except msgspec.DecodeError as error:
        raise _bad_response(
            provider, "a stream event that is not a chat completion chunk"
        ) from error
    return _chunks(chunk, provider, extras)


def chunks_of(chunk: schema.Chunk, raw: bytes, provider: str) -> list[ChatChunk]:
    """``decode_chunk`` for an event already decoded into ``chunk`` (``raw``: its bytes)."""
    return _chunks(chunk, provider, AnswerExtras(raw, chunk=True))


def from_openai_chunk(body: Mapping[str, Any], provider: str = "openai") -> list[ChatChunk]:
    try:
        chunk = msgspec.convert(body, schema.Chunk)
    except msgspec.ValidationError as error:
        raise _bad_response(
            provider, "a stream event that is not a chat completion chunk"
        ) from error
    return _chunks(chunk, provider, AnswerExtras(msgspec.json.encode(body), chunk=True))


def _bad_response(provider: str, what: str) -> UpstreamResponseError:
    return UpstreamResponseError(f"{provider} sent {what}", provider=provider)


def _response(
    completion: schema.Completion, provider: str, extras: AnswerExtras
) -> ChatResponse:
    if completion.error is not None:
        raise stream_error(completion.error, provider)
    if completion.choices is None:
        raise _bad_response(provider, "a chat completion without choices")
    return ChatResponse(
        id=completion.id,
        model=completion.model,
        created=int(completion.created),
        choices=tuple(
            _choice(choice, *extras.of_choice(position))
            for position, choice in enumerate(completion.choices)
        ),
        usage=_usage(completion.usage) if completion.usage else Usage(),
        provider=provider,
        system_fingerprint=completion.system_fingerprint,
        extra=extras.top,
    )


def _choice(choice: schema.Choice, choice_extra: Extras, message_extra: Extras) -> Choice:
    calls = tuple(
        ToolCall(
            id=call.id or "",
            name=(call.function and call.function.name) or "",
            arguments=(call.function and call.function.arguments) or "",
        )
        for call in choice.message.tool_calls or ()
    )
    message = choice.message
    return Choice(
        message=Message(
            "assistant", message.content, tool_calls=calls,
            reasoning_content=message.reasoning_content, extra=message_extra,
        ),
        finish_reason=choice.finish_reason,  # kept as sent, unknown values included
        index=choice.index,
        native_finish_reason=choice.finish_reason,
        extra=choice_extra,
    )


def _usage(usage: schema.Usage) -> Usage:
    details = usage.prompt_tokens_details
    completion_details = usage.completion_tokens_details
    return Usage(
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens or 0,
        cached_tokens=(details.cached_tokens or 0) if details else 0,
        reasoning_tokens=(completion_details.reasoning_tokens or 0) if completion_details else 0,
    )


def _chunks(chunk: schema.Chunk, provider: str, extras: AnswerExtras) -> list[ChatChunk]:
    if chunk.error is not None:
        raise stream_error(chunk.error, provider)
    chunks = [
        _chunk(choice, chunk.model or None, extras.top, *extras.of_choice(position))
        for position, choice in enumerate(chunk.choices or ())
    ]
    if chunk.usage is not None:
        # OpenAI sends usage alone in a last chunk with no choices; DeepSeek and others put it
        # on the finish chunk. Either way it becomes its own usage chunk.
        usage_extra = extras.top if not chunks else NO_EXTRA
        chunks.append(
            ChatChunk(usage=_usage(chunk.usage), model=chunk.model or None, extra=usage_extra)
        )
    return chunks


def _chunk(
    choice: schema.ChunkChoice,
    model: str | None,
    top: Extras,
    choice_extra: Extras,
    delta_extra: Extras,
) -> ChatChunk:
    delta = choice.delta
    return ChatChunk(
        index=choice.index,
        role=delta.role if delta else None,
        content=delta.content if delta else None,
        tool_calls=_tool_call_deltas(delta),
        finish_reason=choice.finish_reason,
        native_finish_reason=choice.finish_reason,
        model=model,
        reasoning_content=delta.reasoning_content if delta else None,
        delta_extra=delta_extra,
        choice_extra=choice_extra,
        extra=top,
    )


def _tool_call_deltas(delta: schema.Delta | None) -> tuple[ToolCallDelta, ...]:
    if delta is None or not delta.tool_calls:
        return ()
    return tuple(
        ToolCallDelta(
            index=call.index,
            id=call.id,
            name=call.function.name if call.function else None,
            arguments=(call.function.arguments or "") if call.function else "",
        )
        for call in delta.tool_calls
    )
