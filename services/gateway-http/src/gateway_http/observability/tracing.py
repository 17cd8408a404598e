"""OpenTelemetry tracing, off by default: a server span per request, OTLP export when on.

``tracer_provider(settings)`` builds the SDK's provider (OTLP over HTTP/protobuf, batched; a
sampler by ratio, parent-based so a caller's decision is kept) or ``None`` when tracing is
off. ``install_tracing(app, tracer)`` wraps the app's ``asgi_handler`` like the request log
does: each HTTP request becomes a SERVER span named after its route, continuing the trace of
an incoming ``traceparent`` header, and the spans the traced ports open while the request is
served (``gateway_adapters.tracing``: provider attempts, tool calls, cache) become its
children through the context the request's task carries.
"""

from __future__ import annotations

from typing import Any, cast

from litestar import Litestar
from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send
from opentelemetry import context, propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer

from gateway_core import __version__
from gateway_http.observability.middleware import route_of
from gateway_http.request_record import record_of
from gateway_http.settings import Settings

INSTRUMENTATION = "llm-gateway"


def tracer_provider(
    *,
    enabled: bool,
    service_name: str = "llm-gateway",
    sample_ratio: float = 1.0,
    endpoint: str | None = None,
    processor: SpanProcessor | None = None,
) -> TracerProvider | None:
    """The provider, or ``None`` when tracing is off. ``processor`` replaces the OTLP export
    (tests hand in an in-memory one); ``endpoint`` None means OTLP's own default and
    ``OTEL_EXPORTER_OTLP_*`` variables."""
    if not enabled:
        return None
    resource = Resource.create({"service.name": service_name, "service.version": __version__})
    sampler = ParentBased(TraceIdRatioBased(sample_ratio))
    provider = TracerProvider(resource=resource, sampler=sampler)
    if processor is None:
        # Imported here: the exporter pulls in protobuf, which an untraced gateway never needs.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        processor = BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint))
    provider.add_span_processor(processor)
    return provider


def _headers(scope: Scope) -> dict[str, str]:
    return {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}


class TracedRequests:
    """Pure ASGI wrapper: one SERVER span per HTTP request; lifespan passes through."""

    def __init__(self, app: ASGIApp, tracer: Tracer) -> None:
        self._app = app
        self._tracer = tracer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # type: ignore[comparison-overlap]  # lifespan too
            await self._app(scope, receive, send)
            return
        http = cast(HTTPScope, scope)
        parent = propagate.extract(_headers(scope))
        span = self._tracer.start_span(
            f"{http['method']} {http['path']}", context=parent, kind=SpanKind.SERVER,
            attributes={"http.request.method": http["method"], "url.path": http["path"]},
        )
        status: dict[str, Any] = {}

        async def traced_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        token = context.attach(trace.set_span_in_context(span, parent))
        try:
            await self._app(scope, receive, traced_send)
        except BaseException as error:
            span.set_status(Status(StatusCode.ERROR, type(error).__name__))
            raise
        finally:
            context.detach(token)
            self._finish(span, http, status.get("code"))

    @staticmethod
    def _finish(span: trace.Span, scope: HTTPScope, code: int | None) -> None:
        record = record_of(scope)
        route = route_of(scope, record)
        span.update_name(f"{scope['method']} {route}")
        span.set_attribute("http.route", route)
        if code is not None:
            span.set_attribute("http.response.status_code", code)
            if code >= 500:
                span.set_status(Status(StatusCode.ERROR))
        attributes = {
            "gen_ai.request.model": record.model,
            "gateway.provider": record.provider,
            "gen_ai.usage.input_tokens": record.prompt_tokens,
            "gen_ai.usage.output_tokens": record.completion_tokens,
            "gateway.cost_usd": record.cost_usd.to_float(),
            "gateway.cache": record.cache,
            "gateway.key_id": record.key_id,
            "error.type": record.error_code,
        }
        for name, value in attributes.items():
            if value is not None:
                span.set_attribute(name, value)
        span.end()


def tracer_provider_for(settings: Settings) -> TracerProvider | None:
    return tracer_provider(
        enabled=settings.tracing_enabled,
        service_name=settings.tracing_service_name,
        sample_ratio=settings.tracing_sample_ratio,
        endpoint=settings.tracing_otlp_endpoint,
    )


def tracer_of(provider: TracerProvider | None) -> Tracer | None:
    """The tracer the traced ports use; ``None`` (nothing traced) when tracing is off."""
    return None if provider is None else provider.get_tracer(INSTRUMENTATION, __version__)


def install_tracing(app: Litestar, provider: TracerProvider | None) -> None:
    """Wrap the app's handler when tracing is on.

    Call after ``install_observability``: the request span is then the outer wrapper, so the
    request log line is written inside it and the span ends after the response's last byte.
    """
    if provider is None:
        return
    tracer = provider.get_tracer(INSTRUMENTATION, __version__)
    app.asgi_handler = TracedRequests(app.asgi_handler, tracer)
    app.on_shutdown.append(provider.shutdown)
