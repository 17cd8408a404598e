"""A ``POST /v1/messages`` body as a ``ChatRequest`` for the translated path. Pure.

Mapped: ``system`` (a string or text blocks) to a leading system message; ``text`` and
``image`` (base64 to a data URL, or a URL) blocks; plain-text ``document`` blocks to text;
``tool_use`` blocks to the assistant's tool calls (``input`` as JSON text); ``tool_result``
blocks to tool messages (text content; ``is_error`` as an ``Error:`` prefix, since chat
models have no error flag); custom ``tools`` (``input_schema`` to ``parameters``);
``tool_choice`` ``auto``/``any``/``tool``/``none`` to auto/required/named/none and
``disable_parallel_tool_use`` to ``parallel_tool_calls: false``; ``max_tokens``,
``temperature``, ``top_p``, ``stop_sequences`` (to ``stop``), ``metadata.user_id`` (to
``user``).

What depends on the routed provider's format (``provider_type``) goes where the chat turn's
adapters read it (their field tables, ``gateway_adapters.providers.field_support``):

- ``thinking``: an ``anthropic`` provider gets it as sent (``extra["thinking"]``); any other
  gets ``reasoning_effort`` from the budget (up to 2048 low, up to 8192 medium, else high;
  ``adaptive``: medium), which OpenAI-format providers receive and Ollama maps to ``think``;
- ``top_k``: ``extra["top_k"]``, forwarded or mapped per the table;
- a provider whose adapter cannot serve one of them drops it and reports it (the door's
  request allows drops), per its field table;
- ``cache_control`` on system blocks, text and image blocks, tools and ``tool_result`` blocks
  (on the result's last text) stays on the chat content parts and tools, which the Anthropic
  chat adapter sends on the matching blocks; other formats have no prompt-cache hint, so for
  them it is dropped and reported, as it is on blocks the chat request cannot hold
  (``tool_use``);
- ``thinking`` and ``redacted_thinking`` blocks of an assistant turn ride on its message as
  ``extra["thinking_blocks"]``, which the Anthropic chat adapter sends back first, signatures
  unchanged; only Anthropic can check them, so for other formats they are dropped and
  reported.

Dropped and reported (``dropped``): what the provider cannot take, as above, and
``service_tier``, ``context_management``. Refused: server tools, PDF documents, and every
field this module does not know.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

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

_HANDLED = frozenset({
    "model", "messages", "system", "max_tokens", "temperature", "top_p", "stop_sequences",
    "tools", "tool_choice", "metadata", "stream", "thinking", "top_k", "session_id",
})  # fmt: skip
_DROPPABLE = frozenset({"service_tier", "context_management"})
_THINKING_BLOCKS = frozenset({"thinking", "redacted_thinking"})
_encode_json = msgspec.json.Encoder().encode


class UnsupportedParameterError(InvalidRequestError):
    code = "unsupported_parameter"


@dataclass(slots=True)
class Translation:
    request: ChatRequest
    dropped: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Reading:
    """What one translation notes on its way: the drops, and whether the provider is
    Anthropic (which takes thinking blocks and ``cache_control`` as they are)."""

    anthropic: bool
    dropped: list[str] = field(default_factory=list)

    def cache_control(self, block: Mapping[str, Any]) -> Mapping[str, Any] | None:
        value = block.get("cache_control")
        if value is None:
            return None
        if not self.anthropic:
            self.dropped.append("cache_control")
            return None
        return value


def _unsupported(what: str, param: str) -> UnsupportedParameterError:
    return UnsupportedParameterError(
        f"{what} needs a model served by Anthropic; this model is translated to chat.",
        param=param,
    )


def to_chat_request(body: Mapping[str, Any], provider_type: str = "openai") -> Translation:
    """``provider_type``: the routed provider's type (``config/providers.json``)."""
    reading = _Reading(anthropic=provider_type == "anthropic")
    for name, value in body.items():
        if name in _HANDLED or value is None:
            continue
        if name not in _DROPPABLE:
            raise _unsupported(f"'{name}'", name)
        reading.dropped.append(name)
    messages = _system(body.get("system"), reading)
    for position, message in enumerate(body["messages"]):
        messages.extend(_turn(message, f"messages[{position}]", reading))
    choice, parallel = _tool_choice(body.get("tool_choice"))
    request = ChatRequest(
        model=body["model"],
        messages=tuple(messages),
        temperature=body.get("temperature"),
        top_p=body.get("top_p"),
        max_tokens=body["max_tokens"],
        stop=tuple(body.get("stop_sequences") or ()),
        tools=_tools(body.get("tools") or [], reading),
        tool_choice=choice,
        user=(body.get("metadata") or {}).get("user_id"),
        stream=bool(body.get("stream")),
        parallel_tool_calls=parallel,
        extra=_extras(body, reading, provider_type) or NO_EXTRA,
        # A fallback of another format drops (and reports) what it cannot take: a door's
        # client has no ``drop_params`` to send.
        drop_params=True,
    )
    dropped = reading.dropped
    return Translation(request, sorted(set(dropped), key=dropped.index))


