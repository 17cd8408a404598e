"""Bedrock Converse requests and answers <-> the gateway's domain values. Pure: no I/O.

One format for every Bedrock model family
(https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html):

- system and developer messages -> ``system``; user/assistant -> ``messages`` with ``text``,
  ``image`` (``data:`` URLs only: Converse takes image bytes, not URLs; refused by name
  otherwise) and ``toolUse`` blocks; tool results -> ``toolResult`` blocks in a user message
  (consecutive results share one);
- temperature, top_p, max_tokens, stop -> ``inferenceConfig``; tools -> ``toolConfig``;
  ``tool_choice`` auto/required/named -> ``auto``/``any``/``tool``. Converse has no "none":
  it is refused by name. ``n``, ``seed``, ``response_format``, ``user`` and ``metadata`` have
  no Converse field and are not sent.
- ``stopReason``: end_turn and stop_sequence -> ``stop``, tool_use -> ``tool_calls``,
  max_tokens -> ``length``, guardrail_intervened and content_filtered -> ``content_filter``;
  others are passed on. Usage: ``inputTokens`` counts only uncached prompt tokens, so the
  prompt is input + cache reads + cache writes, and cache reads are ``cached_tokens``.
Converse answers carry no id or model: the id is made here, the model is the one asked for.

Reasoning (Claude models, ``field_support.BEDROCK``): ``reasoning_effort`` (Anthropic's
budgets) or ``thinking`` -> ``additionalModelRequestFields.thinking``; ``reasoningContent``
blocks come back as ``reasoning_content`` and, whole with their signatures, as the message's
``thinking_blocks`` in Anthropic's shape, which go back as ``reasoningContent`` blocks ahead of
the assistant turn's others (Claude checks the signatures when tools are used).
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import msgspec

from gateway_adapters.providers.anthropic.wire import REASONING_BUDGETS
from gateway_adapters.providers.text_and_images import image_part
from gateway_core.domain.chat import ChatRequest, ChatResponse, Choice
from gateway_core.domain.messages import NO_EXTRA, ContentPart, Message, TextPart, ToolCall
from gateway_core.domain.tools import NamedToolChoice
from gateway_core.domain.usage import Usage
from gateway_core.errors import (
    InvalidRequestError,
    UpstreamBadRequestError,
    UpstreamResponseError,
)

_SYSTEM_ROLES = ("system", "developer")
_IMAGE_FORMATS = {
    "image/png": "png",
    "image/jpeg": "jpeg",
    "image/gif": "gif",
    "image/webp": "webp",
}
FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "length",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
}


def to_converse_payload(
    request: ChatRequest, extras: Mapping[str, Any] = NO_EXTRA
) -> dict[str, Any]:
    """``extras``: the unmodelled fields ``field_support.servable_extras`` let through."""
    payload: dict[str, Any] = {"messages": _messages(request.messages)}
    system = [{"text": m.text} for m in request.messages if m.role in _SYSTEM_ROLES]
    if system:
        payload["system"] = system
    fields = {
        "maxTokens": request.max_tokens,
        "temperature": request.temperature,
        "topP": request.top_p,
        "stopSequences": list(request.stop) or None,
    }
    inference = {name: value for name, value in fields.items() if value is not None}
    thinking = _thinking(request.model, extras)
    if thinking is not None:
        payload["additionalModelRequestFields"] = {"thinking": thinking}
        budget = thinking.get("budget_tokens")
        asked = request.max_tokens
        if isinstance(budget, int) and (asked is None or asked <= budget):
            # Claude counts thinking in maxTokens: keep the asked room for the answer.
            inference["maxTokens"] = (asked or _ANSWER_ROOM) + budget
    if inference:
        payload["inferenceConfig"] = inference
    if request.tools or request.tool_choice is not None:
        payload["toolConfig"] = _tool_config(request)
    return payload


_ANSWER_ROOM = 4096
"""Output tokens kept for the answer when thinking is asked without ``max_tokens``."""


def _thinking(model: str, extras: Mapping[str, Any]) -> dict[str, Any] | None:
    """Claude's ``thinking`` from ``thinking`` (as sent) or ``reasoning_effort``."""
    if "thinking" not in extras and "reasoning_effort" not in extras:
        return None
    name = "thinking" if "thinking" in extras else "reasoning_effort"
    if "anthropic.claude" not in model:
        raise InvalidRequestError(
            f"{name} reaches Bedrock's Claude models only (through Converse).", param=name
        )
    if name == "thinking":
        thinking = extras["thinking"]
        if not isinstance(thinking, Mapping):
            raise InvalidRequestError("thinking must be an object.", param="thinking")
        return dict(thinking)
    effort = extras["reasoning_effort"]
    if not isinstance(effort, str) or effort not in REASONING_BUDGETS:
        raise InvalidRequestError(
            f"reasoning_effort must be one of {', '.join(REASONING_BUDGETS)}.",
            param="reasoning_effort",
        )
    budget = REASONING_BUDGETS[effort]
    if budget is None:
        return {"type": "disabled"}
    return {"type": "enabled", "budget_tokens": budget}


