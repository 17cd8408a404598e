"""One JSON log line and the metrics for every HTTP response, 404s from the router included.

``install_observability(app, metrics, log_prompts=...)`` wraps the built app's
``asgi_handler``: Litestar's app-level middleware runs only once a route has matched, while
``asgi_handler`` (router + exception handling) is what ``Litestar.__call__`` hands every
request to. The wrapper notes the time on arrival, the status from ``http.response.start`` and
the time of the last body message; when the app returns (finished, failed, or cancelled by a
client going away) it reads the route's ``RequestRecord`` and reports once.
"""

from __future__ import annotations

import asyncio
import logging
from time import perf_counter
from typing import Any

from litestar import Litestar
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from gateway_core.resilience.planner import AttemptTally, current_tally
from gateway_http.middleware import request_id
from gateway_http.observability.logs import FIELDS_ATTRIBUTE, REQUEST_LOGGER
from gateway_http.observability.metrics import GatewayMetrics
from gateway_http.observability.outcome import (
    STATUS_CLIENT_GONE,
    STATUS_FAILED,
    UNMATCHED_ROUTE,
    RequestOutcome,
)
from gateway_http.request_record import RequestRecord, record_of
from gateway_http.sse import SERVER_SEND

MAX_LOGGED_PATH = 256

log = logging.getLogger(__name__)
_HERE = __file__
"""The request line's source file, as ``logger.info`` would have found it."""


def request_fields(
    request_id: str, outcome: RequestOutcome, record: RequestRecord, *, log_prompts: bool
) -> dict[str, Any]:
    """The request's log line (without the timestamp, level and logger the handler adds)."""
    latency_ms = round(outcome.latency_seconds * 1000, 3)
    upstream_ms = None
    overhead_ms = None
    if record.upstream_seconds is not None:
        upstream_ms = round(record.upstream_seconds * 1000, 3)
        overhead_ms = round(max(latency_ms - upstream_ms, 0.0), 3)
    fields: dict[str, Any] = {
        "message": "request",
        "request_id": request_id,
        "method": outcome.method,
        "route": outcome.route,
        "status": outcome.status,
        "latency_ms": latency_ms,
        "upstream_ms": upstream_ms,
        "gateway_overhead_ms": overhead_ms,
        "key_id": record.key_id,
        "model": record.model,
        "provider": record.provider,
        "stream": record.stream,
        "prompt_tokens": record.prompt_tokens,
        "completion_tokens": record.completion_tokens,
        "cached_tokens": record.cached_tokens,
        "cost_usd": record.cost_usd.to_float(),
        "cache": record.cache,
        "tool_rounds": record.tool_rounds,
        "upstream_attempts": record.upstream_attempts,
        "upstream_retries": record.upstream_retries,
        "error_code": record.error_code,
        "rate_limited": record.rate_limited,
        "aborted": outcome.aborted or record.aborted,
    }
    if outcome.path is not None:
        fields["path"] = outcome.path
    if record.tool_runs:
        fields["tool_runs"] = record.tool_runs
    if record.correlation:
        fields["correlation"] = record.correlation
    if log_prompts:
        fields["prompt"] = record.prompt
        fields["completion"] = record.completion
    return fields


def route_of(scope: Scope, record: RequestRecord) -> str:
    # Litestar sets path_template once a route matched; the router's own 404/405 never do.
    template: str | None = scope.get("path_template")
    return record.route or template or UNMATCHED_ROUTE


