"""Settings from the environment (prefix ``LLM_GATEWAY_``), read once by the container."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

_DEFAULT_CONFIG_DIR = Path("config")


class Settings(BaseSettings):
    # An empty variable means unset (compose files and Helm values often render "").
    model_config = SettingsConfigDict(
        env_prefix="LLM_GATEWAY_", extra="ignore", env_ignore_empty=True
    )

    host: str = "0.0.0.0"
    port: int = 8080
    workers: int = 1
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    redis_url: SecretStr | None = None
    """Shared state (sessions, rate limits, cache, usage). Unset: in-memory stores (one process)."""

    providers_config: Path = _DEFAULT_CONFIG_DIR / "providers.json"
    tools_config: Path = _DEFAULT_CONFIG_DIR / "tools.json"
    pricing_config: Path = _DEFAULT_CONFIG_DIR / "pricing.json"
    config_reload_seconds: float = Field(default=2.0, ge=0)
    """How often the providers, tools and pricing files are checked for changes (0: SIGHUP only)."""

    semantic_search_url: str = "http://localhost:8081"
    ai_agents_url: str = "http://localhost:8082"

    max_request_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    """Larger request bodies are refused with 413."""

    server_max_header_bytes: int = Field(default=64 * 1024, ge=1024)
    """A request head (request line and headers) beyond this: 431, connection closed."""
    server_header_timeout_seconds: float = Field(default=10.0, gt=0)
    """A request head must arrive within this (from connect or the previous response): 408."""
    server_body_timeout_seconds: float = Field(default=60.0, gt=0)
    """A request body must arrive within this of its head: 408, connection closed."""
    server_max_connections: int = Field(default=1000, ge=1)
    """Open connections per worker; one more is answered 503 with Retry-After and closed."""
    server_keep_alive_seconds: float = Field(default=5.0, gt=0)
    """An idle keep-alive connection is closed after this (uvicorn's ``timeout_keep_alive``)."""
    shutdown_grace_seconds: float = Field(default=100.0, gt=0)
    """After SIGTERM, in-flight requests and streams get this long to finish before they are
    cancelled (uvicorn's ``timeout_graceful_shutdown``): the Helm chart's 120 s grace period
    less its 10 s preStop sleep and 10 s for closing the stores."""
    gc_young_interval_ms: float = Field(default=20.0, ge=0)
    """The cycle collector's young collections run this often, paced by time, while they find
    garbage (0: CPython's own pacing by allocation counts), so thousands of open streams never
    wait long for one."""
    gc_full_interval_seconds: float = Field(default=600.0, gt=0)
    """A full collection at least this often (and whenever resident memory has grown by a
    quarter since the last): the one collection whose pause grows with the open streams."""
    upstream_pool_size: int = Field(default=256, ge=1)
    """Connections to each upstream host (kept alive when idle up to 30 s), per worker."""

    # Upstream deadlines (a provider's own ``*_timeout_seconds`` in providers.json win): a dead
    # upstream fails in seconds, a long generation that keeps streaming lives.
    upstream_connect_timeout_seconds: float = Field(default=3.0, gt=0)
    """Getting a connection: a reachable provider connects (TLS included) in well under 1 s."""
    upstream_first_byte_timeout_seconds: float = Field(default=60.0, gt=0)
    """A stream's response head: providers send it once the prompt is read, which a very
    long prompt can make take tens of seconds."""
    upstream_idle_timeout_seconds: float = Field(default=30.0, gt=0)
    """The longest silence inside a stream: providers send a token, a keep-alive or a ping
    far more often than this."""
    upstream_total_timeout_seconds: float = Field(default=600.0, gt=0)
    """A whole exchange, streamed or not (a non-streamed answer's head is its whole answer,
    so this is its only bound); the OpenAI and Anthropic SDKs' own default."""
    max_response_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    """An upstream answer (JSON body or a stream's bytes) beyond this is cut: 502 for JSON, an
    error event for a stream, usage recorded for what was generated."""

    models_config: Path = _DEFAULT_CONFIG_DIR / "models.json"
    """The model catalogue: context window and max output tokens per model."""
    max_messages: int = Field(default=2048, ge=1)
    """Messages (chat, Messages API), input items (Responses API) or inputs (embeddings) in
    one request; more: 400 naming the parameter."""
    max_tools: int = Field(default=128, ge=0)
    """Tools one request may declare (OpenAI's own limit); more: 400."""
    max_model_name_chars: int = Field(default=256, ge=16)
    """A longer model name is refused with 400 before it is looked up or logged."""
    output_cap_margin: float = Field(default=2.0, ge=1)
    """A stream is cut once its text (about 4 characters a token) passes this many times the
    larger of the model's max output and the request's own limit: an upstream ignoring
    ``max_tokens``."""

    redis_timeout_seconds: float = Field(default=1.0, gt=0)
    """Connect and socket timeout for Redis: a dead Redis must fail fast, not hang requests.
    One attempt per command: a timed-out command is never sent twice."""
    redis_max_connections: int = Field(default=64, ge=1)
    """Connections to Redis per worker process (per node on a Cluster): the pool's bound."""
    redis_pool_timeout_seconds: float = Field(default=1.0, gt=0)
    """How long a command waits for a free connection when the pool is exhausted."""

    session_ttl_seconds: int = Field(default=3600, ge=60)
    """Default lifetime of a session; every successful turn slides it forward."""
    session_max_messages: int = Field(default=200, ge=2)
    session_max_tokens: int | None = Field(default=None, ge=1)
    """Estimated tokens (about 4 characters each) kept in a session's history; unset: no limit."""
    session_lock_timeout_seconds: float = Field(default=30.0, gt=0)
    """How long a turn waits for the previous turn on the same session before 409."""

    responses_ttl_seconds: int = Field(default=30 * 24 * 3600, ge=60)
    """How long a stored Responses API answer (``store``, the default) stays readable and
    continuable with ``previous_response_id``."""

    auth_enabled: bool = False
    """Require a client API key on every /v1 route. Off is for local use only (warned at start)."""
    api_keys_file: Path | None = None
    """A JSON keys file (``llm-gateway keys create`` writes it): ids, names, SHA-256 hashes."""
    api_keys: SecretStr | None = None
    """A JSON array of the same entries as the keys file, for a small list."""
    keys_refresh_seconds: float = Field(default=1.0, gt=0, le=60)
    """How often each process checks the key store for changes (admin API, ``llm-gateway
    keys``): a revoked key is refused everywhere within this time."""

    rate_limit_requests_per_minute: int | None = Field(default=None, ge=1)
    rate_limit_tokens_per_minute: int | None = Field(default=None, ge=1)
    """Defaults for every client (a key's own limits win); unset: unlimited."""
    rate_limit_store_down: Literal["fail_open", "fail_closed"] = "fail_open"
    """When Redis is down: admit through a per-process limiter, or answer 503."""
    rate_limit_fail_open_share: float = Field(default=0.5, gt=0, le=1)
    """While Redis is down (``fail_open``), each replica admits at most this share of every
    limit (at least 1 per period): N replicas admit at most N x share x limit."""
    rate_limit_lease_fraction: float = Field(default=0.01, ge=0, le=0.1)
    """Far from its limits, a client is admitted from a local lease of this share of each limit,
    without a Redis round trip per request (never beyond the limits); 0: every request asks."""

    cache_enabled: bool = True
    cache_ttl_seconds: float = Field(default=300.0, gt=0)
    cache_only_deterministic: bool = True
    """Cache only requests with temperature 0 (the default); off: every single-choice request."""
    cache_max_entries: int = Field(default=10_000, ge=1)
    """Size of the in-memory cache (the embedded default); Redis bounds itself by TTL."""

    tool_max_rounds: int = Field(default=5, ge=0)
    """Rounds of gateway tool calls in one chat turn before the loop stops the model."""
    tool_max_result_chars: int = Field(default=20_000, ge=100)
    """Tool results longer than this are cut, with a marker, before the model sees them."""

    log_prompts: bool = False
    """Put prompts and completions in the request log (off: only sizes and counts)."""

    tracing_enabled: bool = False
    """OpenTelemetry traces (a span per request, per provider attempt, tool call, cache use),
    exported over OTLP/HTTP. Off: no tracing code runs on the request path."""
    tracing_otlp_endpoint: str | None = None
    """Where spans go (e.g. ``http://otel-collector:4318/v1/traces``); unset: OpenTelemetry's
    own ``OTEL_EXPORTER_OTLP_*`` variables, else ``http://localhost:4318/v1/traces``."""
    tracing_sample_ratio: float = Field(default=1.0, ge=0, le=1)
    """Share of new traces recorded; a caller's sampled ``traceparent`` is always followed."""
    tracing_service_name: str = "llm-gateway"
