"""OpenAI's Responses API, forwarded natively: ``POST {base_url}/responses``.

The body goes as the client sent it (the route has set ``model``), the answer comes back as
OpenAI sent it, events included: built-in tools, reasoning items and their encrypted content
pass through untouched. Usage for the gateway's accounting is read from the ``response``
object (``usage.input_tokens``, ``output_tokens``, ``input_tokens_details.cached_tokens``),
in a stream from ``response.completed`` / ``response.incomplete`` / ``response.failed``, the
end: the output so far is counted from the ``*.delta`` events, for the door's output cap.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from gateway_adapters.http1 import Http1Client, Target
from gateway_adapters.providers.native_stream import RelayedStream, read_answer
from gateway_adapters.providers.openai.errors import http_error
from gateway_adapters.upstream_deadlines import UpstreamDeadlines
from gateway_core.domain.usage import Usage
from gateway_core.errors import ProviderError, UpstreamResponseError
from gateway_core.ports.native import NativeCall, NativeReply

_FINAL_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})
_DELTAS = frozenset({
    "response.output_text.delta", "response.refusal.delta",
    "response.reasoning_text.delta", "response.reasoning_summary_text.delta",
    "response.function_call_arguments.delta", "response.custom_tool_call_input.delta",
    "response.mcp_call_arguments.delta", "response.code_interpreter_call_code.delta",
    "response.audio.transcript.delta",
})  # fmt: skip
"""The events whose ``delta`` is generated output (text, reasoning, a tool's input)."""
_WATCHED = _FINAL_EVENTS | {"response.created"}
"""The events ``_watch`` reads (OpenAI names every event after its ``type``)."""
_encoder = msgspec.json.Encoder()


def responses_usage(response: Mapping[str, Any]) -> Usage:
    usage = response.get("usage") or {}
    details = usage.get("input_tokens_details") or {}
    return Usage(
        prompt_tokens=int(usage.get("input_tokens") or 0),
        completion_tokens=int(usage.get("output_tokens") or 0),
        cached_tokens=int(details.get("cached_tokens") or 0),
    )


class _DeltaEvent(msgspec.Struct):
    delta: str = ""


_delta_event = msgspec.json.Decoder(_DeltaEvent)


def _delta_chars(data: str) -> int:
    try:
        return len(_delta_event.decode(data).delta)
    except msgspec.DecodeError:  # relayed as sent; the client's SDK judges it
        return 0


def _watch(stream: RelayedStream, name: str, payload: Mapping[str, Any]) -> None:
    kind = payload.get("type", name)
    if kind in _FINAL_EVENTS or kind == "response.created":
        response = payload.get("response") or {}
        stream.model = response.get("model") or stream.model
        if kind in _FINAL_EVENTS:
            stream.usage = responses_usage(response)
            stream.final = response


class OpenAIResponsesPassthrough:
    """A ``NativeFormatProvider`` for the Responses API of OpenAI (or a server that has it)."""

    def __init__(
        self,
        *,
        name: str,
        base_url: str,
        api_key: str | None,
        client: Http1Client,
        timeout: float = 60.0,
        connect_timeout: float = 10.0,
        deadlines: UpstreamDeadlines | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        fixed = {"Content-Type": "application/json", **(headers or {})}
        if api_key:
            fixed["Authorization"] = f"Bearer {api_key}"
        self._target = Target(base_url.rstrip("/") + "/responses", fixed)
        self._client = client
        deadlines = deadlines or UpstreamDeadlines.legacy(timeout, connect_timeout)
        self._answer_timeout = deadlines.answer()
        self._stream_timeout = deadlines.stream()

    def __repr__(self) -> str:  # never the headers: they hold the key
        return f"OpenAIResponsesPassthrough(name={self.name!r})"

    def _error(self, status: int, raw: bytes, headers: Mapping[str, str]) -> ProviderError:
        return http_error(status, raw, headers, self.name)

    def serves(self, model: str) -> bool:
        return True

    async def send(self, call: NativeCall) -> NativeReply:
        body = _encoder.encode(call.body)
        raw = await read_answer(
            self._client, self._target, body, self._answer_timeout, self._error, self.name
        )
        try:
            answer = msgspec.json.decode(raw)
        except msgspec.DecodeError:
            raise UpstreamResponseError(
                f"{self.name} sent a body that is not JSON", provider=self.name
            ) from None
        model = answer.get("model") or call.body.get("model", "")
        return NativeReply(raw, responses_usage(answer), model)

    def stream(self, call: NativeCall) -> RelayedStream:
        body = _encoder.encode({**call.body, "stream": True})
        opened = self._client.post(self._target, body, self._stream_timeout)
        return RelayedStream(opened, provider=self.name, watch=_watch, error_for=self._error,
                             model=str(call.body.get("model", "")), watched=_WATCHED,
                             count=_delta_chars, counted=_DELTAS)  # fmt: skip
