"""The tracing port: the core marks its own steps as spans without knowing any tracing library.

Provider attempts, tool calls and cache uses are traced by wrapping their ports in the
adapters (``gateway_adapters.tracing``); a step that is the core's own (admission) opens a span
through this port. ``NO_TRACER`` does nothing, so an untraced gateway pays one attribute
lookup and an empty ``with``.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any, Protocol


class StepTracer(Protocol):
    def span(self, name: str) -> AbstractContextManager[Any]:
        """A span named ``name``, a child of the current one, for the ``with`` block."""
        ...


_NO_SPAN = nullcontext()  # reusable: it holds no state


class _NoTracer:
    def span(self, name: str) -> AbstractContextManager[Any]:
        return _NO_SPAN


NO_TRACER: StepTracer = _NoTracer()
