"""ConverseStream's binary event stream -> ``ChatChunk``s.

The body is AWS event-stream frames (``application/vnd.amazon.eventstream``), decoded by
botocore's ``EventStreamBuffer`` (prelude, headers, payload, both CRCs checked). Each frame
names its kind in ``:message-type`` (event or exception) and ``:event-type`` /
``:exception-type``; the payload is JSON. Events: messageStart, contentBlockStart (a tool use's
id and name), contentBlockDelta (text, or a fragment of a tool use's input JSON),
contentBlockStop, messageStop (the stop reason), metadata (usage). A ``reasoningContent``
delta is a piece of Claude's thinking (text, then its signature). The stream has ended
properly only once both messageStop and metadata arrived.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterator
from typing import Any, NamedTuple

import msgspec
from botocore.eventstream import EventStreamBuffer, ParserError

from gateway_adapters.providers.bedrock import wire
from gateway_adapters.providers.bedrock.errors import typed_error
from gateway_core.domain.chat import ChatChunk, ToolCallDelta
from gateway_core.errors import UpstreamConnectionError, UpstreamResponseError


class Frame(NamedTuple):
    headers: dict[str, Any]
    payload: bytes


async def frames_of(body: AsyncIterable[bytes], provider: str) -> AsyncIterator[Frame]:
    """The event-stream frames of a Bedrock response body, as they complete (a malformed frame,
    a bad CRC included, is the provider's malformed answer). Shared by ConverseStream and the
    Messages door's InvokeModelWithResponseStream."""
    frames = EventStreamBuffer()
    async for data in body:
        frames.add_data(data)
        try:
            messages = list(frames)
        except ParserError as error:
            raise UpstreamResponseError(
                f"{provider} sent a malformed event-stream frame", provider=provider
            ) from error
        for message in messages:
            yield Frame(message.headers, message.payload)


class StreamTranslator:
    def __init__(self, provider: str, model: str) -> None:
        self._provider = provider
        self._model = model
        self._calls: dict[int, int] = {}  # content block index -> tool call index
        self._thinking: dict[int, dict[str, Any]] = {}  # open reasoning blocks, by index
        self._stopped = False
        self._usage_sent = False

    async def chunks(self, body: AsyncIterable[bytes]) -> AsyncIterator[ChatChunk]:
        async for frame in frames_of(body, self._provider):
            for chunk in self._frame(frame.headers, frame.payload):
                yield chunk
        if not (self._stopped and self._usage_sent):
            raise UpstreamConnectionError(
                f"{self._provider} ended the stream before its end", provider=self._provider
            )

    def _frame(self, headers: dict[str, Any], payload: bytes) -> Iterator[ChatChunk]:
        if headers.get(":message-type") != "event":
            kind = str(headers.get(":exception-type") or headers.get(":error-code") or "")
            raise typed_error(kind, None, payload, self._provider)
        try:
            event = msgspec.json.decode(payload)
        except msgspec.DecodeError as error:
            raise UpstreamResponseError(
                f"{self._provider} sent an event that is not JSON", provider=self._provider
            ) from error
        handler = getattr(self, f"_on_{headers.get(':event-type')}", None)
        if handler is not None:  # unknown event types are skipped, as AWS's SDKs do
            yield from handler(event)

    def _on_messageStart(self, event: dict[str, Any]) -> Iterator[ChatChunk]:
        yield ChatChunk(role=event.get("role", "assistant"), model=self._model)

    def _on_contentBlockStart(self, event: dict[str, Any]) -> Iterator[ChatChunk]:
        tool_use = (event.get("start") or {}).get("toolUse")
        if tool_use:
            index = self._calls.setdefault(event.get("contentBlockIndex", 0), len(self._calls))
            delta = ToolCallDelta(index, tool_use.get("toolUseId"), tool_use.get("name"))
            yield ChatChunk(tool_calls=(delta,), model=self._model)

    def _on_contentBlockDelta(self, event: dict[str, Any]) -> Iterator[ChatChunk]:
        delta = event.get("delta") or {}
        if "reasoningContent" in delta:
            yield from self._reasoning(event.get("contentBlockIndex", 0), delta["reasoningContent"])
        elif "text" in delta:
            yield ChatChunk(content=delta["text"], model=self._model)
        elif "toolUse" in delta:
            index = self._calls.get(event.get("contentBlockIndex", 0), 0)
            fragment = ToolCallDelta(index, arguments=delta["toolUse"].get("input", ""))
            yield ChatChunk(tool_calls=(fragment,), model=self._model)

    def _reasoning(self, index: int, piece: dict[str, Any]) -> Iterator[ChatChunk]:
        """Text, signature or redacted pieces of one reasoning block: the text streams as
        ``reasoning_content``; the whole block goes out when it stops (``thinking_blocks``)."""
        block = self._thinking.setdefault(index, {})
        if "redactedContent" in piece:
            block["redactedContent"] = piece["redactedContent"]
            return
        text = block.setdefault("reasoningText", {"text": "", "signature": ""})
        if piece.get("signature"):
            text["signature"] += piece["signature"]
        if piece.get("text"):
            text["text"] += piece["text"]
            yield ChatChunk(reasoning_content=piece["text"], model=self._model)

    def _on_contentBlockStop(self, event: dict[str, Any]) -> Iterator[ChatChunk]:
        block = self._thinking.pop(event.get("contentBlockIndex", 0), None)
        if block is not None:
            thinking = [wire.thinking_block(block)]
            yield ChatChunk(delta_extra={"thinking_blocks": thinking}, model=self._model)

    def _on_messageStop(self, event: dict[str, Any]) -> Iterator[ChatChunk]:
        self._stopped = True
        native = event.get("stopReason", "end_turn")
        finish = wire.FINISH.get(native, native)
        yield ChatChunk(finish_reason=finish, native_finish_reason=native, model=self._model)

    def _on_metadata(self, event: dict[str, Any]) -> Iterator[ChatChunk]:
        self._usage_sent = True
        report = msgspec.convert(event.get("usage") or {}, wire.ConverseUsage)
        yield ChatChunk(usage=wire.usage(report), model=self._model)
