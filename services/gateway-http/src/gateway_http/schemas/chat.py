"""The OpenAI Chat Completions request, decoded and validated in one pass by msgspec.

Fields this schema does not model are kept, decoded, in ``ChatRequest.extra`` (an
OpenAI-format provider receives them as sent); fields that would let a client pick the
upstream (``api_base``, ``base_url``, ``api_key``, ...) are rejected by ``decode_body``, as on
every route.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct

from gateway_core.domain.chat import OPENAI_CHAT_WIRE, ChatRequest
from gateway_core.domain.messages import (
    NO_EXTRA,
    ContentPart,
    ImagePart,
    Message,
    OpaquePart,
    TextPart,
    ToolCall,
)
from gateway_core.domain.tools import NamedToolChoice, ToolChoice, ToolSpec
from gateway_core.errors import InvalidRequestError
from gateway_http.schemas.json_body import decode_body


class TextPartBody(Struct, tag="text", tag_field="type"):
    text: str
    cache_control: dict[str, Any] | None = None


class ImageUrl(Struct):
    url: str
    detail: str | None = None


class ImagePartBody(Struct, tag="image_url", tag_field="type"):
    image_url: ImageUrl
    cache_control: dict[str, Any] | None = None


class InputAudioPartBody(Struct, tag="input_audio", tag_field="type"):
    input_audio: dict[str, Any]


class FilePartBody(Struct, tag="file", tag_field="type"):
    file: dict[str, Any]


PartBody = TextPartBody | ImagePartBody | InputAudioPartBody | FilePartBody
Content = str | list[PartBody]


class FunctionCallBody(Struct):
    name: str
    arguments: str = ""


class ToolCallBody(Struct):
    id: str
    function: FunctionCallBody
    type: Literal["function"] = "function"


class SystemMessageBody(Struct, tag="system", tag_field="role"):
    content: Content
    name: str | None = None


class DeveloperMessageBody(Struct, tag="developer", tag_field="role"):
    content: Content
    name: str | None = None


class UserMessageBody(Struct, tag="user", tag_field="role"):
    content: Content
    name: str | None = None


class AssistantMessageBody(Struct, tag="assistant", tag_field="role"):
    content: Content | None = None
    name: str | None = None
    tool_calls: list[ToolCallBody] | None = None
    reasoning_content: str | None = None
    thinking_blocks: list[dict[str, Any]] | None = None
    """Anthropic thinking blocks with their signatures, as the gateway returned them."""
    # Returned by the gateway's own answers; sent back as they were.
    refusal: str | None = None
    audio: dict[str, Any] | None = None
    function_call: dict[str, Any] | None = None


class ToolMessageBody(Struct, tag="tool", tag_field="role"):
    content: Content
    tool_call_id: str


MessageBody = (
    SystemMessageBody
    | DeveloperMessageBody
    | UserMessageBody
    | AssistantMessageBody
    | ToolMessageBody
)


class FunctionBody(Struct):
    name: str
    description: str = ""
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class ToolBody(Struct, omit_defaults=True):
    """A function tool, or another type (``custom``) passed on to OpenAI-format providers."""

    function: FunctionBody | None = None
    type: str = "function"
    custom: dict[str, Any] | None = None
    cache_control: dict[str, Any] | None = None


class NamedFunction(Struct):
    name: str


class NamedToolChoiceBody(Struct, omit_defaults=True):
    """A named function, or another choice (``allowed_tools``, ``custom``) passed on as is."""

    function: NamedFunction | None = None
    type: str = "function"
    allowed_tools: dict[str, Any] | None = None
    custom: dict[str, Any] | None = None


class StreamOptions(Struct):
    include_usage: bool = False


class GatewayOptionsBody(Struct, forbid_unknown_fields=True):
    """The gateway's own request options, under ``"gateway"`` (see docs/API.md)."""

    tools: Literal["listed", "all"] = "listed"
    """``all``: offer the model every registered tool, not only those the request lists."""
    cache: Literal["default", "no-cache", "no-store"] = "default"
    """Like the ``Cache-Control`` request header: skip reading, or reading and storing."""


class ChatCompletionBody(Struct, kw_only=True):
    model: Annotated[str, Meta(min_length=1)]
    messages: Annotated[list[MessageBody], Meta(min_length=1)]
    temperature: Annotated[float, Meta(ge=0, le=2)] | None = None
    top_p: Annotated[float, Meta(ge=0, le=1)] | None = None
    max_tokens: Annotated[int, Meta(ge=1)] | None = None
    max_completion_tokens: Annotated[int, Meta(ge=1)] | None = None
    stop: str | Annotated[list[str], Meta(max_length=4)] | None = None
    n: Annotated[int, Meta(ge=1, le=128)] = 1
    seed: int | None = None
    tools: list[ToolBody] | None = None
    tool_choice: Literal["auto", "none", "required"] | NamedToolChoiceBody | None = None
    parallel_tool_calls: bool | None = None
    response_format: dict[str, Any] | None = None
    user: str | None = None
    metadata: dict[str, str] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    session_id: Annotated[str, Meta(min_length=1, max_length=200)] | None = None
    drop_params: bool = False
    gateway: GatewayOptionsBody | None = None
    # Modelled so that a ``null`` one is not forwarded as an extra; ``decode_body`` refuses
    # any other value (a client never chooses the upstream).
    api_base: Any = None
    base_url: Any = None
    api_key: Any = None
    api_version: Any = None
    custom_llm_provider: Any = None

    @property
    def include_usage(self) -> bool:
        return self.stream_options is not None and self.stream_options.include_usage


