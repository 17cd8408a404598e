"""What one request did, read once the response has been sent (for the request log line and
the metrics) and by the error handler (the rate-limit headers an error still carries).

Routes get it with ``record_of(request)``; it lives in the ASGI scope's state, so pure ASGI
code (the log middleware) reads the same object. A chat route hands it its turn once
(``record.turn = turn``); whatever the turn did is read from the turn's outcome when it is
needed (``rate_limit_headers()``, ``close()``), so no route copies fields one by one.
"""

from __future__ import annotations

from asyncio import Task
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from litestar.types import Scope

from gateway_core.domain.money import Money
from gateway_core.use_cases.chat_turn import TurnOutcome

_STATE_KEY = "gateway_record"


class HasOutcome(Protocol):
    """A chat turn (``ChatTurn``): what it did so far, as an immutable outcome."""

    @property
    def outcome(self) -> TurnOutcome: ...

    @property
    def settling(self) -> Task[Any] | None: ...


_NO_HEADERS: Mapping[str, str] = {}


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
    cost_usd: Money = Money.ZERO
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
    turn: HasOutcome | None = None
    """The chat turn the request drove, if any: read by ``close`` and the error handler."""
    correlation: dict[str, str] | None = None
    """Consumers' own correlation headers (x-session-id, X-Tenant-ID, ...): logged, never used."""
    prompt: Any = None
    completion: Any = None
    """Set only when prompt logging is switched on."""

    def rate_limit_headers(self) -> Mapping[str, str]:
        """The rate-limit state after admission: an error response still carries it."""
        return self.turn.outcome.rate_limit_headers if self.turn is not None else _NO_HEADERS

    def settling(self) -> Task[Any] | None:
        """The turn's accounting, still running in the background (a client that left before
        the turn settled), or ``None``: read the record once it is done."""
        task = self.turn.settling if self.turn is not None else None
        return task if task is not None and not task.done() else None

    def close(self) -> None:
        """Take in the turn's outcome (once the response is done): what it cost, what ran."""
        turn, self.turn = self.turn, None
        if turn is not None:
            self.note(turn.outcome)

    def close_with(self, outcome: TurnOutcome) -> None:
        """The turn is over and ``outcome`` is its final account (a JSON answer's, read once
        for its headers): taken in now, so that ``close`` does not build it again."""
        self.turn = None
        self.note(outcome)

    def note(self, outcome: TurnOutcome) -> None:
        response = outcome.response
        if response is not None:
            self.provider = response.provider or None
            self.completion = response.choices[0].message if response.choices else None
            usage = response.usage
            self.prompt_tokens = usage.prompt_tokens
            self.completion_tokens = usage.completion_tokens
            self.cached_tokens = usage.cached_tokens
        self.cost_usd = outcome.cost_usd
        self.cache = outcome.cache
        self.tool_rounds = outcome.tool_rounds
        self.aborted = self.aborted or outcome.aborted
        self.upstream_seconds = outcome.upstream_seconds
        self.tool_runs = [{"name": run.name, "success": run.success} for run in outcome.tool_runs]


def record_of(scope: Scope) -> RequestRecord:
    state = scope.setdefault("state", {})
    record = state.get(_STATE_KEY)
    if record is None:
        record = state[_STATE_KEY] = RequestRecord()
    return record
