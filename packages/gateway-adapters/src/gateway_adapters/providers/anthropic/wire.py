"""Chat Completions requests to Anthropic Messages bodies, and Messages answers back. Pure.

The request side is typed with the anthropic SDK's own TypedDicts (imported for type checkers
only: the SDK is never called at run time). Where OpenAI and Anthropic differ:

- system and developer messages become the top-level ``system`` string;
- consecutive messages of one role are merged into one turn, as the API wants them to alternate;
  tool results are ``tool_result`` blocks of a user turn, so several results of one turn and a
  user message right after them share one user message;
- ``max_tokens`` is required by Anthropic, so it is filled in when the client left it out;
- ``n`` > 1 cannot be served (one choice per request);
- ``response_format`` ``json_object`` has no Anthropic equivalent and is ignored; ``json_schema``
  becomes ``output_config.format`` (structured outputs); ``seed`` is ignored;
- the newest models refuse temperature and top_p, so those are dropped for them;
- fields the gateway does not model follow ``field_support.ANTHROPIC`` (``reasoning_effort``
  becomes a ``thinking`` budget, ``top_k`` is forwarded, others are refused by name);
- thinking blocks (with their signatures) come back as the message's ``thinking_blocks`` and
  ``reasoning_content``, and go back to Anthropic ahead of the assistant turn's other blocks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypedDict

import msgspec

from gateway_adapters.providers.anthropic.schema import ContentBlock, MessageBody
from gateway_core.domain.chat import ChatRequest, ChatResponse, Choice
from gateway_core.domain.messages import (
    NO_EXTRA,
    ContentPart,
    ImagePart,
    Message,
    OpaquePart,
    TextPart,
    ToolCall,
)
from gateway_core.domain.tools import NamedToolChoice, ToolSpec
from gateway_core.errors import (
    InvalidRequestError,
    UnsupportedParameterError,
    UpstreamResponseError,
)

if TYPE_CHECKING:
    from anthropic.types import (
        ImageBlockParam,
        MessageParam,
        OutputConfigParam,
        TextBlockParam,
        ToolChoiceParam,
        ToolParam,
        ToolResultBlockParam,
        ToolUseBlockParam,
    )
    from anthropic.types.message_create_params import MessageCreateParamsBase

    Block = TextBlockParam | ImageBlockParam | ToolUseBlockParam | ToolResultBlockParam

    class SamplingParams(TypedDict, total=False):
        """The SDK's 2.x TypedDict dropped these (the newest models reject them), but the API
        still takes them for the models that support sampling, and clients send them."""

        temperature: float
        top_p: float

    class MessagesRequestBody(MessageCreateParamsBase, SamplingParams, total=False):
        stream: bool


MODELS_WITHOUT_SAMPLING = (
    "claude-opus-4-7",
    "claude-opus-4-8",
    "claude-opus-5",
    "claude-sonnet-5",
    "claude-haiku-5",
    "claude-fable-5",
    "claude-mythos",
)
"""Model id prefixes that answer 400 "`temperature` is deprecated for this model" to any
temperature or top_p, starting with Claude Opus 4.7
(https://platform.claude.com/docs/en/about-claude/models/whats-new-claude-4-7)."""

FINISH_REASONS: Mapping[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
"""Anthropic stop_reason -> OpenAI finish_reason. Others (pause_turn, new ones) pass through."""

_IMAGE_MEDIA_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
_json_encoder = msgspec.json.Encoder()


REASONING_BUDGETS: Mapping[str, int | None] = {
    "none": None,
    "minimal": None,
    "low": 1024,
    "medium": 4096,
    "high": 16384,
}
"""``reasoning_effort`` -> thinking ``budget_tokens`` (1024 is Anthropic's minimum)."""


def build_body(
    request: ChatRequest,
    *,
    default_max_tokens: int,
    stream: bool = False,
    sampling: bool = True,
    extras: Mapping[str, Any] = NO_EXTRA,
) -> MessagesRequestBody:
    """The Messages API body for ``request``; raises InvalidRequestError for what cannot map.

    ``sampling=False`` leaves temperature and top_p out, for models that refuse them.
    ``extras`` are the unmodelled fields ``field_support.servable_extras`` let through.
    """
    if request.n > 1:
        raise InvalidRequestError(
            "Anthropic models return a single choice: n must be 1.", param="n"
        )
    system, messages = _conversation(request.messages)
    body: MessagesRequestBody = {
        "model": request.model,
        "max_tokens": request.max_tokens if request.max_tokens is not None else default_max_tokens,
        "messages": messages,
    }
    if system:
        body["system"] = system
    if sampling and request.temperature is not None:
        body["temperature"] = request.temperature
    if sampling and request.top_p is not None:
        body["top_p"] = request.top_p
    if request.stop:
        body["stop_sequences"] = list(request.stop)
    if request.user:
        body["metadata"] = {"user_id": request.user}
    if request.tools:
        body["tools"] = [_tool(spec) for spec in request.tools]
        choice = _tool_choice(request)
        if choice is not None:
            body["tool_choice"] = choice
    output_config = _output_config(request.response_format)
    if output_config is not None:
        body["output_config"] = output_config
    if extras:
        _apply_extras(body, extras)
    if stream:
        body["stream"] = True
    return body


def _apply_extras(body: MessagesRequestBody, extras: Mapping[str, Any]) -> None:
    if "top_k" in extras:
        body["top_k"] = extras["top_k"]  # type: ignore[typeddict-unknown-key]  # a valid field the SDK's TypedDict lacks
    if "thinking" in extras:
        body["thinking"] = extras["thinking"]
    elif "reasoning_effort" in extras:
        effort = extras["reasoning_effort"]
        if effort not in REASONING_BUDGETS:
            raise InvalidRequestError(
                f"reasoning_effort must be one of {', '.join(REASONING_BUDGETS)}.",
                param="reasoning_effort",
            )
        budget = REASONING_BUDGETS[effort]
        if budget is not None:
            body["thinking"] = {"type": "enabled", "budget_tokens": budget}
            if body["max_tokens"] <= budget:
                # Anthropic counts thinking in max_tokens: keep the asked room for the answer.
                body["max_tokens"] += budget


def _conversation(
    messages: Sequence[Message],
) -> tuple[str | list[TextBlockParam], list[MessageParam]]:
    """The ``system`` value (a string, or text blocks when one carries ``cache_control``) and
    the alternating turns."""
    system_blocks = _cached_system_blocks(messages)
    system: list[str] = []
    turns: list[tuple[Literal["user", "assistant"], list[Block]]] = []
    for position, message in enumerate(messages):
        if message.role in ("system", "developer"):
            if message.text:
                system.append(message.text)
            continue
        role: Literal["user", "assistant"] = "assistant" if message.role == "assistant" else "user"
        blocks = _blocks(message, f"messages[{position}]")
        if not blocks:
            continue
        if turns and turns[-1][0] == role:
            turns[-1][1].extend(blocks)
        else:
            turns.append((role, blocks))
    turn_params = [_turn(role, blocks) for role, blocks in turns]
    return (system_blocks or "\n\n".join(system)), turn_params


def _cached_system_blocks(messages: Sequence[Message]) -> list[TextBlockParam]:
    """System text as blocks, kept apart, when a part asks for caching; else empty."""
    system = [m for m in messages if m.role in ("system", "developer")]
    parts = [p for m in system if not isinstance(m.content, str) for p in m.content or ()]
    if not any(isinstance(p, TextPart) and p.cache_control for p in parts):
        return []
    blocks: list[TextBlockParam] = []
    for message in system:
        for part in _content_blocks(message.content, "messages"):
            if part["type"] == "text":
                blocks.append(part)  # type: ignore[arg-type,unused-ignore]
    return blocks


def _turn(role: Literal["user", "assistant"], blocks: list[Block]) -> MessageParam:
    if role == "assistant":
        return {"role": "assistant", "content": blocks}
    return {"role": "user", "content": blocks}


def _blocks(message: Message, param: str) -> list[Block]:
    if message.role == "tool":
        return [_tool_result(message, param)]
    # Thinking blocks go back first and unchanged: Anthropic checks their signatures.
    blocks: list[Block] = list(message.extra.get("thinking_blocks") or ())
    blocks += _content_blocks(message.content, f"{param}.content")
    for number, call in enumerate(message.tool_calls):
        blocks.append(_tool_use(call, f"{param}.tool_calls[{number}].function.arguments"))
    return blocks


def _content_blocks(
    content: str | tuple[ContentPart, ...] | None, param: str
) -> list[TextBlockParam | ImageBlockParam]:
    # The API rejects empty text blocks, so empty text is left out rather than sent.
    if content is None or isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks: list[TextBlockParam | ImageBlockParam] = []
    for number, part in enumerate(content):
        block: TextBlockParam | ImageBlockParam
        if isinstance(part, TextPart):
            if not part.text:
                continue
            block = {"type": "text", "text": part.text}
        elif isinstance(part, OpaquePart):
            raise UnsupportedParameterError(
                f"{part.type} content parts are not supported by Anthropic models.",
                param=f"{param}[{number}].type",
            )
        else:
            block = _image(part, f"{param}[{number}].image_url")
        if part.cache_control is not None:
            # Any cache_control Anthropic defines passes on as sent (ttl included).
            block["cache_control"] = dict(part.cache_control)  # type: ignore[typeddict-item,arg-type,unused-ignore]
        blocks.append(block)
    return blocks


def _image(part: ImagePart, param: str) -> ImageBlockParam:
    if part.url.startswith(("https://", "http://")):
        return {"type": "image", "source": {"type": "url", "url": part.url}}
    if not part.url.startswith("data:"):
        raise InvalidRequestError("An image URL must be http(s) or a base64 data URL.", param=param)
    header, comma, data = part.url[len("data:") :].partition(",")
    media_type, *attributes = header.split(";")
    media_type = media_type.strip().lower()
    if not comma or "base64" not in attributes or media_type not in _IMAGE_MEDIA_TYPES:
        raise InvalidRequestError(
            "An image data URL must be base64 JPEG, PNG, GIF or WebP.", param=param
        )
    return {
        "type": "image",
        "source": {"type": "base64", "media_type": media_type, "data": data},  # type: ignore[typeddict-item]  # checked against _IMAGE_MEDIA_TYPES above
    }


def _tool_use(call: ToolCall, param: str) -> ToolUseBlockParam:
    try:
        arguments = msgspec.json.decode(call.arguments) if call.arguments.strip() else {}
    except msgspec.DecodeError:
        raise InvalidRequestError("Tool call arguments must be valid JSON.", param=param) from None
    if not isinstance(arguments, dict):
        raise InvalidRequestError("Tool call arguments must be a JSON object.", param=param)
    return {"type": "tool_use", "id": call.id, "name": call.name, "input": arguments}


def _tool_result(message: Message, param: str) -> ToolResultBlockParam:
    if not message.tool_call_id:
        raise InvalidRequestError(
            "A tool message needs the tool_call_id it answers.", param=f"{param}.tool_call_id"
        )
    block: ToolResultBlockParam = {"type": "tool_result", "tool_use_id": message.tool_call_id}
    if isinstance(message.content, str):
        if message.content:
            block["content"] = message.content
    elif message.content:
        block["content"] = _content_blocks(message.content, f"{param}.content")
    return block


def _tool(spec: ToolSpec) -> ToolParam:
    schema = dict(spec.parameters)
    schema.setdefault("type", "object")  # OpenAI allows {} for "no parameters"; Anthropic doesn't
    tool: ToolParam = {"name": spec.name, "input_schema": schema}
    if spec.description:
        tool["description"] = spec.description
    if spec.cache_control is not None:
        tool["cache_control"] = dict(spec.cache_control)  # type: ignore[typeddict-item]
    return tool


def _tool_choice(request: ChatRequest) -> ToolChoiceParam | None:
    choice = request.tool_choice
    if choice == "none":
        return {"type": "none"}
    serial = request.parallel_tool_calls is False
    if isinstance(choice, NamedToolChoice):
        if serial:
            return {"type": "tool", "name": choice.name, "disable_parallel_tool_use": True}
        return {"type": "tool", "name": choice.name}
    if choice == "required":
        return {"type": "any", "disable_parallel_tool_use": True} if serial else {"type": "any"}
    if serial:
        return {"type": "auto", "disable_parallel_tool_use": True}
    return {"type": "auto"} if choice == "auto" else None


def _output_config(response_format: Mapping[str, Any] | None) -> OutputConfigParam | None:
    if not response_format or response_format.get("type") != "json_schema":
        return None  # "text" is the default; "json_object" has no Anthropic equivalent
    spec = response_format.get("json_schema")
    schema = spec.get("schema") if isinstance(spec, Mapping) else None
    if not isinstance(schema, Mapping):
        raise InvalidRequestError(
            "response_format json_schema needs a schema.", param="response_format.json_schema"
        )
    return {"format": {"type": "json_schema", "schema": dict(schema)}}


def encode(body: MessagesRequestBody) -> bytes:
    return _json_encoder.encode(body)


_message_decoder = msgspec.json.Decoder(MessageBody)


_THINKING = ("thinking", "redacted_thinking")


def thinking_block(block: ContentBlock) -> dict[str, Any]:
    """A thinking block as Anthropic sent it, to hand back unchanged on the next turn."""
    if block.type == "redacted_thinking":
        return {"type": "redacted_thinking", "data": block.data}
    return {"type": "thinking", "thinking": block.thinking, "signature": block.signature}


def finish_reason(stop_reason: str | None) -> str | None:
    if stop_reason is None:
        return None
    return FINISH_REASONS.get(stop_reason, stop_reason)


def tool_arguments(arguments: Mapping[str, Any]) -> str:
    """Compact JSON text, as OpenAI's ``function.arguments`` carries it."""
    return _json_encoder.encode(arguments).decode()


def parse_response(raw: bytes, *, provider: str, created: int) -> ChatResponse:
    """A Messages API answer as a ChatResponse; UpstreamResponseError when it is not one."""
    try:
        body = _message_decoder.decode(raw)
    except msgspec.DecodeError:
        raise UpstreamResponseError(
            f"{provider} sent an answer that is not a Messages API message", provider=provider
        ) from None
    texts = [block.text for block in body.content if block.type == "text"]
    calls = tuple(
        ToolCall(id=block.id, name=block.name, arguments=tool_arguments(block.input))
        for block in body.content
        if block.type == "tool_use"
    )
    text = "".join(texts) if texts else (None if calls else "")
    thinking = [thinking_block(block) for block in body.content if block.type in _THINKING]
    reasoning = "".join(block.thinking for block in body.content if block.type == "thinking")
    choice = Choice(
        message=Message(
            "assistant", text, tool_calls=calls,
            reasoning_content=reasoning or None,
            extra={"thinking_blocks": thinking} if thinking else NO_EXTRA,
        ),
        finish_reason=finish_reason(body.stop_reason),
        native_finish_reason=body.stop_reason,
    )
    return ChatResponse(
        id=body.id,
        model=body.model,
        choices=(choice,),
        usage=body.usage.to_usage(),
        created=created,
        provider=provider,
    )
