"""OpenTelemetry spans around the ports: each provider attempt, each tool call, each cache read.

Decorators, not code in the core: the composition root wraps a port's implementation in its
traced twin when tracing is on, so the core stays free of any tracing library and an untraced
gateway pays nothing. Attribute names follow OpenTelemetry's GenAI semantic conventions
(``gen_ai.*``); message contents are never recorded (they may hold personal data).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from contextlib import AbstractContextManager
from typing import Any

from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer

from gateway_core.domain.chat import ChatChunk, ChatRequest, ChatResponse
from gateway_core.ports.cache import ResponseCache
from gateway_core.ports.providers import ChatProvider
from gateway_core.ports.tools import ToolBackend
from gateway_core.ports.tracing import NO_TRACER, StepTracer


def _request_attributes(provider: str, request: ChatRequest) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.system": provider,
        "gen_ai.request.model": request.model,
        "gateway.stream": request.stream,
    }
    optional = {
        "gen_ai.request.temperature": request.temperature,
        "gen_ai.request.top_p": request.top_p,
        "gen_ai.request.max_tokens": request.max_tokens,
        "gen_ai.request.seed": request.seed,
    }
    attributes.update({name: value for name, value in optional.items() if value is not None})
    if request.tools:
        attributes["gateway.request.tools"] = len(request.tools)
    return attributes


def _record_response(span: Span, response: ChatResponse) -> None:
    span.set_attribute("gen_ai.response.id", response.id)
    span.set_attribute("gen_ai.response.model", response.model)
    reasons = [c.finish_reason for c in response.choices if c.finish_reason is not None]
    span.set_attribute("gen_ai.response.finish_reasons", reasons)
    span.set_attribute("gen_ai.usage.input_tokens", response.usage.prompt_tokens)
    span.set_attribute("gen_ai.usage.output_tokens", response.usage.completion_tokens)


def _record_error(span: Span, error: BaseException) -> None:
    code = getattr(error, "code", None)
    span.set_attribute("error.type", code or type(error).__name__)
    span.set_status(Status(StatusCode.ERROR, type(error).__name__))


class TracedChatProvider:
    """A ``ChatProvider`` whose every call (one attempt, fallbacks each their own) is a span."""

    def __init__(self, inner: ChatProvider, tracer: Tracer) -> None:
        self.name = inner.name
        self._inner = inner
        self._tracer = tracer

    async def complete(self, request: ChatRequest) -> ChatResponse:
        attributes = _request_attributes(self.name, request)
        with self._tracer.start_as_current_span(
            f"chat {request.model}", kind=SpanKind.CLIENT, attributes=attributes,
            record_exception=False, set_status_on_exception=False,
        ) as span:
            try:
                response = await self._inner.complete(request)
            except BaseException as error:
                _record_error(span, error)
                raise
            _record_response(span, response)
            return response

    async def stream(self, request: ChatRequest) -> AsyncGenerator[ChatChunk, None]:
        attributes = _request_attributes(self.name, request)
        span = self._tracer.start_span(
            f"chat {request.model}", kind=SpanKind.CLIENT, attributes=attributes
        )
        chunks = self._inner.stream(request)
        first = True
        try:
            async for chunk in chunks:
                if first:
                    span.add_event("gen_ai.first_chunk")
                    first = False
                _note_chunk(span, chunk)
                yield chunk
        except BaseException as error:
            _record_error(span, error)
            raise
        finally:
            await chunks.aclose()
            span.end()

    def __getattr__(self, name: str) -> Any:
        # Capabilities an adapter offers beyond the port (embeddings, say) stay reachable.
        return getattr(self._inner, name)


def _note_chunk(span: Span, chunk: ChatChunk) -> None:
    if chunk.model:
        span.set_attribute("gen_ai.response.model", chunk.model)
    if chunk.finish_reason is not None:
        span.set_attribute("gen_ai.response.finish_reasons", [chunk.finish_reason])
    if chunk.usage is not None:
        span.set_attribute("gen_ai.usage.input_tokens", chunk.usage.prompt_tokens)
        span.set_attribute("gen_ai.usage.output_tokens", chunk.usage.completion_tokens)


class TracedToolBackend:
    """A ``ToolBackend`` whose every tool call is a span (``execute_tool <name>``)."""

    def __init__(self, inner: ToolBackend, tracer: Tracer) -> None:
        self.name = inner.name
        self._inner = inner
        self._tracer = tracer

    async def execute(self, tool_name: str, arguments: Mapping[str, Any]) -> Any:
        attributes = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": tool_name,
            "gateway.tool.backend": self.name,
        }
        with self._tracer.start_as_current_span(
            f"execute_tool {tool_name}", kind=SpanKind.INTERNAL, attributes=attributes,
            record_exception=False, set_status_on_exception=False,
        ) as span:
            try:
                return await self._inner.execute(tool_name, arguments)
            except BaseException as error:
                _record_error(span, error)
                raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class TracedResponseCache:
    """A ``ResponseCache`` whose lookups and stores are spans (``gateway.cache.hit``)."""

    def __init__(self, inner: ResponseCache, tracer: Tracer) -> None:
        self._inner = inner
        self._tracer = tracer

    async def get(self, key: str) -> ChatResponse | None:
        with self._tracer.start_as_current_span("cache lookup") as span:
            hit = await self._inner.get(key)
            span.set_attribute("gateway.cache.hit", hit is not None)
            return hit

    async def set(self, key: str, response: ChatResponse, ttl_seconds: float) -> None:
        with self._tracer.start_as_current_span("cache store"):
            await self._inner.set(key, response, ttl_seconds)


# ---------------------------------------------------------------- for the composition root


def traced_chat_providers(
    providers: Mapping[str, ChatProvider], tracer: Tracer | None
) -> Mapping[str, ChatProvider]:
    if tracer is None:
        return providers
    return {name: TracedChatProvider(provider, tracer) for name, provider in providers.items()}


def traced_tool_backends(
    backends: Mapping[str, ToolBackend], tracer: Tracer | None
) -> Mapping[str, ToolBackend]:
    if tracer is None:
        return backends
    return {name: TracedToolBackend(backend, tracer) for name, backend in backends.items()}


def traced_cache(cache: ResponseCache | None, tracer: Tracer | None) -> ResponseCache | None:
    if tracer is None or cache is None:
        return cache
    return TracedResponseCache(cache, tracer)


class OpenTelemetryStepTracer:
    """The core's ``StepTracer`` port on OpenTelemetry: its own steps (admission) as spans."""

    def __init__(self, tracer: Tracer) -> None:
        self._tracer = tracer

    def span(self, name: str) -> AbstractContextManager[Any]:
        return self._tracer.start_as_current_span(name)


def step_tracer(tracer: Tracer | None) -> StepTracer:
    return NO_TRACER if tracer is None else OpenTelemetryStepTracer(tracer)
