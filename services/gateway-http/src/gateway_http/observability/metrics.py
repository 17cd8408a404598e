"""The gateway's Prometheus metrics, with bounded labels, shared by every uvicorn worker.

Labels never hold a key, a request id or a raw path: routes are templates (``unmatched`` when
no route matched), methods outside the standard few are ``other``, model names are the
configured ones (``unknown`` for a failed request naming another model; ``other`` once
``MAX_EXTRA_MODELS`` names routed by prefix or pattern have been seen), upstream error kinds
are the codes of the ``ProviderError`` classes.

Several workers: prometheus_client picks its storage when it is imported, from the
``PROMETHEUS_MULTIPROC_DIR`` environment variable. ``prepare_multiprocess_dir(workers)`` sets
it in the parent process before uvicorn spawns the workers; each worker then writes its
samples to files there and ``render()`` sums every worker's files, so any worker's
``/metrics`` answers for all of them.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from gateway_adapters.tools.circuit_breaker import CircuitState
from gateway_core.domain.models import ModelInfo
from gateway_core.domain.routing import Deployment
from gateway_core.errors import ProviderError
from gateway_http.observability.outcome import RequestOutcome
from gateway_http.request_record import RequestRecord

MULTIPROCESS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
UNKNOWN = "unknown"
OTHER = "other"
MAX_EXTRA_MODELS = 64
MAX_KEY_LABELS = 1000
"""Distinct key ids labelled one by one per worker; later ones share ``other``."""
ANONYMOUS = "anonymous"

LATENCY_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
)  # fmt: skip
"""From a cache hit (milliseconds) to a long tool-calling stream (minutes)."""
GC_PAUSE_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25)
"""A young collection's tenth of a millisecond to a full one's at tens of thousands of
open streams."""

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_CACHE_RESULTS = {"HIT": "hit", "MISS": "miss"}
_BREAKER_LEVELS = {CircuitState.CLOSED: 0, CircuitState.HALF_OPEN: 1, CircuitState.OPEN: 2}
_BREAKER_REFRESH_SECONDS = 1.0
_DEPLOYMENT_LEVELS = {"closed": 0, "half_open": 1, "open": 2}


def _provider_error_codes() -> frozenset[str]:
    codes, pending = set(), [ProviderError]
    while pending:
        cls = pending.pop()
        codes.add(cls.code)
        pending.extend(cls.__subclasses__())
    return frozenset(codes)


UPSTREAM_ERROR_CODES = _provider_error_codes()


class HasDeploymentStates(Protocol):
    """What the attempt planner exposes: each tracked deployment's state."""

    def states(self) -> Mapping[str, Mapping[str, object]]: ...


class HasCircuitState(Protocol):
    """What a circuit breaker exposes (``gateway_adapters.tools.CircuitBreaker`` does)."""

    @property
    def state(self) -> CircuitState: ...


def model_names(models: Iterable[ModelInfo]) -> frozenset[str]:
    """The configured model names (and aliases): the model labels always allowed."""
    return frozenset(model.id for model in models)


class ModelLabels:
    """Bounds the model label: clients may send any model name."""

    def __init__(self, known: Iterable[str], max_extra: int = MAX_EXTRA_MODELS) -> None:
        self._known = frozenset(known)
        self._extra: set[str] = set()
        self._max_extra = max_extra

    def label(self, model: str | None, *, served: bool) -> str:
        """``served``: the request succeeded, so a prefix or pattern route resolved the name."""
        if model is None:
            return UNKNOWN
        if model in self._known or model in self._extra:
            return model
        if not served:
            return UNKNOWN
        if len(self._extra) >= self._max_extra:
            return OTHER
        self._extra.add(model)
        return model


class KeyLabels:
    """Bounds the key label: key ids are configured (not secrets), but there may be many."""

    def __init__(self, max_keys: int = MAX_KEY_LABELS) -> None:
        self._seen: set[str] = set()
        self._max_keys = max_keys

    def label(self, key_id: str) -> str:
        if key_id in self._seen:
            return key_id
        if len(self._seen) >= self._max_keys:
            return OTHER
        self._seen.add(key_id)
        return key_id


