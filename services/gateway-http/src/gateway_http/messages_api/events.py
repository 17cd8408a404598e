"""The chat turn's stream as Anthropic's Messages event sequence. Pure.

``message_start`` (the message, empty), ``ping``, then per content block
``content_block_start``, its deltas (``text_delta``, ``input_json_delta``, or for a thinking
block ``thinking_delta``s then one ``signature_delta``) and ``content_block_stop``;
``message_delta`` with the stop reason and the usage; ``message_stop``.
The whole usage is known only at the end (the chat turn reports it last), so it travels in
``message_delta``, whose usage carries input and cache tokens as well as output tokens.

Thinking arrives from the chat turn as ``reasoning_content`` pieces and, from an Anthropic
model, each whole block (signature included) when it ends (``delta_extra["thinking_blocks"]``):
the pieces stream as ``thinking_delta``s, the whole block adds its ``signature_delta`` and
closes it. Another model's reasoning has no signature; its block closes with the next one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway_core.domain.chat import ChatChunk
from gateway_core.domain.usage import Usage
from gateway_http.messages_api.output import stop_reason, usage_body

Event = tuple[str, dict[str, Any]]
_THINKING = ("thinking", -2)
_THINKING_OPENING = {"type": "thinking", "thinking": "", "signature": ""}


class MessagesEvents:
    def __init__(self, message_id: str, model: str) -> None:
        self._id = f"msg_{message_id}"
        self._model = model
        self._open: tuple[str, int] | None = None
        """The open block: ("text", -1), ("thinking", -2) or ("tool_use", tool call index)."""
        self._blocks = 0

    def start(self) -> list[Event]:
        message: dict[str, Any] = {
            "id": self._id, "type": "message", "role": "assistant", "model": self._model,
            "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": usage_body(Usage()),
        }  # fmt: skip
        return [("message_start", {"type": "message_start", "message": message}),
                ("ping", {"type": "ping"})]  # fmt: skip

    def feed(self, chunk: ChatChunk) -> list[Event]:
        events: list[Event] = []
        if chunk.reasoning_content:
            events += self._switch(_THINKING, _THINKING_OPENING)
            events.append(self._delta({"type": "thinking_delta",
                                       "thinking": chunk.reasoning_content}))  # fmt: skip
        for block in chunk.delta_extra.get("thinking_blocks") or ():
            events += self._whole_thinking(block)
        if chunk.content:
            events += self._switch(("text", -1), {"type": "text", "text": ""})
            events.append(self._delta({"type": "text_delta", "text": chunk.content}))
        for call in chunk.tool_calls:
            opening = {
                "type": "tool_use",
                "id": call.id or "",
                "name": call.name or "",
                "input": {},
            }
            events += self._switch(("tool_use", call.index), opening)
            if call.arguments:
                events.append(
                    self._delta({"type": "input_json_delta", "partial_json": call.arguments})
                )
        return events

    def finish(self, finish_reason: str | None, native: str | None, usage: Usage) -> list[Event]:
        events = self._close()
        delta = {"stop_reason": stop_reason(finish_reason, native), "stop_sequence": None}
        events.append(("message_delta", {"type": "message_delta", "delta": delta,
                                         "usage": usage_body(usage)}))  # fmt: skip
        events.append(("message_stop", {"type": "message_stop"}))
        return events

    def _whole_thinking(self, block: Mapping[str, Any]) -> list[Event]:
        """A finished thinking block: its signature ends the streamed one, or it is sent whole
        (a redacted block, or one whose text did not stream)."""
        if block.get("type") == "redacted_thinking":
            events = self._switch(("redacted_thinking", -3), dict(block))
            return events + self._close()
        events = []
        if self._open != _THINKING:
            events += self._switch(_THINKING, _THINKING_OPENING)
            if block.get("thinking"):
                text = block["thinking"]
                events.append(self._delta({"type": "thinking_delta", "thinking": text}))
        if block.get("signature"):
            signature = block["signature"]
            events.append(self._delta({"type": "signature_delta", "signature": signature}))
        return events + self._close()

    @staticmethod
    def error(error_type: str, message: str) -> Event:
        return ("error", {"type": "error", "error": {"type": error_type, "message": message}})

    def _switch(self, block: tuple[str, int], opening: dict[str, Any]) -> list[Event]:
        if self._open == block:
            return []
        events = self._close()
        self._open = block
        start = {"type": "content_block_start", "index": self._blocks, "content_block": opening}
        events.append(("content_block_start", start))
        return events

    def _delta(self, delta: dict[str, Any]) -> Event:
        return ("content_block_delta", {"type": "content_block_delta", "index": self._blocks,
                                        "delta": delta})  # fmt: skip

    def _close(self) -> list[Event]:
        if self._open is None:
            return []
        event = ("content_block_stop", {"type": "content_block_stop", "index": self._blocks})
        self._open = None
        self._blocks += 1
        return [event]