class _Exchange:
    """What the response messages showed so far (mutable, one per request)."""

    __slots__ = ("finished", "first_byte", "started", "status")

    def __init__(self) -> None:
        self.started = perf_counter()
        self.status: int | None = None
        self.first_byte: float | None = None
        self.finished: float | None = None

    def see(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        elif message["type"] == "http.response.body":
            if self.first_byte is None and message.get("body"):
                self.first_byte = perf_counter()
            if not message.get("more_body", False):
                self.finished = perf_counter()

    def outcome(self, scope: Scope, record: RequestRecord, ending: int | None) -> RequestOutcome:
        """``ending``: the status to report when no response started (failed or cancelled)."""
        route = route_of(scope, record)
        path = scope["path"][:MAX_LOGGED_PATH] if route == UNMATCHED_ROUTE else None
        aborted = self.status is not None and self.finished is None
        status = self.status or ending or STATUS_CLIENT_GONE
        latency = (self.finished or perf_counter()) - self.started
        first_byte = None if self.first_byte is None else self.first_byte - self.started
        method = scope["method"] if scope["type"] == ScopeType.HTTP else "GET"
        return RequestOutcome(method, route, status, latency, aborted, path, first_byte)


class RequestObserver:
    """Turns a finished request into a log line and metric updates; never raises."""

    def __init__(self, metrics: GatewayMetrics, *, log_prompts: bool = False) -> None:
        self.metrics = metrics
        self._metrics = metrics
        self._log_prompts = log_prompts
        self._request_log = logging.getLogger(REQUEST_LOGGER)

    def observe(
        self, scope: Scope, exchange: _Exchange, ending: int | None, tally: AttemptTally
    ) -> None:
        try:
            record = record_of(scope)
            record.upstream_attempts = tally.attempts
            record.upstream_retries = tally.retries
            record.close()
            outcome = exchange.outcome(scope, record, ending)
            # Metrics first: once a request's line is visible, /metrics counts it.
            self._metrics.observe(outcome, record)
            logger = self._request_log
            if logger.isEnabledFor(logging.INFO):
                fields = request_fields(
                    request_id(scope), outcome, record, log_prompts=self._log_prompts
                )
                # ``logger.info`` less its search of the stack for the caller's file and line
                # (the line names neither): 1% of a JSON request's CPU.
                logger.handle(logger.makeRecord(
                    logger.name, logging.INFO, _HERE, 0, "request", (), None,
                    extra={FIELDS_ATTRIBUTE: fields},
                ))  # fmt: skip
        except Exception:
            # A bug here must not turn a served request into a failed one.
            log.exception("could not log or count a request")


class ObservedRequests:
    """Pure ASGI wrapper; HTTP only (lifespan and websockets pass through)."""

    def __init__(self, app: ASGIApp, observer: RequestObserver) -> None:
        self._app = app
        self._observer = observer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self._app(scope, receive, send)
            return
        scope[SERVER_SEND] = send  # type: ignore[literal-required]
        exchange = _Exchange()
        # The provider path counts its attempts into this (one object, shared by the tasks
        # the request spawns: they copy the context, not the tally).
        tally = AttemptTally()
        current_tally.set(tally)

        async def observed_send(message: Message) -> None:
            exchange.see(message)
            await send(message)

        ending = None
        self._observer.metrics.request_started()
        try:
            await self._app(scope, receive, observed_send)
        except asyncio.CancelledError:
            ending = STATUS_CLIENT_GONE
            raise
        except BaseException:
            ending = STATUS_FAILED
            raise
        finally:
            # The server's send is a method of uvicorn's request cycle, which holds the scope:
            # left in the scope, it made every request a reference cycle that only the cycle
            # collector freed (hundreds of requests' objects waiting there under load).
            scope.pop(SERVER_SEND, None)  # type: ignore[misc]
            self._observer.metrics.request_finished()
            settling = record_of(scope).settling()
            if settling is None:
                self._observer.observe(scope, exchange, ending, tally)
            else:
                # A client that left: the turn bills what was spent in the background, and the
                # line says what was billed, so it waits for that (drained at shutdown).
                settling.add_done_callback(
                    lambda _: self._observer.observe(scope, exchange, ending, tally)
                )


def install_observability(app: Litestar, metrics: GatewayMetrics, *, log_prompts: bool) -> None:
    """Call on the built app, last: it wraps whatever ``asgi_handler`` the app has by then."""
    observer = RequestObserver(metrics, log_prompts=log_prompts)
    app.asgi_handler = ObservedRequests(app.asgi_handler, observer)
    app.on_shutdown.append(metrics.close)
