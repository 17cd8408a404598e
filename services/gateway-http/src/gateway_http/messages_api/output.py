"""The turn's answer as an Anthropic ``message`` object. Pure.

``stop_reason`` is the provider's own when it is one of Anthropic's (an Anthropic model
reached through the chat path), else mapped from the chat ``finish_reason``: stop to
``end_turn``, length to ``max_tokens``, tool_calls to ``tool_use``, content_filter to
``refusal``. Usage splits the prompt tokens as Anthropic does: ``input_tokens`` are the
uncached ones, ``cache_read_input_tokens`` the cached ones and ``cache_creation_input_tokens``
the ones written to the cache.

The model's reasoning comes first, as Anthropic puts it: the thinking blocks an Anthropic
model returned (signatures intact, so the client can send them back), else the reasoning text
of another model (DeepSeek's, Ollama's) as one thinking block with an empty signature, which
only the gateway's translated path accepts back (see ``request``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from gateway_core.domain.chat import ChatResponse
from gateway_core.domain.messages import Message, ToolCall
from gateway_core.domain.usage import Usage

ANTHROPIC_STOP_REASONS = frozenset(
    {"end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal",
     "model_context_window_exceeded"}
)  # fmt: skip
_FROM_FINISH: Mapping[str, str] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
}


def stop_reason(finish_reason: str | None, native: str | None) -> str | None:
    if native in ANTHROPIC_STOP_REASONS:
        return native
    if finish_reason is None:
        return None
    return _FROM_FINISH.get(finish_reason, "end_turn")


def usage_body(usage: Usage) -> dict[str, Any]:
    return {
        "input_tokens": usage.prompt_tokens - usage.cached_tokens - usage.cache_write_tokens,
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_read_input_tokens": usage.cached_tokens,
        "output_tokens": usage.completion_tokens,
    }


def tool_input(arguments: str) -> Any:
    """A tool call's arguments as the ``input`` object; a model's broken JSON stays text,
    under ``_raw``, rather than being lost."""
    if not arguments.strip():
        return {}
    try:
        value = msgspec.json.decode(arguments)
    except msgspec.DecodeError:
        return {"_raw": arguments}
    return value if isinstance(value, dict) else {"_raw": arguments}


def tool_use_block(call: ToolCall) -> dict[str, Any]:
    return {
        "type": "tool_use",
        "id": call.id,
        "name": call.name,
        "input": tool_input(call.arguments),
    }


def thinking_blocks(message: Message) -> list[dict[str, Any]]:
    blocks = message.extra.get("thinking_blocks")
    if blocks:
        return [dict(block) for block in blocks]
    if message.reasoning_content:
        return [{"type": "thinking", "thinking": message.reasoning_content, "signature": ""}]
    return []


def message_object(
    response: ChatResponse, message_id: str, stop_sequences: tuple[str, ...] = ()
) -> dict[str, Any]:
    choice = response.choices[0]
    content = thinking_blocks(choice.message)
    if choice.message.text:
        content.append({"type": "text", "text": choice.message.text})
    content.extend(tool_use_block(call) for call in choice.message.tool_calls)
    reason = stop_reason(choice.finish_reason, choice.native_finish_reason)
    return {
        "id": f"msg_{message_id}",
        "type": "message",
        "role": "assistant",
        "model": response.model,
        "content": content,
        "stop_reason": reason,
        "stop_sequence": None,
        "usage": usage_body(response.usage),
    }
