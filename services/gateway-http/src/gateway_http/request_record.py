"""What one request did, filled in by the route as it learns it and read once the response
has been sent (for the request log line and the metrics).

Routes get it with ``record_of(request)``; it lives in the ASGI scope's state, so pure ASGI
code (the log middleware) reads the same object.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from litestar.types import Scope

_STATE_KEY = "gateway_record"


@dataclass(slots=True)
class RequestRecord:
    route: str = ""
    """The route template (``/v1/sessions/{session_id}``), never the raw path: bounded labels."""
    key_id: str | None = None
    model: str | None = None
    provider: str | None = None
    stream: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: float = 0.0
    cache: str | None = None
    """``HIT``, ``MISS``, or ``None`` when the cache was not consulted."""
    tool_rounds: int = 0
    tool_runs: list[dict[str, Any]] = field(default_factory=list)
    upstream_seconds: float | None = None
    """Time spent waiting on the provider (summed over rounds and fallbacks)."""
    upstream_attempts: int = 0
    """Upstream calls made (every retry, failover and fallback included)."""
    upstream_retries: int = 0
    """Of those, extra attempts within a model group (not first attempts, not fallbacks)."""
    error_code: str | None = None
    rate_limited: bool = False
    aborted: bool = False
    """The client went away before a stream ended."""
    headers: dict[str, str] | None = None
    """Headers an error response must still carry (the rate-limit state after admission)."""
    correlation: dict[str, str] | None = None
    """Consumers' own correlation headers (x-session-id, X-Tenant-ID, ...): logged, never used."""
    prompt: Any = None
    completion: Any = None
    """Set only when prompt logging is switched on."""


def record_of(scope: Scope) -> RequestRecord:
    state = scope.setdefault("state", {})  # type: ignore[typeddict-item]
    record = state.get(_STATE_KEY)
    if record is None:
        record = state[_STATE_KEY] = RequestRecord()
    return record