def _tool_config(request: ChatRequest) -> dict[str, Any]:
    tools = [
        {"toolSpec": {"name": spec.name, "inputSchema": {"json": dict(spec.parameters)},
                      **({"description": spec.description} if spec.description else {})}}
        for spec in request.tools
    ]  # fmt: skip
    config: dict[str, Any] = {"tools": tools}
    choice = request.tool_choice
    if choice == "none":
        raise UpstreamBadRequestError(
            "Bedrock's Converse API has no tool_choice 'none': leave the tools out instead",
            param="tool_choice",
        )
    if isinstance(choice, NamedToolChoice):
        config["toolChoice"] = {"tool": {"name": choice.name}}
    elif choice in ("auto", "required"):
        config["toolChoice"] = {"auto": {}} if choice == "auto" else {"any": {}}
    return config


def _messages(messages: tuple[Message, ...]) -> list[dict[str, Any]]:
    converted: list[dict[str, Any]] = []
    for message in messages:
        if message.role in _SYSTEM_ROLES:
            continue
        role = "assistant" if message.role == "assistant" else "user"
        blocks = _blocks(message)
        if converted and converted[-1]["role"] == role and message.role == "tool":
            converted[-1]["content"].extend(blocks)
        else:
            converted.append({"role": role, "content": blocks})
    return converted


def _blocks(message: Message) -> list[dict[str, Any]]:
    if message.role == "tool":
        result = {"toolUseId": message.tool_call_id or "", "content": [{"text": message.text}]}
        return [{"toolResult": result}]
    # Reasoning goes back first and unchanged: Claude checks its signatures.
    blocks = [_reasoning_block(b) for b in message.extra.get("thinking_blocks") or ()]
    blocks += _content(message.content)
    for call in message.tool_calls:
        try:
            arguments = msgspec.json.decode(call.arguments or "{}")
        except msgspec.DecodeError as error:
            raise UpstreamBadRequestError(
                "a tool call's arguments are not JSON", param="messages"
            ) from error
        blocks.append({"toolUse": {"toolUseId": call.id, "name": call.name, "input": arguments}})
    return blocks


def _reasoning_block(block: Any) -> dict[str, Any]:
    """An Anthropic-shaped thinking block (as the gateway returned it) -> ``reasoningContent``."""
    if isinstance(block, Mapping) and block.get("type") == "redacted_thinking":
        return {"reasoningContent": {"redactedContent": block.get("data", "")}}
    if isinstance(block, Mapping) and block.get("type") == "thinking":
        text = {"text": block.get("thinking", ""), "signature": block.get("signature", "")}
        return {"reasoningContent": {"reasoningText": text}}
    raise UpstreamBadRequestError(
        "thinking_blocks entries must be thinking or redacted_thinking blocks", param="messages"
    )


