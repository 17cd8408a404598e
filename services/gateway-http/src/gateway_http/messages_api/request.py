"""A ``POST /v1/messages`` body as a ``ChatRequest`` for the translated path. Pure.

Mapped: ``system`` (a string or text blocks) to a leading system message; ``text`` and
``image`` (base64 to a data URL, or a URL) blocks; plain-text ``document`` blocks to text;
``tool_use`` blocks to the assistant's tool calls (``input`` as JSON text); ``tool_result``
blocks to tool messages (text content; ``is_error`` as an ``Error:`` prefix, since chat
models have no error flag); custom ``tools`` (``input_schema`` to ``parameters``);
``tool_choice`` ``auto``/``any``/``tool``/``none`` to auto/required/named/none and
``disable_parallel_tool_use`` to ``parallel_tool_calls: false``; ``max_tokens``,
``temperature``, ``top_p``, ``stop_sequences`` (to ``stop``), ``metadata.user_id`` (to
``user``). Dropped and reported (``dropped``): ``thinking`` and ``redacted_thinking`` blocks
(their signatures only Anthropic can check), the ``thinking`` setting, ``top_k``,
``cache_control``. Refused: server tools, PDF documents, and every field this module does not
know.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from gateway_core.domain.chat import ChatRequest
from gateway_core.domain.messages import ContentPart, ImagePart, Message, TextPart, ToolCall
from gateway_core.domain.tools import NamedToolChoice, ToolChoice, ToolSpec
from gateway_core.errors import InvalidRequestError

_HANDLED = frozenset({
    "model", "messages", "system", "max_tokens", "temperature", "top_p", "stop_sequences",
    "tools", "tool_choice", "metadata", "stream",
})  # fmt: skip
_DROPPABLE = frozenset({"thinking", "top_k", "service_tier", "context_management"})
_encode_json = msgspec.json.Encoder().encode


class UnsupportedParameterError(InvalidRequestError):
    code = "unsupported_parameter"


@dataclass(slots=True)
class Translation:
    request: ChatRequest
    dropped: list[str] = field(default_factory=list)


def _unsupported(what: str, param: str) -> UnsupportedParameterError:
    return UnsupportedParameterError(
        f"{what} needs a model served by Anthropic; this model is translated to chat.",
        param=param,
    )


def to_chat_request(body: Mapping[str, Any]) -> Translation:
    dropped: list[str] = []
    for name, value in body.items():
        if name in _HANDLED or value is None:
            continue
        if name not in _DROPPABLE:
            raise _unsupported(f"'{name}'", name)
        if value != {"type": "disabled"}:
            dropped.append(name)
    messages = _system(body.get("system"), dropped)
    for position, message in enumerate(body["messages"]):
        messages.extend(_turn(message, f"messages[{position}]", dropped))
    choice, parallel = _tool_choice(body.get("tool_choice"))
    request = ChatRequest(
        model=body["model"],
        messages=tuple(messages),
        temperature=body.get("temperature"),
        top_p=body.get("top_p"),
        max_tokens=body["max_tokens"],
        stop=tuple(body.get("stop_sequences") or ()),
        tools=_tools(body.get("tools") or [], dropped),
        tool_choice=choice,
        user=(body.get("metadata") or {}).get("user_id"),
        stream=bool(body.get("stream")),
        parallel_tool_calls=parallel,
    )
    return Translation(request, sorted(set(dropped), key=dropped.index))


def _system(system: Any, dropped: list[str]) -> list[Message]:
    if not system:
        return []
    if isinstance(system, str):
        return [Message.system(system)]
    texts = []
    for position, block in enumerate(system):
        if block.get("type") != "text":
            raise InvalidRequestError("System blocks must be text.", param=f"system[{position}]")
        _note_cache_control(block, dropped)
        texts.append(block.get("text") or "")
    return [Message.system("\n\n".join(texts))]


def _note_cache_control(block: Mapping[str, Any], dropped: list[str]) -> None:
    if block.get("cache_control") is not None:
        dropped.append("cache_control")


def _turn(message: Mapping[str, Any], param: str, dropped: list[str]) -> list[Message]:
    content = message["content"]
    if isinstance(content, str):
        return [Message(message["role"], content)]
    if message["role"] == "assistant":
        return [_assistant(content, param, dropped)]
    results: list[Message] = []
    parts: list[ContentPart] = []
    for position, block in enumerate(content):
        where = f"{param}.content[{position}]"
        _note_cache_control(block, dropped)
        if block.get("type") == "tool_result":
            results.append(_tool_result(block, where, dropped))
        else:
            parts.extend(_parts(block, where, dropped))
    # Tool results answer the previous assistant turn, so they come before the user's text.
    return [*results, Message.user(tuple(parts))] if parts else results


def _assistant(content: Sequence[Mapping[str, Any]], param: str, dropped: list[str]) -> Message:
    parts: list[ContentPart] = []
    calls: list[ToolCall] = []
    for position, block in enumerate(content):
        where = f"{param}.content[{position}]"
        _note_cache_control(block, dropped)
        if block.get("type") == "tool_use":
            calls.append(
                ToolCall(
                    block["id"], block["name"], _encode_json(block.get("input") or {}).decode()
                )
            )
        else:
            parts.extend(_parts(block, where, dropped))
    text = "".join(p.text for p in parts if isinstance(p, TextPart))
    return Message.assistant(text or None, tuple(calls))


def _parts(block: Mapping[str, Any], param: str, dropped: list[str]) -> list[ContentPart]:
    kind = block.get("type")
    if kind == "text":
        return [TextPart(block.get("text") or "")]
    if kind == "image":
        return [_image(block.get("source") or {}, param)]
    if kind in ("thinking", "redacted_thinking"):
        dropped.append("thinking blocks")
        return []
    if kind == "document":
        source = block.get("source") or {}
        if source.get("type") == "text":
            return [TextPart(source.get("data") or "")]
        raise _unsupported(f"A '{source.get('type')}' document", param)
    raise _unsupported(f"A '{kind}' block", param)


def _image(source: Mapping[str, Any], param: str) -> ImagePart:
    if source.get("type") == "base64":
        return ImagePart(f"data:{source.get('media_type')};base64,{source.get('data')}")
    if source.get("type") == "url":
        return ImagePart(source["url"])
    raise _unsupported(f"An image from '{source.get('type')}'", f"{param}.source")


def _tool_result(block: Mapping[str, Any], param: str, dropped: list[str]) -> Message:
    content = block.get("content")
    if isinstance(content, list):
        parts = [p for b in content for p in _parts(b, f"{param}.content", dropped)]
        if any(isinstance(p, ImagePart) for p in parts):
            raise _unsupported("An image in a tool_result", f"{param}.content")
        text = "".join(p.text for p in parts if isinstance(p, TextPart))
    else:
        text = content or ""
    if block.get("is_error"):
        text = f"Error: {text}"
    return Message.tool_result(block["tool_use_id"], text)


def _tools(tools: Sequence[Mapping[str, Any]], dropped: list[str]) -> tuple[ToolSpec, ...]:
    specs = []
    for position, tool in enumerate(tools):
        if tool.get("type") not in (None, "custom"):
            raise _unsupported(f"The server tool '{tool.get('type')}'", f"tools[{position}]")
        _note_cache_control(tool, dropped)
        name = tool.get("name")
        if not isinstance(name, str) or not name:
            raise InvalidRequestError("A tool needs a 'name'.", param=f"tools[{position}].name")
        schema = tool.get("input_schema") or {"type": "object", "properties": {}}
        if not isinstance(schema, Mapping):
            raise InvalidRequestError(
                "'input_schema' must be a JSON Schema object.",
                param=f"tools[{position}].input_schema",
            )
        specs.append(ToolSpec(name, str(tool.get("description") or ""), schema))
    return tuple(specs)


_CHOICES: Mapping[str, ToolChoice] = {"auto": "auto", "any": "required", "none": "none"}


def _tool_choice(choice: Mapping[str, Any] | None) -> tuple[ToolChoice | None, bool | None]:
    if not choice:
        return None, None
    parallel = False if choice.get("disable_parallel_tool_use") else None
    kind = choice.get("type")
    if kind == "tool":
        name = choice.get("name")
        if not isinstance(name, str) or not name:
            raise InvalidRequestError(
                "tool_choice 'tool' needs a 'name'.", param="tool_choice.name"
            )
        return NamedToolChoice(name), parallel
    if isinstance(kind, str) and kind in _CHOICES:
        return _CHOICES[kind], parallel
    raise InvalidRequestError(f"Unknown tool_choice type '{kind}'.", param="tool_choice.type")