def _extras(body: Mapping[str, Any], reading: _Reading, provider_type: str) -> dict[str, Any]:
    extras: dict[str, Any] = {}
    if body.get("top_k") is not None:
        extras["top_k"] = body["top_k"]
    thinking = body.get("thinking")
    if thinking is not None and thinking.get("type") != "disabled":
        if reading.anthropic:
            extras["thinking"] = thinking
        else:
            extras["reasoning_effort"] = reasoning_effort(thinking)
    return extras


def reasoning_effort(thinking: Mapping[str, Any]) -> str:
    """A thinking budget as the nearest ``reasoning_effort`` (the inverse of the Anthropic
    adapter's budgets: low 1024, medium 4096, high 16384)."""
    if thinking.get("type") != "enabled":
        if thinking.get("type") == "adaptive":
            return "medium"
        raise InvalidRequestError(
            "thinking.type must be enabled, disabled or adaptive.", param="thinking.type"
        )
    budget = thinking.get("budget_tokens")
    if not isinstance(budget, int) or isinstance(budget, bool) or budget < 1:
        raise InvalidRequestError(
            "thinking.budget_tokens must be a positive integer.", param="thinking.budget_tokens"
        )
    return "low" if budget <= 2048 else "medium" if budget <= 8192 else "high"


def _system(system: Any, reading: _Reading) -> list[Message]:
    if not system:
        return []
    if isinstance(system, str):
        return [Message.system(system)]
    parts: list[TextPart] = []
    for position, block in enumerate(system):
        if block.get("type") != "text":
            raise InvalidRequestError("System blocks must be text.", param=f"system[{position}]")
        parts.append(TextPart(block.get("text") or "", reading.cache_control(block)))
    if not any(part.cache_control for part in parts):
        return [Message.system("\n\n".join(part.text for part in parts))]
    # Kept as blocks: the Anthropic adapter sends each, its breakpoint on the right one.
    return [Message("system", tuple(parts))]


def _turn(message: Mapping[str, Any], param: str, reading: _Reading) -> list[Message]:
    content = message["content"]
    if isinstance(content, str):
        return [Message(message["role"], content)]
    if message["role"] == "assistant":
        return [_assistant(content, param, reading)]
    results: list[Message] = []
    parts: list[ContentPart] = []
    for position, block in enumerate(content):
        where = f"{param}.content[{position}]"
        if block.get("type") == "tool_result":
            results.append(_tool_result(block, where, reading))
        else:
            parts.extend(_parts(block, where, reading))
    # Tool results answer the previous assistant turn, so they come before the user's text.
    return [*results, Message.user(tuple(parts))] if parts else results