def thinking_block(reasoning: Mapping[str, Any]) -> dict[str, Any]:
    """A ``reasoningContent`` value -> the Anthropic-shaped block the client gets back."""
    if "redactedContent" in reasoning:
        return {"type": "redacted_thinking", "data": reasoning["redactedContent"]}
    text = reasoning.get("reasoningText") or {}
    return {"type": "thinking", "thinking": text.get("text", ""),
            "signature": text.get("signature", "")}  # fmt: skip


def _content(content: str | tuple[ContentPart, ...] | None) -> list[dict[str, Any]]:
    if not content:
        return []
    if isinstance(content, str):
        return [{"text": content}]
    return [_part(part) for part in content]


def _part(part: ContentPart) -> dict[str, Any]:
    if isinstance(part, TextPart):
        return {"text": part.text}
    return _image(image_part(part, "Bedrock").url)


def _image(url: str) -> dict[str, Any]:
    header, _, data = url.removeprefix("data:").partition(",")
    mime_type, _, encoding = header.partition(";")
    if not url.startswith("data:") or encoding != "base64" or mime_type not in _IMAGE_FORMATS:
        raise UpstreamBadRequestError(
            "Bedrock takes images as base64 data: URLs of PNG, JPEG, GIF or WebP",
            param="messages",
        )
    # Converse's JSON carries the bytes base64-encoded, as the data: URL already has them.
    base64.b64decode(data, validate=True)
    return {"image": {"format": _IMAGE_FORMATS[mime_type], "source": {"bytes": data}}}


# ---------------------------------------------------------------- answers


class _ToolUse(msgspec.Struct, rename="camel"):
    tool_use_id: str = ""
    name: str = ""
    input: Any = None


class _Block(msgspec.Struct, rename="camel"):
    text: str | None = None
    tool_use: _ToolUse | None = None
    reasoning_content: dict[str, Any] | None = None


class _Message(msgspec.Struct):
    content: list[_Block] = []
    role: str = "assistant"


class _Output(msgspec.Struct):
    message: _Message | None = None


class ConverseUsage(msgspec.Struct, rename="camel"):
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_write_input_tokens: int = 0


class _Converse(msgspec.Struct, rename="camel"):
    output: _Output
    stop_reason: str = "end_turn"
    usage: ConverseUsage | None = None


_DECODER = msgspec.json.Decoder(_Converse)


def usage(report: ConverseUsage | None) -> Usage:
    if report is None:
        return Usage()
    prompt = report.input_tokens + report.cache_read_input_tokens + report.cache_write_input_tokens
    return Usage(prompt, report.output_tokens, report.cache_read_input_tokens)


def decode_response(raw: bytes, provider: str, model: str) -> ChatResponse:
    try:
        body = _DECODER.decode(raw)
    except msgspec.DecodeError as error:
        raise UpstreamResponseError(
            f"{provider} sent a body that is not a Converse answer", provider=provider
        ) from error
    blocks = body.output.message.content if body.output.message else []
    texts = [block.text for block in blocks if block.text]
    calls = tuple(
        ToolCall(
            b.tool_use.tool_use_id,
            b.tool_use.name,
            msgspec.json.encode(b.tool_use.input or {}).decode(),
        )
        for b in blocks
        if b.tool_use is not None
    )
    thinking = [thinking_block(b.reasoning_content) for b in blocks if b.reasoning_content]
    reasoning = "".join(block.get("thinking", "") for block in thinking)
    message = Message.assistant("".join(texts) if texts else None, calls)
    if thinking:
        message = replace(message, reasoning_content=reasoning or None,
                          extra={"thinking_blocks": thinking})  # fmt: skip
    choice = Choice(
        message=message,
        finish_reason=FINISH.get(body.stop_reason, body.stop_reason),
        native_finish_reason=body.stop_reason,
    )
    return ChatResponse(
        id=f"chatcmpl-{uuid.uuid4().hex}",
        model=model,
        created=int(time.time()),
        choices=(choice,),
        usage=usage(body.usage),
        provider=provider,
    )
