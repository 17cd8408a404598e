"""Claude on Amazon Bedrock behind ``/v1/messages``, forwarded natively (a
``NativeFormatProvider``) through InvokeModel and InvokeModelWithResponseStream.

Bedrock takes Anthropic's Messages body for Claude models at ``POST /model/{model}/invoke``
(``/invoke-with-response-stream`` to stream), as Anthropic's own Bedrock client sends it:
``model`` moves into the path, ``stream`` is left out (the path says it),
``anthropic_version: "bedrock-2023-05-31"`` goes into the body and the client's
``anthropic-beta`` header becomes the body's ``anthropic_beta`` list
(Bedrock user guide: model-parameters-anthropic-claude-messages).
The rest (thinking and its signatures, ``cache_control``, tools) passes untouched, and the
answer is the Messages API's JSON, returned as sent. The gateway prices the call by the
Bedrock model id it routed to (Bedrock's prices, cross-region profiles included), not by the
Anthropic model name the answer reports.

A stream comes back in AWS's binary event-stream framing (decoded by botocore's
``EventStreamBuffer``, both CRCs checked): each ``chunk`` frame holds one Messages event as
base64 JSON, re-encoded here as the server-sent event Anthropic's API would have sent. An
exception frame (throttling mid-stream) becomes a Messages ``error`` event, as Anthropic's
Bedrock client turns it into one; its text names only the exception's type. Every request is
SigV4-signed (``signing``); the provider's guardrail, if any, goes in InvokeModel's
``X-Amzn-Bedrock-Guardrail*`` headers. Only Claude model ids (``anthropic.claude...``,
inference profiles ``us.anthropic.claude...``) are served here; other Bedrock models go
through Converse.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterable, AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

import msgspec

from gateway_adapters.http1 import Http1Client, Response, Target
from gateway_adapters.providers.anthropic.messages_passthrough import (
    MESSAGES_DELTAS,
    messages_delta_chars,
    messages_reply,
    watch_messages_events,
)
from gateway_adapters.providers.bedrock.adapter import Guardrail
from gateway_adapters.providers.bedrock.errors import http_error
from gateway_adapters.providers.bedrock.signing import SigV4Signer
from gateway_adapters.providers.bedrock.stream import frames_of
from gateway_adapters.providers.native_stream import RelayedStream, read_answer
from gateway_adapters.providers.sse import ServerSentEvent
from gateway_adapters.upstream_deadlines import UpstreamDeadlines
from gateway_core.errors import ProviderError, UpstreamResponseError
from gateway_core.ports.native import NativeCall, NativeReply

BEDROCK_ANTHROPIC_VERSION = "bedrock-2023-05-31"
_encoder = msgspec.json.Encoder()
# Bedrock's stream exceptions -> the Messages API's error types (what a client's SDK reads).
_STREAM_ERRORS = {
    "throttlingException": "rate_limit_error",
    "serviceUnavailableException": "overloaded_error",
    "modelTimeoutException": "timeout_error",
    "validationException": "invalid_request_error",
}


def is_bedrock_claude(model: str) -> bool:
    """A Claude model id or a system inference profile of one (``us.anthropic.claude...``,
    also inside an ARN). An application inference profile's ARN names no family: it goes
    through Converse."""
    return "anthropic.claude" in model


class BedrockClaudeMessages:
    def __init__(
        self,
        *,
        name: str,
        signer: SigV4Signer,
        client: Http1Client,
        base_url: str,
        timeout: float = 60.0,
        connect_timeout: float = 10.0,
        deadlines: UpstreamDeadlines | None = None,
        headers: Mapping[str, str] | None = None,
        guardrail: Guardrail | None = None,
    ) -> None:
        self.name = name
        self._signer = signer
        self._client = client
        self._base_url = base_url.rstrip("/")
        self._headers = {"Content-Type": "application/json", **(headers or {})}
        if guardrail is not None:
            self._headers.update(guardrail.invoke_headers())
        deadlines = deadlines or UpstreamDeadlines.legacy(timeout, connect_timeout)
        self._answer_timeout = deadlines.answer()
        self._stream_timeout = deadlines.stream()

    def __repr__(self) -> str:  # never the credentials
        return f"BedrockClaudeMessages(name={self.name!r}, base_url={self._base_url!r})"

    def serves(self, model: str) -> bool:
        return is_bedrock_claude(model)

    async def send(self, call: NativeCall) -> NativeReply:
        model, body = bedrock_body(call)
        target = await self._signed(model, "invoke", body)
        raw = await read_answer(
            self._client, target, body, self._answer_timeout, self._error, self.name
        )
        reply = messages_reply(raw, self.name, model)
        return NativeReply(reply.body, reply.usage, model)  # priced as the Bedrock id

    def stream(self, call: NativeCall) -> RelayedStream:
        model, body = bedrock_body(call)

        def watch(stream: RelayedStream, name: str, payload: Mapping[str, Any]) -> None:
            watch_messages_events(stream, name, payload)
            stream.model = model  # priced as the Bedrock id, not the Anthropic name it reports

        return RelayedStream(self._opened(model, body), provider=self.name, watch=watch,
                             error_for=self._error, model=model, decode=self._events,
                             count=messages_delta_chars, counted=MESSAGES_DELTAS)  # fmt: skip

    @asynccontextmanager
    async def _opened(self, model: str, body: bytes) -> AsyncIterator[Response]:
        # Signed when the stream is first read: refreshing credentials may need the network.
        target = await self._signed(model, "invoke-with-response-stream", body)
        async with self._client.post(target, body, self._stream_timeout) as response:
            yield response

    async def _signed(self, model: str, operation: str, body: bytes) -> Target:
        url = f"{self._base_url}/model/{quote(model, safe='')}/{operation}"
        return Target(url, await self._signer.headers(url, body, self._headers, self.name))

    def _error(self, status: int, raw: bytes, headers: Mapping[str, str]) -> ProviderError:
        return http_error(status, raw, headers, self.name)

    async def _events(
        self, body: AsyncIterable[bytes]
    ) -> AsyncIterator[Sequence[ServerSentEvent]]:
        """The events of the body's frames, one at a time (``RelayedStream``'s groups)."""
        async for frame in frames_of(body, self.name):
            event = self._event(frame.headers, frame.payload)
            if event is not None:
                yield (event,)
                if event.event == "error":
                    return

    def _event(self, headers: Mapping[str, object], payload: bytes) -> ServerSentEvent | None:
        if headers.get(":message-type") != "event":
            kind = str(headers.get(":exception-type") or headers.get(":error-code") or "")
            error = {"type": _STREAM_ERRORS.get(kind, "api_error"),
                     "message": f"{self.name} answered {kind or 'an error'}"}  # fmt: skip
            return ServerSentEvent("error", _json({"type": "error", "error": error}))
        if headers.get(":event-type") != "chunk":
            return None  # unknown event types are skipped, as AWS's SDKs do
        try:
            chunk = msgspec.json.decode(payload)
            data = base64.b64decode(chunk["bytes"], validate=True).decode("utf-8")
            kind = msgspec.json.decode(data)["type"]
        except (msgspec.DecodeError, binascii.Error, UnicodeDecodeError, KeyError, TypeError):
            raise UpstreamResponseError(
                f"{self.name} sent a stream chunk that is not a Messages event", provider=self.name
            ) from None
        return ServerSentEvent(str(kind), data)


def bedrock_body(call: NativeCall) -> tuple[str, bytes]:
    """The model id (for the path) and the InvokeModel body for Claude."""
    body = {key: value for key, value in call.body.items() if key not in ("model", "stream")}
    body["anthropic_version"] = BEDROCK_ANTHROPIC_VERSION
    beta = next((v for k, v in call.headers.items() if k.lower() == "anthropic-beta"), None)
    if beta:
        body["anthropic_beta"] = [name.strip() for name in beta.split(",") if name.strip()]
    return str(call.body.get("model", "")), _encoder.encode(body)


def _json(value: object) -> str:
    return _encoder.encode(value).decode()