_decoder = msgspec.json.Decoder(ChatCompletionBody)
# The top level again, values left as raw JSON text: finds unmodelled fields without
# building objects for the (large) modelled ones such as ``messages``.
_fields_decoder = msgspec.json.Decoder(dict[str, msgspec.Raw])
_MODELLED = frozenset(ChatCompletionBody.__struct_fields__)


def decode_chat_body(raw: bytes) -> ChatCompletionBody:
    """Parse and validate; raises ``InvalidRequestError`` naming the offending field."""
    return decode_body(_decoder, raw)


def unmodelled_fields(raw: bytes) -> dict[str, Any]:
    """The request's fields this schema does not model, decoded (call after validation)."""
    fields = _fields_decoder.decode(raw)
    if fields.keys() <= _MODELLED:
        return {}
    return {
        name: msgspec.json.decode(value) for name, value in fields.items() if name not in _MODELLED
    }


def to_domain(body: ChatCompletionBody, extra: dict[str, Any] | None = None) -> ChatRequest:
    stop = (body.stop,) if isinstance(body.stop, str) else tuple(body.stop or ())
    tools = body.tools or ()
    if any(tool.type != "function" for tool in tools) or _other_choice(body.tool_choice):
        extra = _with_other_tools(body, dict(extra or {}))
    return ChatRequest(
        model=body.model,
        messages=tuple(_message(m) for m in body.messages),
        temperature=body.temperature,
        top_p=body.top_p,
        max_tokens=body.max_completion_tokens or body.max_tokens,
        stop=stop,
        n=body.n,
        seed=body.seed,
        tools=tuple(_tool(t, i) for i, t in enumerate(tools) if t.type == "function"),
        tool_choice=_tool_choice(body.tool_choice),
        response_format=body.response_format,
        user=body.user,
        metadata=body.metadata,
        stream=body.stream,
        # The client reads OpenAI chat chunks: an OpenAI-format provider's stream is relayed
        # as its own bytes (one choice only: the turn holds a stream's end until it is
        # accounted, and several choices end at different times).
        relay=OPENAI_CHAT_WIRE if body.stream and body.n == 1 else None,
        parallel_tool_calls=body.parallel_tool_calls,
        max_completion_tokens=body.max_completion_tokens,
        drop_params=body.drop_params,
        extra=extra or NO_EXTRA,
    )


def _content(content: Content | None) -> str | tuple[ContentPart, ...] | None:
    if content is None or isinstance(content, str):
        return content
    return tuple(_part(p) for p in content)


def _part(part: PartBody) -> ContentPart:
    if isinstance(part, TextPartBody):
        return TextPart(part.text, part.cache_control)
    if isinstance(part, ImagePartBody):
        return ImagePart(part.image_url.url, part.image_url.detail, part.cache_control)
    if isinstance(part, InputAudioPartBody):
        return OpaquePart("input_audio", part.input_audio)
    return OpaquePart("file", part.file)


def _message(body: MessageBody) -> Message:
    if isinstance(body, AssistantMessageBody):
        calls = tuple(
            ToolCall(c.id, c.function.name, c.function.arguments) for c in body.tool_calls or ()
        )
        return Message(
            "assistant", _content(body.content), body.name, calls,
            reasoning_content=body.reasoning_content, extra=_assistant_extra(body),
        )  # fmt: skip
    if isinstance(body, ToolMessageBody):
        return Message("tool", _content(body.content), tool_call_id=body.tool_call_id)
    return Message(body.__struct_config__.tag, _content(body.content), body.name)  # type: ignore[arg-type]


def _assistant_extra(body: AssistantMessageBody) -> Mapping[str, Any]:
    if (
        body.refusal is None
        and body.audio is None
        and body.function_call is None
        and body.thinking_blocks is None
    ):
        return NO_EXTRA
    given = {
        "refusal": body.refusal,
        "audio": body.audio,
        "function_call": body.function_call,
        "thinking_blocks": body.thinking_blocks,
    }
    return {name: value for name, value in given.items() if value is not None}


def _other_choice(choice: str | NamedToolChoiceBody | None) -> bool:
    return isinstance(choice, NamedToolChoiceBody) and choice.type != "function"


def _with_other_tools(body: ChatCompletionBody, extra: dict[str, Any]) -> dict[str, Any]:
    """Tools and a tool choice of types the gateway does not model, kept as the client sent
    them (as ``extra["tools"]`` / ``extra["tool_choice"]``) for OpenAI-format providers."""
    others = [msgspec.to_builtins(t) for t in body.tools or () if t.type != "function"]
    if others:
        extra["tools"] = others
    if _other_choice(body.tool_choice):
        extra["tool_choice"] = msgspec.to_builtins(body.tool_choice)
    return extra


def _tool(body: ToolBody, index: int) -> ToolSpec:
    if body.function is None:
        raise InvalidRequestError(
            "A function tool needs a 'function' object.", param=f"tools[{index}].function"
        )
    parameters = body.function.parameters
    if parameters is None:
        parameters = {"type": "object", "properties": {}}
    return ToolSpec(
        body.function.name,
        body.function.description,
        parameters,
        body.function.strict,
        body.cache_control,
    )


def _tool_choice(choice: str | NamedToolChoiceBody | None) -> ToolChoice | None:
    if isinstance(choice, NamedToolChoiceBody):
        if choice.type != "function":
            return None  # passed on through ``extra``
        if choice.function is None:
            raise InvalidRequestError(
                "A function tool_choice needs a 'function' object.", param="tool_choice.function"
            )
        return NamedToolChoice(choice.function.name)
    return choice  # type: ignore[return-value]
