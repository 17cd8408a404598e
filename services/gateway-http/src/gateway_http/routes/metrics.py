"""``GET /metrics``: Prometheus text exposition, open without a key (like ``/health``)."""

from __future__ import annotations

from litestar import Response, get
from litestar.di import NamedDependency

from gateway_http.observability.metrics import CONTENT_TYPE, GatewayMetrics


# In a thread: with several workers, rendering reads every worker's sample files.
@get("/metrics", sync_to_thread=True, include_in_schema=False)
def prometheus_metrics(gateway_metrics: NamedDependency[GatewayMetrics]) -> Response[bytes]:
    # The header given outright: Litestar would append a second charset to a text/ media type.
    return Response(
        gateway_metrics.render(), media_type=CONTENT_TYPE, headers={"content-type": CONTENT_TYPE}
    )
