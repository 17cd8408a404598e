"""Anthropic's Messages API, forwarded natively: ``POST {base_url}/v1/messages`` and
``/v1/messages/count_tokens``.

The body goes as the client sent it (the route has set ``model``), the answer comes back as
Anthropic sent it, events included: thinking blocks and their signatures, ``cache_control``,
server tools and whatever Anthropic adds next pass through untouched. The client's
``anthropic-version`` and ``anthropic-beta`` headers are forwarded (the provider's configured
headers win, and the version defaults to the adapter's). Usage for the gateway's accounting:
``input_tokens`` plus both cache counts are the prompt, ``cache_read_input_tokens`` the cached
part, ``output_tokens`` the completion; in a stream from ``message_start`` and
``message_delta`` (only at the end: the output so far is counted from the
``content_block_delta`` events, for the door's output cap).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from gateway_adapters.http1 import Http1Client, Target
from gateway_adapters.providers.anthropic.errors import error_from_response
from gateway_adapters.providers.native_stream import RelayedStream, read_answer
from gateway_adapters.upstream_deadlines import UpstreamDeadlines
from gateway_core.domain.usage import Usage
from gateway_core.errors import ProviderError, UpstreamResponseError
from gateway_core.ports.native import NativeCall, NativeReply

FORWARDED_HEADERS = ("anthropic-version", "anthropic-beta")
_encoder = msgspec.json.Encoder()


def messages_usage(usage: Mapping[str, Any], before: Usage | None = None) -> Usage:
    """``usage`` of a message, or of a ``message_delta`` on top of ``before`` (a delta's
    counts are cumulative, and a count it leaves out is unchanged)."""
    before = before or Usage()
    read = _count(usage, "cache_read_input_tokens", before.cached_tokens)
    uncached = before.prompt_tokens - before.cached_tokens
    if "input_tokens" in usage or "cache_creation_input_tokens" in usage:
        uncached = _count(usage, "input_tokens", 0) + _count(
            usage, "cache_creation_input_tokens", 0
        )
    return Usage(uncached + read, _count(usage, "output_tokens", before.completion_tokens), read)


def messages_reply(raw: bytes, provider: str, model: str) -> NativeReply:
    """A Messages API answer as sent, with the usage and model read from it."""
    try:
        answer = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        raise UpstreamResponseError(
            f"{provider} sent a body that is not JSON", provider=provider
        ) from None
    if not isinstance(answer, dict):
        raise UpstreamResponseError(
            f"{provider} sent a body that is not a message", provider=provider
        )
    return NativeReply(raw, messages_usage(answer.get("usage") or {}), answer.get("model") or model)


def _count(usage: Mapping[str, Any], name: str, default: int) -> int:
    value = usage.get(name)
    return int(value) if value is not None else default


_WATCHED = frozenset({"message_start", "message_delta"})
"""The events ``watch_messages_events`` reads (Anthropic names every event after its ``type``)."""


def watch_messages_events(
    stream: RelayedStream, name: str, payload: Mapping[str, Any]
) -> None:
    """Model and usage from a Messages stream's events (also read on Bedrock and Vertex)."""
    kind = payload.get("type", name)
    if kind == "message_start":
        message = payload.get("message") or {}
        stream.model = message.get("model") or stream.model
        stream.usage = messages_usage(message.get("usage") or {})
    elif kind == "message_delta" and payload.get("usage"):
        stream.usage = messages_usage(payload["usage"], stream.usage)


MESSAGES_DELTAS = frozenset({"content_block_delta"})
"""The events whose output ``messages_delta_chars`` counts (also on Bedrock and Vertex)."""


class _Delta(msgspec.Struct):
    """A ``content_block_delta``'s output: a text, a tool's input JSON, a thinking block's
    text (a ``signature_delta`` is not output)."""

    text: str = ""
    partial_json: str = ""
    thinking: str = ""


class _DeltaEvent(msgspec.Struct):
    delta: _Delta


_delta_event = msgspec.json.Decoder(_DeltaEvent)


def messages_delta_chars(data: str) -> int:
    """The characters of output a ``content_block_delta`` carries (0 if it is malformed: it
    is relayed as sent, and the client's SDK judges it)."""
    try:
        delta = _delta_event.decode(data).delta
    except msgspec.DecodeError:
        return 0
    return len(delta.text) + len(delta.partial_json) + len(delta.thinking)


class AnthropicMessagesPassthrough:
    """A ``NativeFormatProvider`` and ``NativeTokenCounter`` for Anthropic's Messages API."""

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
        anthropic_version: str = "2023-06-01",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self._base = base_url.rstrip("/") + "/v1/messages"
        self._version = {"anthropic-version": anthropic_version}
        self._fixed = {**(headers or {}), "content-type": "application/json"}
        if api_key is not None:
            self._fixed["x-api-key"] = api_key
        self._client = client
        deadlines = deadlines or UpstreamDeadlines.legacy(timeout, connect_timeout)
        self._answer_timeout = deadlines.answer()
        self._stream_timeout = deadlines.stream()

    def __repr__(self) -> str:  # never the headers: they hold the key
        return f"AnthropicMessagesPassthrough(name={self.name!r})"

    def serves(self, model: str) -> bool:
        return True

    def _target(self, call: NativeCall, suffix: str = "") -> Target:
        forwarded = {
            k.lower(): v for k, v in call.headers.items() if k.lower() in FORWARDED_HEADERS
        }
        return Target(self._base + suffix, {**self._version, **forwarded, **self._fixed})

    def _error(self, status: int, raw: bytes, headers: Mapping[str, str]) -> ProviderError:
        return error_from_response(status, raw, headers, provider=self.name)

    async def _post(self, target: Target, call: NativeCall) -> bytes:
        body = _encoder.encode(call.body)
        return await read_answer(
            self._client, target, body, self._answer_timeout, self._error, self.name
        )

    async def send(self, call: NativeCall) -> NativeReply:
        raw = await self._post(self._target(call), call)
        return messages_reply(raw, self.name, str(call.body.get("model", "")))

    def stream(self, call: NativeCall) -> RelayedStream:
        body = _encoder.encode({**call.body, "stream": True})
        target = self._target(call)
        opened = self._client.post(target, body, self._stream_timeout)
        return RelayedStream(opened, provider=self.name, watch=watch_messages_events,
                             error_for=self._error, model=str(call.body.get("model", "")),
                             watched=_WATCHED, count=messages_delta_chars,
                             counted=MESSAGES_DELTAS)  # fmt: skip

    async def count_tokens(self, call: NativeCall) -> bytes:
        return await self._post(self._target(call, "/count_tokens"), call)
