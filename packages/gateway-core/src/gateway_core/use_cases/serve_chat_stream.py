"""The streaming side of ``ServeChat``: one streamed turn with the same controls.

``await stream.open()`` runs everything that can still fail with an HTTP status (permission,
rate limit, budget, the session's lock, routing, the upstream's first chunk); then iterating
yields the chunks as the model produces them. The stream's end is rearranged into one final
chunk that carries ``finish_reason`` and ``usage`` together, yielded only after the turn was
accounted (usage and cost recorded, session committed, answer cached), so ``outcome`` is
complete when that chunk arrives.

A stream that ends early (the client went away, the upstream failed mid-way) is accounted
for what it produced: usage as the upstream reported it, else estimated from the text
generated; the session is not committed. That clean-up runs in a task of its own, because
the request's task may be cancelled and could not wait for Redis any more.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from dataclasses import replace

from gateway_core.domain.chat import ChatChunk, ChatRequest, ChatResponse, ToolCallDelta
from gateway_core.domain.usage import Usage
from gateway_core.use_cases.background import run_in_background
from gateway_core.use_cases.rate_limit import Admission
from gateway_core.use_cases.serve_chat import (
    ChatCaller,
    ChatOptions,
    ChatOutcome,
    ServeChat,
    estimate_partial_usage,
    new_messages,
    with_history,
)
from gateway_core.use_cases.sessions import SessionTurn
from gateway_core.use_cases.tool_loop_stream import RoundAssembly

class ChatStream:
    def __init__(
        self, serve: ServeChat, request: ChatRequest, caller: ChatCaller, options: ChatOptions
    ) -> None:
        self.outcome = ChatOutcome()
        self.request = request
        self._serve = serve
        self._caller = caller
        self._options = options
        self._chunks = self._run()
        self._first: ChatChunk | None = None

    async def open(self) -> None:
        """Start the turn and wait for the first chunk; raises the turn's errors."""
        self._first = await anext(self._chunks, None)

    async def __aiter__(self) -> AsyncIterator[ChatChunk]:
        if self._first is not None:
            yield self._first
        async for chunk in self._chunks:
            yield chunk

    async def aclose(self) -> None:
        await self._chunks.aclose()

    async def _run(self) -> AsyncIterator[ChatChunk]:
        serve, outcome = self._serve, self.outcome
        admission = await serve.admit(self.request, self._caller, outcome)
        session = serve.turn(self._options, self._caller)
        try:
            turn = await session.__aenter__()
        except BaseException:
            await serve.release(admission)
            raise
        progress = _Progress(with_history(self.request, turn))
        try:
            async for chunk in self._answer(progress, turn, admission):
                yield chunk
        except BaseException:
            outcome.aborted = True
            run_in_background(self._abandon(session, progress, admission))
            raise
        await session.__aexit__(None, None, None)

    async def _answer(
        self, progress: _Progress, turn: SessionTurn | None, admission: Admission | None
    ) -> AsyncIterator[ChatChunk]:
        serve, options, outcome = self._serve, self._options, self.outcome
        key = serve.cache_key_for(progress.request, self._caller, options)
        hit = await serve.cached(key, options, outcome)
        chunks = replay(hit) if hit is not None else self._model_stream(progress.request)
        started = time.perf_counter()
        try:
            async for chunk in chunks:
                visible = progress.add(chunk)
                if visible is not None:
                    yield visible
        finally:
            await chunks.aclose()  # type: ignore[attr-defined]
            if hit is None:
                outcome.upstream_seconds = time.perf_counter() - started
        response, exchange = progress.finish(self._tool_exchange(chunks))
        outcome.response = response
        progress.accounted = True
        await serve.account(self._caller, admission, response, outcome)
        if turn is not None:
            await turn.commit(
                new_messages(self.request, turn, exchange),
                usage=response.usage,
                cost_usd=outcome.cost_usd,
            )
        if hit is None and not outcome.tool_runs:
            await serve.store(key, options, response)
        yield progress.final_chunk()

    def _model_stream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        serve, options = self._serve, self._options
        if not serve.tools.engages(request, options.offer_all_tools):
            return serve.chat.stream(request)
        return serve.tools.stream(request, offer_all_tools=options.offer_all_tools)

    def _tool_exchange(self, chunks: object) -> tuple | None:
        result = getattr(chunks, "result", None)
        if result is None:
            return None
        self.outcome.tool_runs = result.tool_runs
        self.outcome.tool_rounds = max((run.round for run in result.tool_runs), default=0)
        self.outcome.notice = result.notice
        return result.exchange

    async def _abandon(
        self,
        session: AbstractAsyncContextManager[SessionTurn | None],
        progress: _Progress,
        admission: Admission | None,
    ) -> None:
        """An early end: account what was produced, give the session back uncommitted."""
        try:
            if not progress.started:
                await self._serve.release(admission)
            elif not progress.accounted:
                response = progress.partial_response()
                self.outcome.response = response
                await self._serve.account(self._caller, admission, response, self.outcome)
        finally:
            await session.__aexit__(None, None, None)


class _Progress:
    """Tracks a stream as it passes: what to forward, and the answer it adds up to."""

    def __init__(self, request: ChatRequest) -> None:
        self.request = request
        self.accounted = False
        self.started = False
        """Whether the model produced anything; a turn that failed before is not billed."""
        self._assembly = RoundAssembly(first_round=True)
        self._provider = ""
        self._final: ChatChunk | None = None

    def add(self, chunk: ChatChunk) -> ChatChunk | None:
        """Track ``chunk``; return what to forward now (the end is held back)."""
        self.started = True
        self._assembly.add(chunk)
        self._provider = self._provider or chunk.provider or ""
        if chunk.finish_reason is None and chunk.usage is None:
            return chunk
        ending = replace(chunk, finish_reason=None, native_finish_reason=None, usage=None)
        has_content = ending.role is not None or ending.content or ending.tool_calls
        return ending if has_content else None

    def _response(self, usage: Usage) -> ChatResponse:
        response = self._assembly.response(self.request.model)
        return replace(response, usage=usage, provider=self._provider)

    def finish(self, exchange: tuple | None) -> tuple[ChatResponse, tuple]:
        response = self._response(self._assembly.usage)
        choice = response.choices[0]
        self._final = ChatChunk(
            finish_reason=choice.finish_reason,
            native_finish_reason=choice.native_finish_reason,
            usage=response.usage,
        )
        return response, exchange if exchange is not None else (choice.message,)

    def final_chunk(self) -> ChatChunk:
        assert self._final is not None, "finish() comes first"
        return self._final

    def partial_response(self) -> ChatResponse:
        usage = self._assembly.usage
        if usage == Usage():
            generated = self._assembly.message()
            chars = len(generated.text) + sum(len(c.arguments) for c in generated.tool_calls)
            usage = estimate_partial_usage(self.request, chars)
        return self._response(usage)


async def replay(response: ChatResponse) -> AsyncIterator[ChatChunk]:
    """A stored answer, as a stream: role, the whole text, the tool calls, the end."""
    choice = response.choices[0]
    message = choice.message
    yield ChatChunk(role="assistant", content=message.text or "", model=response.model,
                    provider=response.provider)  # fmt: skip
    for index, call in enumerate(message.tool_calls):
        yield ChatChunk(
            tool_calls=(ToolCallDelta(index, call.id, call.name, call.arguments),)
        )
    yield ChatChunk(
        finish_reason=choice.finish_reason, native_finish_reason=choice.native_finish_reason
    )
    yield ChatChunk(usage=response.usage)
