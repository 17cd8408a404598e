"""The four deadlines of one upstream call, and the byte cap on its answer.

A dead upstream must fail in seconds while a long generation stays alive, so one number
cannot do: ``connect`` bounds getting a connection (a blackholed host), ``first_byte`` the
wait for a stream's response head (an upstream that accepted and went quiet), ``idle`` the
silence between two pieces of a stream (one that stalled mid-answer), ``total`` the whole
exchange (a non-streamed answer's head *is* its whole answer, so ``total`` is the only bound
that can tell a slow generation from a dead one there). ``max_body_bytes`` cuts an answer that
grew past any plausible size (an upstream ignoring ``max_tokens``).

Built once per provider by the composition root (``provider_config``: per-provider fields,
then the ``LLM_GATEWAY_UPSTREAM_*`` defaults) and turned into ``http1.Timeouts`` once per
adapter, so the request path does no arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from gateway_adapters.http1 import Timeouts


@dataclass(frozen=True, slots=True)
class UpstreamDeadlines:
    connect: float = 3.0
    first_byte: float = 60.0
    idle: float = 30.0
    total: float = 600.0
    max_body_bytes: int | None = None

    @classmethod
    def legacy(cls, timeout: float, connect_timeout: float) -> UpstreamDeadlines:
        """What an adapter's old ``timeout`` / ``connect_timeout`` meant: ``timeout`` bounds a
        whole answer and every wait of a stream."""
        return cls(connect_timeout, timeout, timeout, timeout)

    def answer(self) -> Timeouts:
        """A response read whole: connect, then everything within ``total``."""
        return Timeouts(connect=self.connect, total=self.total, max_body_bytes=self.max_body_bytes)

    def stream(self) -> Timeouts:
        """A response read as a stream: its head within ``first_byte``, no gap longer than
        ``idle``, the whole within ``total``."""
        return Timeouts(
            connect=self.connect, total=self.total, first_byte=min(self.first_byte, self.total),
            idle=min(self.idle, self.total), max_body_bytes=self.max_body_bytes,
        )  # fmt: skip

    def httpx_timeout(self) -> httpx.Timeout:
        """For the httpx-based adapters (Ollama): httpx bounds each read, not a head or a
        whole; the adapter adds ``first_byte`` and ``total`` around it."""
        return httpx.Timeout(self.idle, connect=self.connect, pool=self.connect)
