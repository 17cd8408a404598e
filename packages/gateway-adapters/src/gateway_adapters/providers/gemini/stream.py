"""``streamGenerateContent?alt=sse`` events -> ``ChatChunk``s.

Each SSE ``data`` is a whole ``GenerateContentResponse`` holding the next parts; the last names
the ``finishReason``, and every one carries the usage so far. The stream has no end marker:
it ends with the body, and one that ends before a finish reason was cut short. Chunks: the role
first, then text and whole function calls as they come, one finish chunk, then one usage
chunk (the last report) when the body ends.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterable, AsyncIterator, Iterator

import msgspec

from gateway_adapters.providers.gemini import response, schema
from gateway_adapters.providers.sse import ServerSentEvent
from gateway_core.domain.chat import ChatChunk, ToolCallDelta
from gateway_core.errors import UpstreamConnectionError


class StreamTranslator:
    def __init__(self, provider: str, requested_model: str) -> None:
        self._provider = provider
        self._model = requested_model
        self._response_id: str | None = None
        self._calls = 0
        self._finished = False
        self._usage: schema.UsageMetadata | None = None

    async def chunks(self, events: AsyncIterable[ServerSentEvent]) -> AsyncIterator[ChatChunk]:
        opened = False
        async for event in events:
            if event.data:
                body = response.decode(event.data, self._provider)
                if not opened:  # the role goes out with the model the first event names
                    opened = True
                    yield ChatChunk(role="assistant", model=body.model_version or self._model)
                for chunk in self._translate(body):
                    yield chunk
        if not self._finished:
            raise UpstreamConnectionError(
                f"{self._provider} ended the stream before a finish reason",
                provider=self._provider,
            )
        yield ChatChunk(usage=response.usage(self._usage), model=self._model)

    def _translate(self, body: schema.Response) -> Iterator[ChatChunk]:
        self._model = body.model_version or self._model
        self._usage = body.usage_metadata or self._usage
        if self._response_id is None:
            self._response_id = body.response_id or uuid.uuid4().hex
        for candidate in body.candidates or ():
            yield from self._candidate(candidate)
        block = body.prompt_feedback.block_reason if body.prompt_feedback else None
        if not body.candidates and block is not None and not self._finished:
            self._finished = True
            yield ChatChunk(
                finish_reason="content_filter", native_finish_reason=block, model=self._model
            )

    def _candidate(self, candidate: schema.Candidate) -> Iterator[ChatChunk]:
        thought = response.thought_text(candidate)
        if thought:
            yield ChatChunk(index=candidate.index, reasoning_content=thought, model=self._model)
        for part in response.answer_parts(candidate):
            if part.text:
                yield ChatChunk(index=candidate.index, content=part.text, model=self._model)
            if part.function_call is not None:
                yield self._call(candidate.index, part)
        if candidate.finish_reason is not None and not self._finished:
            self._finished = True
            native = candidate.finish_reason
            yield ChatChunk(
                index=candidate.index,
                finish_reason=response.finish_reason(native, self._calls > 0),
                native_finish_reason=native,
                model=self._model,
            )

    def _call(self, index: int, part: schema.Part) -> ChatChunk:
        call = part.function_call
        assert call is not None
        position = self._calls
        self._calls += 1
        delta = ToolCallDelta(
            index=position,
            id=response.call_id(self._response_id or "", position, part),
            name=call.name,
            arguments=msgspec.json.encode(call.args or {}).decode(),
        )
        return ChatChunk(index=index, tool_calls=(delta,), model=self._model)
