"""The chat turn's stream as the Responses API's typed events, with ``sequence_number``. Pure.

The sequence the openai SDK's stream accumulator (and the Agents SDK) expect:
``response.created``, ``response.in_progress``; per output item ``response.output_item.added``,
for text ``response.content_part.added``, ``response.output_text.delta``...,
``response.output_text.done``, ``response.content_part.done``; for a function call
``response.function_call_arguments.delta``..., ``.done``; for reasoning (the model's reasoning
text, and an Anthropic model's thinking blocks, see ``reasoning``)
``response.reasoning_summary_part.added``, ``response.reasoning_summary_text.delta``...,
``.done``, ``response.reasoning_summary_part.done``; then ``response.output_item.done`` (a
reasoning item's as soon as the next item begins, the others' at the end);
and at the end ``response.completed`` (or ``response.incomplete``) with the whole response, or
an ``error`` event when the turn fails after the stream began.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway_core.domain.chat import ChatChunk, ToolCallDelta
from gateway_core.domain.messages import ToolCall
from gateway_core.domain.usage import Usage
from gateway_http.responses_api.output import (
    function_call_item,
    message_item,
    response_object,
    text_part,
)
from gateway_http.responses_api.reasoning import reasoning_item

Event = dict[str, Any]
_RATE_LIMIT_CODES = frozenset({"rate_limit_exceeded", "upstream_rate_limited"})


@dataclass(slots=True)
class _Item:
    output_index: int
    item_id: str
    kind: str
    text: list[str] = field(default_factory=list)
    call_id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)
    blocks: list[Mapping[str, Any]] = field(default_factory=list)
    done: dict[str, Any] | None = None

    def finished(self, status: str) -> dict[str, Any]:
        if self.kind == "message":
            return message_item(self.item_id, "".join(self.text), status)
        if self.kind == "reasoning":
            return reasoning_item(self.item_id, "".join(self.text), self.blocks, status)
        call = ToolCall(self.call_id, self.name, "".join(self.arguments))
        return function_call_item(self.item_id, call, status)


class ResponsesEvents:
    """Feed it the turn's chunks; it returns the events to send, in order."""

    def __init__(self, request: Mapping[str, Any], response_id: str, created_at: int) -> None:
        self._request = request
        self._id = response_id
        self._created_at = created_at
        self.model: str = request["model"]
        self._sequence = 0
        self._items: list[_Item] = []
        self._message: _Item | None = None
        self._calls: dict[int, _Item] = {}
        self._reasoning: _Item | None = None
        """The reasoning item still open: it closes when another item begins."""
        self.final: dict[str, Any] | None = None
        """The whole response once the stream ended (what ``store`` keeps)."""

    def _event(self, kind: str, **fields: Any) -> Event:
        event = {"type": kind, "sequence_number": self._sequence, **fields}
        self._sequence += 1
        return event

    def _snapshot(self, status: str, **extra: Any) -> dict[str, Any]:
        return response_object(
            self._request, self._id, self._created_at, model=self.model, status=status, **extra
        )

    def start(self) -> list[Event]:
        snapshot = self._snapshot("in_progress")
        return [
            self._event("response.created", response=snapshot),
            self._event("response.in_progress", response=snapshot),
        ]

    def feed(self, chunk: ChatChunk) -> list[Event]:
        if chunk.model:
            self.model = chunk.model
        events: list[Event] = []
        if chunk.reasoning_content:
            events += self._reasoning_text(chunk.reasoning_content)
        for block in chunk.delta_extra.get("thinking_blocks") or ():
            events += self._reasoning_item()
            self._reasoning.blocks.append(block)  # type: ignore[union-attr]
        if chunk.content:
            events += self._text(chunk.content)
        for delta in chunk.tool_calls:
            events += self._call(delta)
        return events

    def finish(self, finish_reason: str | None, usage: Usage) -> list[Event]:
        incomplete = finish_reason in ("length", "content_filter")
        item_status = "incomplete" if incomplete else "completed"
        events = [event for item in self._items if item.done is None
                  for event in self._close(item, item_status)]  # fmt: skip
        output = [item.done for item in self._items if item.done is not None]
        if not output:  # an empty answer is still one (empty) message, as OpenAI sends it
            output = [message_item(f"msg_{self._id}", "", item_status)]
        self.final = self._snapshot(
            "completed", output=output, usage=usage, finish_reason=finish_reason
        )
        kind = (
            "response.incomplete" if self.final["status"] == "incomplete" else "response.completed"
        )
        events.append(self._event(kind, response=self.final))
        return events

    def failed(self, code: str, message: str) -> list[Event]:
        """The turn failed after the stream began: ``error``, then ``response.failed``."""
        events = failure_events(self._snapshot("failed"), code, message, self._sequence)
        self._sequence += len(events)
        return events

    def _open(self, kind: str, item_id: str, **fields: Any) -> tuple[_Item, list[Event]]:
        closed: list[Event] = []
        if self._reasoning is not None:
            closed = self._close(self._reasoning, "completed")
            self._reasoning = None
        item = _Item(len(self._items), item_id, kind, **fields)
        self._items.append(item)
        added = item.finished("in_progress")
        if kind == "message":
            added["content"] = []
        events = [
            *closed,
            self._event("response.output_item.added", output_index=item.output_index, item=added),
        ]
        if kind == "message":
            events.append(self._part_event("response.content_part.added", item, text_part("")))
        return item, events

    def _part_event(self, kind: str, item: _Item, part: dict[str, Any]) -> Event:
        return self._event(kind, item_id=item.item_id, output_index=item.output_index,
                           content_index=0, part=part)  # fmt: skip

    def _reasoning_item(self) -> list[Event]:
        if self._reasoning is not None:
            return []
        number = sum(item.kind == "reasoning" for item in self._items)
        item_id = f"rs_{self._id}" + (f"_{number}" if number else "")
        item, events = self._open("reasoning", item_id)
        self._reasoning = item
        return events

    def _summary_event(self, kind: str, item: _Item, **fields: Any) -> Event:
        return self._event(kind, item_id=item.item_id, output_index=item.output_index,
                           summary_index=0, **fields)  # fmt: skip

    def _reasoning_text(self, text: str) -> list[Event]:
        events = self._reasoning_item()
        item = self._reasoning
        assert item is not None
        if not item.text:
            part = {"type": "summary_text", "text": ""}
            events.append(self._summary_event("response.reasoning_summary_part.added", item,
                                              part=part))  # fmt: skip
        item.text.append(text)
        events.append(self._summary_event("response.reasoning_summary_text.delta", item,
                                          delta=text))  # fmt: skip
        return events

    def _text(self, text: str) -> list[Event]:
        events: list[Event] = []
        if self._message is None:
            self._message, events = self._open("message", f"msg_{self._id}")
        item = self._message
        item.text.append(text)
        events.append(self._event("response.output_text.delta", item_id=item.item_id,
                                  output_index=item.output_index, content_index=0,
                                  delta=text, logprobs=[]))  # fmt: skip
        return events

    def _call(self, delta: ToolCallDelta) -> list[Event]:
        events: list[Event] = []
        item = self._calls.get(delta.index)
        if item is None:
            item_id = f"fc_{self._id}_{delta.index}"
            item, events = self._open("function_call", item_id, call_id=delta.id or item_id,
                                      name=delta.name or "")  # fmt: skip
            self._calls[delta.index] = item
        if delta.arguments:
            item.arguments.append(delta.arguments)
            events.append(self._event("response.function_call_arguments.delta",
                                      item_id=item.item_id, output_index=item.output_index,
                                      delta=delta.arguments))  # fmt: skip
        return events

    def _close(self, item: _Item, status: str) -> list[Event]:
        done = item.done = item.finished(status)
        common = {"item_id": item.item_id, "output_index": item.output_index}
        if item.kind == "reasoning":
            events = []
            if item.text:
                text = "".join(item.text)
                part = {"type": "summary_text", "text": text}
                events = [
                    self._summary_event("response.reasoning_summary_text.done", item, text=text),
                    self._summary_event("response.reasoning_summary_part.done", item, part=part),
                ]
        elif item.kind == "message":
            text = done["content"][0]["text"]
            events = [
                self._event("response.output_text.done", **common, content_index=0, text=text,
                            logprobs=[]),
                self._part_event("response.content_part.done", item, done["content"][0]),
            ]  # fmt: skip
        else:
            events = [self._event("response.function_call_arguments.done", **common,
                                  name=item.name, arguments=done["arguments"])]  # fmt: skip
        events.append(self._event("response.output_item.done", output_index=item.output_index,
                                  item=done))  # fmt: skip
        return events


def failure_events(
    snapshot: Mapping[str, Any], code: str, message: str, sequence: int
) -> list[Event]:
    """``error``, then ``response.failed`` with ``snapshot`` (the response so far, the
    gateway's or a natively forwarded vendor's), numbered from ``sequence``."""
    # The response's error code is one of OpenAI's few; the event carries the gateway's.
    closest = "rate_limit_exceeded" if code in _RATE_LIMIT_CODES else "server_error"
    failed = {**snapshot, "status": "failed", "error": {"code": closest, "message": message}}
    return [
        {"type": "error", "sequence_number": sequence, "code": code, "message": message,
         "param": None},
        {"type": "response.failed", "sequence_number": sequence + 1, "response": failed},
    ]  # fmt: skip
