"""Token usage of one model call."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from gateway_core.domain.evolve import direct_init
from gateway_core.domain.money import Money


@direct_init
@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    """Prompt tokens served from the vendor's prompt cache (a subset of ``prompt_tokens``)."""
    reasoning_tokens: int = 0
    """Completion tokens the model spent reasoning (a subset of ``completion_tokens``)."""
    cache_write_tokens: int = 0
    """Prompt tokens written to the vendor's prompt cache (Anthropic's cache_creation, a
    subset of ``prompt_tokens``)."""

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.cached_tokens + other.cached_tokens,
            self.reasoning_tokens + other.reasoning_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
        )


@direct_init
@dataclass(frozen=True, slots=True)
class UsageEvent:
    """One billed model call (or one streamed answer, aborted or not)."""

    key_id: str
    model: str
    provider: str
    usage: Usage
    cost_usd: Money
    timestamp: float
    cached: bool = False
    """Served from the gateway's response cache: no upstream call, no cost."""
    priced: bool = True
    """False when the price table knew no price for ``model`` (``cost_usd`` is then 0)."""

    @property
    def upstream_usage(self) -> Usage:
        """The tokens an upstream processed for this event: none for a response-cache hit."""
        return Usage() if self.cached else self.usage

    @property
    def day(self) -> date:
        """The UTC calendar day the event belongs to, the unit usage is totalled by."""
        return datetime.fromtimestamp(self.timestamp, tz=UTC).date()
