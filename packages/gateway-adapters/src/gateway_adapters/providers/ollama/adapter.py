"""``ChatProvider`` over Ollama's native HTTP API: ``POST {base_url}/api/chat`` with httpx.

Non-streamed calls send ``"stream": false`` and read one JSON object; streamed calls read
Ollama's default NDJSON, one JSON object per line, translated as each line arrives.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncGenerator
from dataclasses import replace

import httpx

from gateway_adapters.providers.field_support import OLLAMA, servable_extras
from gateway_adapters.providers.ollama.errors import error_from_exception, error_from_status
from gateway_adapters.providers.ollama.stream import StreamTranslator
from gateway_adapters.providers.ollama.wire import (
    JSONObject,
    chat_body,
    decode_json,
    response_from_wire,
)
from gateway_adapters.upstream_deadlines import UpstreamDeadlines
from gateway_core.domain.chat import ChatChunk, ChatRequest, ChatResponse
from gateway_core.errors import UpstreamTimeoutError


class OllamaChatProvider:
    """One Ollama server, e.g. ``base_url="http://localhost:11434"``.

    ``client`` is owned by the caller (the container opens and closes it). ``deadlines``
    (else ``timeout`` and ``connect_timeout``, their old form): a non-streamed answer within
    ``total``; a stream's head within ``first_byte``, no gap over ``idle``, the whole within
    ``total`` (checked at each line). ``keep_alive`` (``"5m"``, seconds, ``-1``) is
    passed on so the gateway can keep models loaded; Ollama's default applies when it is None.
    """

    def __init__(
        self,
        *,
        name: str,
        base_url: str,
        client: httpx.AsyncClient,
        timeout: float = 120.0,
        connect_timeout: float = 10.0,
        deadlines: UpstreamDeadlines | None = None,
        keep_alive: str | int | None = None,
    ) -> None:
        self.name = name
        self._url = base_url.rstrip("/") + "/api/chat"
        self._client = client
        deadlines = self._deadlines = deadlines or UpstreamDeadlines.legacy(
            timeout, connect_timeout
        )
        # A non-streamed answer's head comes when it is all generated: its reads wait up to
        # the total; a stream's reads wait up to the idle gap.
        self._answer_timeout = httpx.Timeout(deadlines.total, connect=deadlines.connect)
        self._stream_timeout = deadlines.httpx_timeout()
        self._keep_alive = keep_alive

    def _body(self, request: ChatRequest, *, stream: bool) -> tuple[JSONObject, tuple[str, ...]]:
        """The body, and the request fields dropped as unsupported (``drop_params``)."""
        extras, dropped = servable_extras(
            request.extra, OLLAMA, provider=self.name, drop=request.drop_params
        )
        body = chat_body(request, stream=stream, keep_alive=self._keep_alive, extras=extras)
        return body, dropped

    async def complete(self, request: ChatRequest) -> ChatResponse:
        body, dropped = self._body(request, stream=False)
        try:
            async with asyncio.timeout(self._deadlines.total):
                response = await self._client.post(
                    self._url, json=body, timeout=self._answer_timeout
                )
        except httpx.HTTPError as error:
            raise error_from_exception(error, provider=self.name) from error
        except TimeoutError as error:
            raise self._timed_out("answer") from error
        if not response.is_success:
            raise error_from_status(
                response.status_code,
                response.headers,
                response.content,
                provider=self.name,
                model=request.model,
            )
        answer = response_from_wire(
            decode_json(response.content, provider=self.name),
            response_id=f"chatcmpl-{uuid.uuid4().hex}",
            provider=self.name,
            fallback_model=request.model,
        )
        return replace(answer, dropped_params=dropped) if dropped else answer

    async def stream(self, request: ChatRequest) -> AsyncGenerator[ChatChunk, None]:
        body, dropped = self._body(request, stream=True)
        translator = StreamTranslator(provider=self.name, fallback_model=request.model)
        deadlines = self._deadlines
        loop = asyncio.get_running_loop()
        ends = loop.time() + deadlines.total
        outbound = self._client.build_request(
            "POST", self._url, json=body, timeout=self._stream_timeout
        )
        try:
            async with asyncio.timeout(min(deadlines.first_byte, deadlines.total)):
                response = await self._client.send(outbound, stream=True)
        except httpx.HTTPError as error:
            raise error_from_exception(error, provider=self.name) from error
        except TimeoutError as error:
            raise self._timed_out("first byte") from error
        try:
            await self._raise_for_status(response, request.model)
            async for line in response.aiter_lines():
                if loop.time() > ends:
                    raise self._timed_out("total")
                if not line.strip():
                    continue
                for chunk in translator.feed(decode_json(line, provider=self.name)):
                    if dropped:  # the first chunk names them, for the response headers
                        chunk, dropped = replace(chunk, dropped_params=dropped), ()
                    yield chunk
                if translator.done:
                    return
        except httpx.HTTPError as error:
            raise error_from_exception(error, provider=self.name) from error
        finally:
            await response.aclose()
        translator.finish()

    def _timed_out(self, stage: str) -> UpstreamTimeoutError:
        return UpstreamTimeoutError(
            f"{self.name} did not answer in time ({stage} deadline)", provider=self.name
        )

    async def _raise_for_status(self, response: httpx.Response, model: str) -> None:
        if response.is_success:
            return
        await response.aread()
        raise error_from_status(
            response.status_code,
            response.headers,
            response.content,
            provider=self.name,
            model=model,
        )
