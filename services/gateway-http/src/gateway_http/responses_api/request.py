"""A ``POST /v1/responses`` body as a ``ChatRequest`` for the translated path. Pure.

The body arrives as decoded JSON (``dict``); every refusal is an ``InvalidRequestError`` that
names the field (``param``) in the client's own terms, e.g. ``input[2].content[0]``.

Mapped: ``input`` items (messages of the four roles with ``input_text``/``output_text``/
``refusal``/``input_image`` parts, ``function_call``, ``function_call_output``), ``instructions``
(a leading system message), function ``tools`` (with ``strict``), ``tool_choice``,
``parallel_tool_calls``, ``text.format`` (to ``response_format``), ``max_output_tokens``,
``temperature``, ``top_p``, ``metadata``, ``user``, and ``reasoning.effort`` to the chat
request's ``reasoning_effort``, which each provider's adapter serves per its field table
(``gateway_adapters.providers.field_support``: forwarded to OpenAI-format providers, a
``thinking`` budget for Anthropic, ``think`` for Ollama, ``thinkingConfig`` for Gemini;
dropped and reported by an adapter that cannot serve it, as the door's request allows drops).
``reasoning`` input items the
gateway made from an Anthropic model's thinking (``reasoning.sealed``) go back to an Anthropic
provider as the next assistant turn's thinking blocks.

Dropped and reported (``dropped``): hints the chat turn cannot carry (``reasoning.summary``,
``include`` other than ``reasoning.encrypted_content``, ``service_tier``, ...), and reasoning
items no chat provider can read (a Responses provider's own, or thinking for a non-Anthropic
model). Refused: built-in tools, ``input_file`` parts and file ids, and every field this
module does not know.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from gateway_core.domain.chat import ChatRequest
from gateway_core.domain.messages import (
    NO_EXTRA,
    ContentPart,
    ImagePart,
    Message,
    TextPart,
    ToolCall,
)
from gateway_core.domain.tools import NamedToolChoice, ToolChoice, ToolSpec
from gateway_core.errors import InvalidRequestError
from gateway_http.responses_api.reasoning import unsealed

_ROLES = frozenset({"user", "assistant", "system", "developer"})
_TEXT_PARTS = frozenset({"input_text", "output_text", "text", "refusal"})

HANDLED_FIELDS = frozenset({
    "model", "input", "instructions", "tools", "tool_choice", "parallel_tool_calls", "text",
    "max_output_tokens", "temperature", "top_p", "metadata", "user", "stream", "store",
    "previous_response_id", "session_id", "reasoning", "include",
})  # fmt: skip
"""Fields translated into the chat turn (or handled by the route: store, stream, history)."""

DROPPABLE_FIELDS = frozenset({
    "truncation", "service_tier", "safety_identifier",
    "prompt_cache_key", "prompt_cache_retention", "stream_options", "top_logprobs",
})  # fmt: skip
"""Hints the translated path cannot carry: dropped, and listed in ``x-gateway-dropped-params``.
A provider that speaks the Responses API natively receives them as sent."""


class UnsupportedParameterError(InvalidRequestError):
    code = "unsupported_parameter"


@dataclass(slots=True)
class Translation:
    request: ChatRequest
    dropped: list[str] = field(default_factory=list)
    """Request fields (dotted paths) the translated path left out, for the response header."""


_SERVED_INCLUDES = frozenset({"reasoning.encrypted_content"})
"""Always served: a translated reasoning item carries its sealed thinking blocks."""


def check_fields(body: Mapping[str, Any], dropped: list[str]) -> None:
    if any(name not in _SERVED_INCLUDES for name in body.get("include") or ()):
        dropped.append("include")
    reasoning = body.get("reasoning") or {}
    dropped.extend(f"reasoning.{name}" for name in ("summary", "generate_summary")
                   if reasoning.get(name) is not None)  # fmt: skip
    for name, value in body.items():
        if name in HANDLED_FIELDS or value is None:
            continue
        if name in DROPPABLE_FIELDS:
            if value not in ([], {}, "disabled", "auto"):
                dropped.append(name)
            continue
        if name == "background" and value is False:
            continue
        raise UnsupportedParameterError(
            f"'{name}' is not supported for this model: it is translated to a chat model, "
            "which has no equivalent.",
            param=name,
        )


def to_chat_request(
    body: Mapping[str, Any],
    history: Sequence[Mapping[str, Any]] = (),
    provider_type: str = "openai",
) -> Translation:
    """``history``: the items of the stored conversation ``previous_response_id`` names;
    ``provider_type``: the routed provider's type (``config/providers.json``)."""
    dropped: list[str] = []
    check_fields(body, dropped)
    messages: list[Message] = []
    instructions = body.get("instructions")
    if instructions:
        messages.append(Message.system(_string(instructions, "instructions")))
    reading = _Reading(provider_type == "anthropic", dropped)
    messages.extend(_conversation(history, "previous_response_id", reading))
    messages.extend(_conversation(input_items(body), "input", reading))
    effort = (body.get("reasoning") or {}).get("effort")
    request = ChatRequest(
        model=body["model"],
        messages=tuple(messages),
        temperature=body.get("temperature"),
        top_p=body.get("top_p"),
        max_tokens=body.get("max_output_tokens"),
        tools=_tools(body.get("tools") or []),
        tool_choice=_tool_choice(body.get("tool_choice")),
        response_format=response_format(body.get("text")),
        user=body.get("user"),
        metadata=body.get("metadata"),
        stream=bool(body.get("stream")),
        parallel_tool_calls=body.get("parallel_tool_calls"),
        extra={"reasoning_effort": effort} if effort is not None else NO_EXTRA,
        # A provider that cannot take a field drops and reports it: a door's client has no
        # ``drop_params`` to send.
        drop_params=True,
    )
    return Translation(request, sorted(set(dropped), key=dropped.index))