def _assistant(content: Sequence[Mapping[str, Any]], param: str, reading: _Reading) -> Message:
    parts: list[ContentPart] = []
    calls: list[ToolCall] = []
    thinking: list[Mapping[str, Any]] = []
    for position, block in enumerate(content):
        where = f"{param}.content[{position}]"
        kind = block.get("type")
        if kind == "tool_use":
            if block.get("cache_control") is not None:
                reading.dropped.append("cache_control")
            arguments = _encode_json(block.get("input") or {}).decode()
            calls.append(ToolCall(block["id"], block["name"], arguments))
        elif kind in _THINKING_BLOCKS:
            thinking.append(block)
        else:
            parts.extend(_parts(block, where, reading))
    if thinking and not reading.anthropic:
        reading.dropped.append("thinking blocks")
    extra = {"thinking_blocks": thinking} if thinking and reading.anthropic else NO_EXTRA
    content_value: str | tuple[ContentPart, ...] | None
    if any(getattr(part, "cache_control", None) for part in parts):
        content_value = tuple(parts)
    else:
        content_value = "".join(p.text for p in parts if isinstance(p, TextPart)) or None
    return Message("assistant", content_value, tool_calls=tuple(calls), extra=extra)


def _parts(block: Mapping[str, Any], param: str, reading: _Reading) -> list[ContentPart]:
    kind = block.get("type")
    if kind == "text":
        return [TextPart(block.get("text") or "", reading.cache_control(block))]
    if kind == "image":
        return [_image(block.get("source") or {}, param, reading.cache_control(block))]
    if kind in _THINKING_BLOCKS:
        # Only an assistant turn carries thinking; elsewhere no model would read it.
        reading.dropped.append("thinking blocks")
        return []
    if kind == "document":
        source = block.get("source") or {}
        if source.get("type") == "text":
            return [TextPart(source.get("data") or "", reading.cache_control(block))]
        raise _unsupported(f"A '{source.get('type')}' document", param)
    raise _unsupported(f"A '{kind}' block", param)


def _image(
    source: Mapping[str, Any], param: str, cache_control: Mapping[str, Any] | None
) -> ImagePart:
    if source.get("type") == "base64":
        url = f"data:{source.get('media_type')};base64,{source.get('data')}"
        return ImagePart(url, cache_control=cache_control)
    if source.get("type") == "url":
        return ImagePart(source["url"], cache_control=cache_control)
    raise _unsupported(f"An image from '{source.get('type')}'", f"{param}.source")


def _tool_result(block: Mapping[str, Any], param: str, reading: _Reading) -> Message:
    content = block.get("content")
    if isinstance(content, list):
        parts = [p for b in content for p in _parts(b, f"{param}.content", reading)]
        if any(isinstance(p, ImagePart) for p in parts):
            raise _unsupported("An image in a tool_result", f"{param}.content")
        text = "".join(p.text for p in parts if isinstance(p, TextPart))
    else:
        text = content or ""
    if block.get("is_error"):
        text = f"Error: {text}"
    cache_control = reading.cache_control(block)
    if cache_control is None:
        return Message.tool_result(block["tool_use_id"], text)
    # The breakpoint on the result's text: the cached prefix ends at the same place.
    return Message("tool", (TextPart(text, cache_control),), tool_call_id=block["tool_use_id"])


def _tools(tools: Sequence[Mapping[str, Any]], reading: _Reading) -> tuple[ToolSpec, ...]:
    specs = []
    for position, tool in enumerate(tools):
        if tool.get("type") not in (None, "custom"):
            raise _unsupported(f"The server tool '{tool.get('type')}'", f"tools[{position}]")
        name = tool.get("name")
        if not isinstance(name, str) or not name:
            raise InvalidRequestError("A tool needs a 'name'.", param=f"tools[{position}].name")
        schema = tool.get("input_schema") or {"type": "object", "properties": {}}
        if not isinstance(schema, Mapping):
            raise InvalidRequestError(
                "'input_schema' must be a JSON Schema object.",
                param=f"tools[{position}].input_schema",
            )
        description = str(tool.get("description") or "")
        specs.append(
            ToolSpec(name, description, schema, cache_control=reading.cache_control(tool))
        )
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
