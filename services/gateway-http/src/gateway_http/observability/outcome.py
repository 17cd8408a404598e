"""What the HTTP exchange itself showed about a request (the route fills the rest in its
``RequestRecord``): read by the log line builder and the metrics."""

from __future__ import annotations

from dataclasses import dataclass

from gateway_core.domain.evolve import direct_init

UNMATCHED_ROUTE = "unmatched"
"""The route of a request no route handler matched (404/405 from the router)."""

STATUS_FAILED = 500
"""The app raised before it started a response."""
STATUS_CLIENT_GONE = 499
"""The request was cancelled (client gone, shutdown) before a response started (nginx's code)."""


@direct_init
@dataclass(frozen=True, slots=True)
class RequestOutcome:
    method: str
    route: str
    """A route template, or ``UNMATCHED_ROUTE``: never the raw path (it goes in ``path``)."""
    status: int
    latency_seconds: float
    """From the request's arrival to its last response byte (or to the abort or failure)."""
    aborted: bool
    """The response started but never finished: the client went away mid-stream (or the app
    failed after the headers were sent)."""
    path: str | None = None
    """The raw path, truncated; only for unmatched routes, and only for the log line."""
    first_byte_seconds: float | None = None
    """From arrival to the first body byte; for a stream, to its first event: the time to
    first token as the client sees it."""
