"""Try a route's targets in order: the one place a failed upstream call falls over.

Chat (complete and stream) and embeddings call through ``Fallback.first_success``. A
retryable failure (``ProviderError.retryable``, or a provider without a key) moves to the next
target; the last target's failure, or one that is not retryable, is raised. Every failed
``ProviderError`` is reported to ``on_provider_error`` (for metrics), the ones a later target
rescued too. Retries with backoff and per-deployment health belong here, so that every route
gets them at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from gateway_core.domain.routing import Target
from gateway_core.errors import ProviderError, ProviderNotConfiguredError

T = TypeVar("T")


def _ignore(_error: ProviderError) -> None:
    return None


class Fallback:
    def __init__(self, on_provider_error: Callable[[ProviderError], None] | None = None) -> None:
        self._on_provider_error = on_provider_error or _ignore

    def report(self, error: ProviderError) -> None:
        """A failure after the call was committed to a target (a stream's later chunks)."""
        self._on_provider_error(error)

    async def first_success(
        self, targets: Sequence[Target], attempt: Callable[[Target], Awaitable[T]]
    ) -> T:
        """``attempt(target)`` for each target in turn until one succeeds."""
        last = len(targets) - 1
        for position, target in enumerate(targets):
            try:
                return await attempt(target)
            except (ProviderError, ProviderNotConfiguredError) as error:
                if isinstance(error, ProviderError):
                    self._on_provider_error(error)
                if position == last or not error.retryable:
                    raise
        raise AssertionError("unreachable: a route has at least one target")