def input_items(body: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """``input`` as a list of items: a string is one user message."""
    value = body.get("input")
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    return list(value or [])


@dataclass(slots=True)
class _Reading:
    anthropic: bool
    """The provider takes thinking blocks back (``reasoning.unsealed``)."""
    dropped: list[str]


def _conversation(
    items: Sequence[Mapping[str, Any]], where: str, reading: _Reading
) -> list[Message]:
    messages: list[Message] = []
    thinking: list[dict[str, Any]] = []
    """Blocks of reasoning items, for the assistant message that follows them."""
    for position, item in enumerate(items):
        param = f"{where}[{position}]"
        kind = item.get("type", "message")
        if kind == "reasoning":
            blocks = unsealed(item.get("encrypted_content")) if reading.anthropic else None
            if blocks is None:
                reading.dropped.append("reasoning items")
            thinking.extend(blocks or ())
            continue
        if kind == "message":
            messages.append(_message(item, param))
        elif kind == "function_call":
            _add_call(messages, item, param)
        elif kind == "function_call_output":
            messages.append(Message.tool_result(item["call_id"], _output_text(item, param)))
        else:
            raise UnsupportedParameterError(
                f"Input items of type '{kind}' need a model served through OpenAI's "
                "Responses API; this model is translated to chat.",
                param=f"{param}.type",
            )
        if thinking:
            _add_thinking(messages, thinking, reading)
            thinking = []
    if thinking:
        reading.dropped.append("reasoning items")  # no assistant turn followed them
    return messages


def _add_thinking(
    messages: list[Message], thinking: list[dict[str, Any]], reading: _Reading
) -> None:
    """The blocks of the reasoning items before it, on the assistant message just added."""
    last = messages[-1]
    if last.role != "assistant":
        reading.dropped.append("reasoning items")  # an answer's reasoning, but no answer
        return
    blocks = [*last.extra.get("thinking_blocks", ()), *thinking]
    messages[-1] = replace(last, extra={**last.extra, "thinking_blocks": blocks})


def _message(item: Mapping[str, Any], param: str) -> Message:
    role = item.get("role")
    if role not in _ROLES:
        raise InvalidRequestError(
            f"A message's role must be one of {sorted(_ROLES)}.", param=f"{param}.role"
        )
    content = _content(item.get("content"), f"{param}.content")
    if role == "assistant":
        return Message.assistant(_joined(content))
    if role in ("system", "developer"):
        return Message(role, _joined(content))
    return Message.user(content)


def _add_call(messages: list[Message], item: Mapping[str, Any], param: str) -> None:
    """Calls the model made in one turn become one assistant message with several calls."""
    for name in ("call_id", "name"):
        if not isinstance(item.get(name), str):
            raise InvalidRequestError(f"A function_call needs '{name}'.", param=f"{param}.{name}")
    call = ToolCall(item["call_id"], item["name"], item.get("arguments") or "")
    last = messages[-1] if messages else None
    if last is not None and last.role == "assistant":
        messages[-1] = replace(last, tool_calls=(*last.tool_calls, call))
    else:
        messages.append(Message.assistant(None, (call,)))


def _output_text(item: Mapping[str, Any], param: str) -> str:
    if not isinstance(item.get("call_id"), str):
        raise InvalidRequestError(
            "A function_call_output needs 'call_id'.", param=f"{param}.call_id"
        )
    output = item.get("output")
    if isinstance(output, str):
        return output
    return _joined(_content(output, f"{param}.output"))


def _content(value: Any, param: str) -> str | tuple[ContentPart, ...]:
    if isinstance(value, str):
        return value
    if not isinstance(value, list):
        raise InvalidRequestError("Content must be a string or a list of parts.", param=param)
    return tuple(_part(part, f"{param}[{index}]") for index, part in enumerate(value))


def _part(part: Mapping[str, Any], param: str) -> ContentPart:
    kind = part.get("type")
    if kind in _TEXT_PARTS:
        return TextPart(part.get("text") or part.get("refusal") or "")
    if kind == "input_image" and isinstance(part.get("image_url"), str):
        return ImagePart(part["image_url"], part.get("detail"))
    what = "file ids" if kind == "input_image" else f"'{kind}' parts"
    raise UnsupportedParameterError(
        f"Content {what} need a model served through OpenAI's Responses API; this model is "
        "translated to chat.",
        param=param,
    )


def _joined(content: str | tuple[ContentPart, ...]) -> str:
    if isinstance(content, str):
        return content
    return "".join(part.text for part in content if isinstance(part, TextPart))


def _string(value: Any, param: str) -> str:
    if not isinstance(value, str):
        raise InvalidRequestError(f"'{param}' must be a string.", param=param)
    return value


def _tools(tools: Sequence[Mapping[str, Any]]) -> tuple[ToolSpec, ...]:
    specs: list[ToolSpec] = []
    for position, tool in enumerate(tools):
        kind = tool.get("type")
        if kind != "function":
            what = "A custom tool" if kind == "custom" else f"The built-in tool '{kind}'"
            raise UnsupportedParameterError(
                f"{what} is available only for models served through OpenAI's Responses "
                "API; this model is translated to chat.",
                param=f"tools[{position}]",
            )
        parameters = tool.get("parameters") or {"type": "object", "properties": {}}
        specs.append(ToolSpec(tool["name"], tool.get("description") or "", parameters,
                              strict=tool.get("strict")))  # fmt: skip
    return tuple(specs)


def _tool_choice(choice: Any) -> ToolChoice | None:
    if choice is None or choice in ("auto", "none", "required"):
        return choice
    if isinstance(choice, Mapping) and choice.get("type") == "function":
        return NamedToolChoice(choice["name"])
    kind = choice.get("type") if isinstance(choice, Mapping) else choice
    raise UnsupportedParameterError(
        f"tool_choice '{kind}' needs a model served through OpenAI's Responses API.",
        param="tool_choice",
    )


def response_format(text: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """``text.format`` in Chat Completions' ``response_format`` shape."""
    if not text:
        return None
    if text.get("verbosity") not in (None, "medium"):
        raise UnsupportedParameterError(
            "text.verbosity needs a model served through OpenAI's Responses API.",
            param="text.verbosity",
        )
    form = text.get("format")
    if not form or form.get("type") == "text":
        return None
    if form.get("type") == "json_object":
        return {"type": "json_object"}
    if form.get("type") != "json_schema":
        raise InvalidRequestError("Unknown text.format type.", param="text.format.type")
    spec = {key: form[key] for key in ("name", "schema", "strict", "description") if key in form}
    return {"type": "json_schema", "json_schema": spec}
