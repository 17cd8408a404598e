"""The server-side tool loop: the gateway runs its registered tools for the model.

The rules (docs/API.md repeats them for clients):

- Gateway tools of a request: the request's ``tools`` whose names are registered (their spec is
  replaced by the registry's, so the client may send the name alone), plus every registered
  tool when the gateway option ``offer_all_tools`` is set. A registered name always means the
  gateway's tool. Without gateway tools the loop is a single plain model call.
- When every call of a model turn is to a gateway tool, the gateway validates the arguments,
  runs the calls concurrently, appends the assistant message and one ``tool`` message per
  call, and calls the model again. A failing tool becomes an error result the model sees
  (``{"error": {"code", "message"}}``), never a failed request. A result longer than
  ``max_result_chars`` is cut there and ends with a ``[truncated by the gateway ...]`` marker.
- When a turn calls any tool the gateway does not run (a client's own), control returns to
  the client with *all* of that turn's tool calls (``finish_reason: "tool_calls"``); it may
  run the gateway's ones through ``POST /v1/tools/execute``.
- After ``max_rounds`` rounds of tool execution, a model that still calls gateway tools gets
  no more: the answer ends with ``finish_reason: "tool_calls_limit"`` (``TOOL_CALLS_LIMIT``),
  carries the model's text without those calls, and ``ToolLoopResult.notice`` explains.
- A ``tool_choice`` of ``"required"`` or a named tool holds for the first model call only;
  later rounds use ``"auto"``, or the model could never stop calling tools.
- Usage adds up over all model calls. Tool calls are never retried (they may not be
  idempotent); the model sees the failure and decides.

Streaming (``ToolLoop.stream``): the client gets one well-formed stream. Text is forwarded as
the model writes it, in every round (rounds are separated by a blank line); intermediate
rounds' tool calls are consumed, not forwarded. The stream has one role chunk first, then
content, then (for a client tool turn) the turn's tool calls, one finish chunk and one usage
chunk summing all rounds. ``ToolLoopStream.result`` is set just before the finish chunk, so
the chat turn can account the whole loop before the client sees the end.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from gateway_core.clock import SystemClock
from gateway_core.domain.chat import ChatRequest
from gateway_core.domain.messages import Message, ToolCall
from gateway_core.domain.tool_registry import ToolResult, ToolRun
from gateway_core.errors import GatewayError, InvalidRequestError, ToolArgumentsError
from gateway_core.ports.clock import Clock
from gateway_core.use_cases.execute_tool import ExecuteTool
from gateway_core.use_cases.tool_loop_stream import ToolLoopStream
from gateway_core.use_cases.tool_transcript import (
    TOOL_CALLS_LIMIT,
    ChatCompleter,
    ToolLoopResult,
    Transcript,
)

__all__ = ["TOOL_CALLS_LIMIT", "ChatCompleter", "ToolLoop", "ToolLoopResult", "ToolLoopStream"]

class ToolLoop:
    """Call the model, run the gateway's tools it asks for, repeat; see the module docstring."""

    def __init__(
        self,
        chat: ChatCompleter,
        tools: ExecuteTool,
        *,
        max_rounds: int = 5,
        max_result_chars: int = 20_000,
        clock: Clock | None = None,
    ) -> None:
        if max_rounds < 0 or max_result_chars < 1:
            raise ValueError("max_rounds must be >= 0 and max_result_chars >= 1.")
        self._chat = chat
        self._tools = tools
        self.max_rounds = max_rounds
        self._max_result_chars = max_result_chars
        self._clock = clock or SystemClock()

    def engages(self, request: ChatRequest, offer_all_tools: bool = False) -> bool:
        """Whether the request offers gateway tools; if not, plain ``CompleteChat`` serves it
        as well (and streams tool calls of client tools as they come, which the loop does not)."""
        return (offer_all_tools and len(self._tools.registry) > 0) or any(
            spec.name in self._tools.registry for spec in request.tools
        )

    def prepare(
        self, request: ChatRequest, offer_all_tools: bool = False
    ) -> tuple[ChatRequest, frozenset[str]]:
        """The request with the gateway tools' specs filled in, and their names."""
        registry = self._tools.registry
        listed = [spec.name for spec in request.tools]
        gateway = {name for name in listed if name in registry}
        if offer_all_tools:
            gateway.update(registry.names())
        if not gateway:
            return request, frozenset()
        if request.n != 1:
            raise InvalidRequestError("Gateway tools cannot be combined with n > 1.", param="n")
        tools = [
            registry.get(spec.name).spec if spec.name in registry else spec
            for spec in request.tools
        ]
        if offer_all_tools:
            tools.extend(tool.spec for tool in registry if tool.name not in listed)
        return replace(request, tools=tuple(tools)), frozenset(gateway)

    def transcript(self, request: ChatRequest, offer_all_tools: bool = False) -> Transcript:
        """A run's state, for a caller that wants to read it should the run end early."""
        return Transcript(*self.prepare(request, offer_all_tools))

    async def complete(
        self,
        request: ChatRequest,
        *,
        offer_all_tools: bool = False,
        transcript: Transcript | None = None,
    ) -> ToolLoopResult:
        """``transcript``: from ``self.transcript(request)``, to read what a run that ended
        early spent (the caller then passes the same request)."""
        transcript = transcript or self.transcript(request, offer_all_tools)
        while True:
            response = await self._chat.complete(transcript.next_request())
            transcript.add_call(response.model, response.provider, response.usage)
            message = response.choices[0].message
            if not transcript.runs_gateway_tools(message):
                return transcript.finish(response, limited_by=None)
            if transcript.rounds > self.max_rounds:
                return transcript.finish(response, limited_by=self.max_rounds)
            results = await self.run_round(message.tool_calls, transcript.rounds)
            transcript.record_round(message, results)

    def stream(
        self,
        request: ChatRequest,
        *,
        offer_all_tools: bool = False,
        transcript: Transcript | None = None,
    ) -> ToolLoopStream:
        """Raises request errors (``n > 1``) now; model and tool errors while iterating."""
        transcript = transcript or self.transcript(request, offer_all_tools)
        return ToolLoopStream(self._chat, self, transcript)

    async def run_round(
        self, calls: Sequence[ToolCall], round_number: int
    ) -> list[tuple[Message, ToolRun]]:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(self._run_call(call, round_number)) for call in calls]
        return [task.result() for task in tasks]

    async def _run_call(self, call: ToolCall, round_number: int) -> tuple[Message, ToolRun]:
        started = self._clock.monotonic()
        code: str | None = None
        try:
            arguments = _parse_arguments(call.arguments)
            result = await self._tools.execute(call.name, arguments, call.id)
            if not result.success:
                code = "tool_execution_failed"
        except GatewayError as error:
            result, code = ToolResult.failure(call.name, error.message, call.id), error.code
        elapsed_ms = (self._clock.monotonic() - started) * 1000
        run = ToolRun(
            call.name, call.id, result.success, elapsed_ms, round_number, result.error, code
        )
        text = _truncate(_result_text(result, code), self._max_result_chars)
        return Message.tool_result(call.id, text), run


def _parse_arguments(text: str) -> dict[str, Any]:
    """The model's JSON arguments; an empty string means none (some models send that)."""
    if not text.strip():
        return {}
    try:
        arguments = json.loads(text)
    except ValueError:
        raise ToolArgumentsError("The tool call's arguments are not valid JSON.") from None
    if not isinstance(arguments, dict):
        raise ToolArgumentsError("The tool call's arguments must be a JSON object.")
    return arguments


def _result_text(result: ToolResult, code: str | None) -> str:
    """What the model reads in the tool message: the result, or an error it can act on."""
    if not result.success:
        return json.dumps({"error": {"code": code, "message": result.error}}, ensure_ascii=False)
    if isinstance(result.result, str):
        return result.result
    return json.dumps(result.result, ensure_ascii=False, default=str)


def _truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\n[truncated by the gateway: {limit} of {len(text)} characters shown]"