def method_label(method: str) -> str:
    return method if method in _METHODS else OTHER


class GatewayMetrics:
    """Every metric of one gateway process, in its own registry (nothing at import time)."""

    def __init__(
        self, known_models: Iterable[str] = (), registry: CollectorRegistry | None = None
    ) -> None:
        self.registry = registry or CollectorRegistry()
        self._models = ModelLabels(known_models)
        self._keys = KeyLabels()
        self._breakers: Mapping[str, HasCircuitState] = {}
        self._deployments: HasDeploymentStates | None = None
        self._attempt_counters: dict[tuple[str, bool], Counter] = {}
        self._children: dict[tuple[Any, tuple[str, ...]], Any] = {}
        """Labelled children of the per-request metrics, by metric and label values: every
        label set is bounded (routes, statuses, model and key labels are capped)."""
        self._breakers_refreshed_at = float("-inf")
        # Read like prometheus_client read it at import: the two must agree on the storage.
        self._multiprocess_dir = os.environ.get(MULTIPROCESS_DIR_ENV) or None
        self._define(self.registry)

    def _define(self, registry: CollectorRegistry) -> None:
        def counter(name: str, documentation: str, labels: tuple[str, ...] = ()) -> Counter:
            return Counter(f"llm_gateway_{name}", documentation, labels, registry=registry)

        def histogram(name: str, documentation: str, label: str) -> Histogram:
            return Histogram(
                f"llm_gateway_{name}", documentation, [label], buckets=LATENCY_BUCKETS,
                registry=registry,
            )  # fmt: skip

        self._requests = counter("requests", "HTTP requests.", ("route", "method", "status"))
        self._duration = histogram(
            "request_duration_seconds", "Request latency, arrival to last byte.", "route"
        )
        self._upstream = histogram(
            "upstream_duration_seconds", "Time spent waiting on model providers.", "provider"
        )
        self._tokens = counter("tokens", "Tokens by model and kind.", ("model", "kind"))
        self._cost = counter("cost_usd", "Cost in USD.", ("model",))
        self._cache = counter("cache_requests", "Response cache lookups.", ("result",))
        self._rejections = counter("rate_limit_rejections", "Requests refused with 429.")
        self._fallbacks = counter(
            "rate_limit_fallbacks", "Rate-limit decisions by the per-process fallback (no Redis)."
        )
        self._upstream_errors = counter(
            "upstream_errors", "Requests failed by a provider error.", ("provider", "kind")
        )
        self._stream_aborts = counter("stream_aborts", "Responses cut before their end.")
        self._attempts = counter(
            "upstream_attempts", "Upstream calls, retries and fallbacks included.",
            ("provider", "deployment"),
        )  # fmt: skip
        self._retries = counter(
            "upstream_retries", "Extra upstream calls within a model group (retries).",
            ("provider", "deployment"),
        )  # fmt: skip
        self._deployment_state = Gauge(
            "llm_gateway_deployment_circuit_state",
            "Model deployments' circuit breakers: 0 closed, 1 half-open, 2 open.",
            ["deployment"], multiprocess_mode="livemax", registry=registry,
        )  # fmt: skip
        self._deployment_cooling = Gauge(
            "llm_gateway_deployment_cooling_down",
            "1 while a model deployment rests after a 429, else 0.",
            ["deployment"], multiprocess_mode="livemax", registry=registry,
        )  # fmt: skip
        self._ttft = Histogram(
            "llm_gateway_time_to_first_token_seconds",
            "Streams: arrival to the first event (the first token as the client sees it).",
            ["model"], buckets=LATENCY_BUCKETS, registry=registry,
        )  # fmt: skip
        self._in_flight = Gauge(
            "llm_gateway_requests_in_flight", "HTTP requests being served now.",
            multiprocess_mode="livesum", registry=registry,
        )  # fmt: skip
        # One process: a plain count read at scrape time (the gauge's own inc and dec take a
        # lock each, twice per request); several: the gauge's shared file, written each time.
        self._in_flight_now = 0
        if self._multiprocess_dir is None:
            self._in_flight.set_function(lambda: self._in_flight_now)
        self._key_requests = counter("key_requests", "Requests by client key id.", ("key_id",))
        self._key_tokens = counter(
            "key_tokens", "Tokens by client key id and kind.", ("key_id", "kind")
        )
        self._key_cost = counter("key_cost_usd", "Cost in USD by client key id.", ("key_id",))
        self._config_reloads = counter(
            "config_reloads", "Configuration file reloads by file and result.", ("file", "result")
        )
        self._gc_pause = Histogram(
            "llm_gateway_gc_pause_seconds",
            "Cycle collections (young, full) and how long each held the event loop.",
            ["generation"], buckets=GC_PAUSE_BUCKETS, registry=registry,
        )  # fmt: skip
        # livemax: the worst state any live worker sees (each worker has its own breakers).
        self._breaker_state = Gauge(
            "llm_gateway_circuit_breaker_state",
            "Tool circuit breakers: 0 closed, 1 half-open, 2 open.",
            ["backend"], multiprocess_mode="livemax", registry=registry,
        )  # fmt: skip

    def _child(self, metric: Any, *labels: str) -> Any:
        """``metric.labels(*labels)``, kept: prometheus_client's own lookup (a lock, a
        ``str()`` per value) cost more than the update, several times per request."""
        key = (metric, labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def observe_gc_pause(self, generation: str, seconds: float) -> None:
        """One cycle collection (``young`` or ``full``) of the paced collector."""
        self._child(self._gc_pause, generation).observe(seconds)

    def count_config_reload(self, file: str, result: str) -> None:
        """One reload attempt of a configuration file (``applied`` or ``rejected``)."""
        self._config_reloads.labels(file, result).inc()

    def observe(self, outcome: RequestOutcome, record: RequestRecord) -> None:
        """Count one finished request."""
        route = outcome.route
        self._child(self._requests, route, method_label(outcome.method), str(outcome.status)).inc()
        self._child(self._duration, route).observe(outcome.latency_seconds)
        model = self._models.label(record.model, served=outcome.status < 400)
        self._count_usage(model, record)
        self._count_key(record)
        if record.stream and outcome.first_byte_seconds is not None and outcome.status < 400:
            self._child(self._ttft, model).observe(outcome.first_byte_seconds)
        self._count_upstream(record)
        cache = _CACHE_RESULTS.get(record.cache or "")
        if cache is not None:
            self._child(self._cache, cache).inc()
        if record.rate_limited:
            self._rejections.inc()
        if outcome.aborted or record.aborted:
            self._stream_aborts.inc()
        if time.monotonic() - self._breakers_refreshed_at >= _BREAKER_REFRESH_SECONDS:
            self.refresh_circuit_breakers()

    def _count_usage(self, model: str, record: RequestRecord) -> None:
        for kind, count in (
            ("prompt", record.prompt_tokens),
            ("completion", record.completion_tokens),
            ("cached", record.cached_tokens),
        ):
            if count > 0:
                self._child(self._tokens, model, kind).inc(count)
        if record.cost_usd.picodollars > 0:  # an attribute, not the generated __gt__
            self._child(self._cost, model).inc(record.cost_usd.to_float())

    def _count_key(self, record: RequestRecord) -> None:
        # Model calls by an authenticated key only: with authentication off there is no key,
        # and other routes (sessions, tools, a stray path) are not usage.
        if record.key_id is None or record.model is None:
            return
        key = self._keys.label(record.key_id)
        self._child(self._key_requests, key).inc()
        for kind, count in (
            ("prompt", record.prompt_tokens),
            ("completion", record.completion_tokens),
        ):
            if count > 0:
                self._child(self._key_tokens, key, kind).inc(count)
        if record.cost_usd.picodollars > 0:  # an attribute, not the generated __gt__
            self._child(self._key_cost, key).inc(record.cost_usd.to_float())

    def request_started(self) -> None:
        if self._multiprocess_dir is None:
            self._in_flight_now += 1
        else:
            self._in_flight.inc()

    def request_finished(self) -> None:
        if self._multiprocess_dir is None:
            self._in_flight_now -= 1
        else:
            self._in_flight.dec()

    def _count_upstream(self, record: RequestRecord) -> None:
        # Provider names come from configuration only (routes map to configured providers).
        provider = record.provider or UNKNOWN
        if record.upstream_seconds is not None and record.provider is not None:
            self._child(self._upstream, provider).observe(record.upstream_seconds)

    def count_provider_error(self, error: ProviderError) -> None:
        """Pass as ``CompleteChat``'s ``on_provider_error``: every failed upstream call, by the
        configured provider's name and the error's code (both bounded sets)."""
        kind = error.code if error.code in UPSTREAM_ERROR_CODES else "other"
        self._upstream_errors.labels(error.provider or UNKNOWN, kind).inc()

    def attempted(self, deployment: Deployment, retry: bool) -> None:
        """The attempt planner's observer: one upstream call made. Deployment names come from
        configuration (or ``<provider>/*``): a bounded set."""
        self._labelled(self._attempts, deployment, False).inc()
        if retry:
            self._labelled(self._retries, deployment, True).inc()

    def _labelled(self, counter: Counter, deployment: Deployment, retry: bool) -> Counter:
        # Looking a labelled child up costs more than the increment: keep them.
        child = self._attempt_counters.get((deployment.name, retry))
        if child is None:
            child = counter.labels(deployment.target.provider, deployment.name)
            self._attempt_counters[(deployment.name, retry)] = child
        return child

    def watch_deployments(self, planner: HasDeploymentStates) -> None:
        """Report the planner's deployments' states from now on."""
        self._deployments = planner
        self.refresh_circuit_breakers()

    def count_rate_limit_fallback(self) -> None:
        """Pass as the rate limiter's ``on_fallback``."""
        self._fallbacks.inc()

    def watch_circuit_breakers(self, breakers: Mapping[str, HasCircuitState]) -> None:
        """Report these breakers (by backend name) from now on."""
        self._breakers = dict(breakers)
        self.refresh_circuit_breakers()

    def refresh_circuit_breakers(self) -> None:
        # States move with time (open -> half-open), so they are read, not pushed: on every
        # scrape, and at most once a second after a request (for the other workers' files).
        self._breakers_refreshed_at = time.monotonic()
        for backend, breaker in self._breakers.items():
            self._breaker_state.labels(backend).set(_BREAKER_LEVELS[breaker.state])
        if self._deployments is not None:
            for name, state in self._deployments.states().items():
                self._deployment_state.labels(name).set(_DEPLOYMENT_LEVELS[str(state["circuit"])])
                self._deployment_cooling.labels(name).set(1 if state["cooling_down"] else 0)

    def render(self) -> bytes:
        """The Prometheus text exposition, summed over every worker in multiprocess mode."""
        self.refresh_circuit_breakers()
        if self._multiprocess_dir is None:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=self._multiprocess_dir)
        return generate_latest(registry)

    def close(self) -> None:
        """At worker shutdown: drop this worker's live gauges (its counters stay counted)."""
        if self._multiprocess_dir is not None:
            mark_process_dead(os.getpid(), self._multiprocess_dir)


def prepare_multiprocess_dir(workers: int) -> None:
    """Call in the CLI before ``uvicorn.run``, so the workers it spawns inherit the setting.

    With ``workers > 1`` and no ``PROMETHEUS_MULTIPROC_DIR``, makes a fresh temporary directory
    (removed when this process exits) and sets the variable. A directory the operator set is
    emptied of the previous run's files: stale files would add old counts to the new ones.
    """
    configured = os.environ.get(MULTIPROCESS_DIR_ENV)
    if configured:
        directory = Path(configured)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):
            stale.unlink()
        return
    if workers > 1:
        created = tempfile.mkdtemp(prefix="llm-gateway-metrics-")
        atexit.register(shutil.rmtree, created, ignore_errors=True)
        os.environ[MULTIPROCESS_DIR_ENV] = created
