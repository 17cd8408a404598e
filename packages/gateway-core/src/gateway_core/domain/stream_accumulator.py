"""Chunks in, a complete answer out: the one place a streamed answer is put back together.

Every stream the gateway relays goes through a ``StreamAccumulator`` (plain streams, each
round of the tool loop, a cached answer replayed as a stream), so no caller rebuilds a
``ChatResponse`` from chunks by hand: text in order, tool calls by their ``index`` (a call's
id and name come from its first fragment that has them, its arguments are the fragments
joined), the last finish reason and usage reported, the model and provider that answered.

It also keeps what the gateway does not model, so that a streamed answer's session and cache
copies equal those of the same answer served as JSON: reasoning text joined, the delta's
other fields (``refusal``, ``thinking_blocks``, ``annotations``, ``audio``, fields nobody has
heard of) and the choice's (``logprobs``) added up by ``stream_fields.merged``, the chunk's own
(``service_tier``, ``system_fingerprint``) as last sent, and the request fields the provider
dropped (``drop_params``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway_core.domain.chat import ChatChunk, ChatResponse, Choice, ToolCallDelta
from gateway_core.domain.messages import NO_EXTRA, Message, ToolCall
from gateway_core.domain.stream_fields import copied, merged_fields
from gateway_core.domain.usage import Usage


class _CallParts:
    __slots__ = ("arguments", "id", "name")

    def __init__(self) -> None:
        self.id: str | None = None
        self.name: str | None = None
        self.arguments: list[str] = []


class StreamAccumulator:
    """Add chunks as they pass; ask for ``message()`` or ``response()`` at any point."""

    __slots__ = (
        "_calls",
        "_choice_extra",
        "_delta_extra",
        "_reasoning",
        "_seen_null_choice",
        "_seen_top",
        "_text",
        "_top_extra",
        "dropped_params",
        "finish_reason",
        "model",
        "native_finish_reason",
        "provider",
        "started",
        "usage",
    )

    def __init__(self) -> None:
        self._text: list[str] = []
        self._calls: dict[int, _CallParts] = {}
        self._reasoning: list[str] = []
        self._delta_extra: dict[str, Any] | None = None
        self._choice_extra: dict[str, Any] | None = None
        self._top_extra: dict[str, Any] | None = None
        self._seen_null_choice: Mapping[str, Any] | None = None
        self._seen_top: Mapping[str, Any] | None = None
        self.dropped_params: tuple[str, ...] = ()
        """Request fields the provider left out (``drop_params``): on a stream's first chunk."""
        self.finish_reason: str | None = None
        self.native_finish_reason: str | None = None
        self.usage = Usage()
        self.model: str | None = None
        self.provider: str | None = None
        self.started = False
        """Whether any chunk arrived: a stream that produced nothing is not billed."""

    def add_text(self, text: str) -> None:
        """A middle chunk that is text only (a relayed stream's, written through the turn's
        tap): what ``add`` keeps of it, without building the chunk."""
        self.started = True
        if text:
            self._text.append(text)

    def add(self, chunk: ChatChunk) -> None:
        self.started = True
        if self.model is None:
            self.model = chunk.model
        if self.provider is None:
            self.provider = chunk.provider
        if chunk.content:
            self._text.append(chunk.content)
        for delta in chunk.tool_calls:
            self._add_call_delta(delta)
        if chunk.reasoning_content:
            self._reasoning.append(chunk.reasoning_content)
        # Identity, not truth: NO_EXTRA's len() is a Python call, and this runs per chunk.
        if (
            chunk.delta_extra is not NO_EXTRA
            or chunk.choice_extra is not NO_EXTRA
            or chunk.extra is not NO_EXTRA
            or chunk.dropped_params
        ):
            self._add_extras(chunk)
        if chunk.finish_reason is not None:
            self.finish_reason = chunk.finish_reason
            self.native_finish_reason = chunk.native_finish_reason
        if chunk.usage is not None:
            # Providers report a stream's usage once, at its end: the last report wins.
            self.usage = chunk.usage

    def _add_extras(self, chunk: ChatChunk) -> None:
        if chunk.delta_extra:
            self._delta_extra = merged_fields(self._delta_extra or {}, chunk.delta_extra)
        choice = chunk.choice_extra
        # OpenAI repeats ``"logprobs": null`` on every chunk: once seen, it adds nothing.
        if choice and choice != self._seen_null_choice:
            self._choice_extra = merged_fields(self._choice_extra or {}, choice)
            if all(value is None for value in choice.values()):
                self._seen_null_choice = choice
        top = chunk.extra
        # Every chunk repeats these (service_tier...): the newest value stands, and the same
        # fields as the chunk before change nothing.
        if top and top != self._seen_top:
            self._seen_top = top
            fields = self._top_extra = self._top_extra or {}
            for name, value in top.items():
                if value is not None or name not in fields:
                    fields[name] = value
        if chunk.dropped_params:
            self.dropped_params = chunk.dropped_params

    def _add_call_delta(self, delta: ToolCallDelta) -> None:
        parts = self._calls.get(delta.index)
        if parts is None:
            parts = self._calls[delta.index] = _CallParts()
        # Some providers repeat id and name in every fragment: the first one counts.
        parts.id = parts.id or delta.id
        parts.name = parts.name or delta.name
        parts.arguments.append(delta.arguments)

    def message(self) -> Message:
        calls = tuple(
            ToolCall(parts.id or f"call_{index}", parts.name or "", "".join(parts.arguments))
            for index, parts in sorted(self._calls.items())
        )
        return Message(
            "assistant",
            "".join(self._text) or None,
            tool_calls=calls,
            reasoning_content="".join(self._reasoning) or None,
            # A copy: adding a later chunk must not change a message already handed out.
            extra=copied(self._delta_extra) if self._delta_extra else NO_EXTRA,
        )

    def generated_chars(self) -> int:
        """How much the model wrote (text and tool arguments): to estimate unreported usage."""
        arguments = sum(len(part) for call in self._calls.values() for part in call.arguments)
        return sum(len(text) for text in self._text) + arguments

    def response(self, requested_model: str, usage: Usage | None = None) -> ChatResponse:
        """The answer so far; ``usage`` replaces the reported one (an estimate, a sum of
        rounds). ``id`` is empty: the front door names the answer."""
        choice = Choice(
            self.message(), self.finish_reason, 0, self.native_finish_reason,
            extra=copied(self._choice_extra) if self._choice_extra else NO_EXTRA,
        )  # fmt: skip
        top = copied(self._top_extra) if self._top_extra else {}
        # A JSON answer models system_fingerprint; a chunk carries it among its other fields.
        fingerprint = top.pop("system_fingerprint", None)
        return ChatResponse(
            id="",
            model=self.model or requested_model,
            choices=(choice,),
            usage=self.usage if usage is None else usage,
            provider=self.provider or "",
            system_fingerprint=fingerprint,
            extra=top or NO_EXTRA,
            dropped_params=self.dropped_params,
        )
