"""Request logs (one JSON line per request) and Prometheus metrics (``/metrics``).

Wiring: the CLI calls ``prepare_multiprocess_dir(workers)`` and passes
``logging_config(level)`` to uvicorn; ``create_app`` calls ``install_observability`` on the
built app and serves ``routes.metrics.prometheus_metrics`` with a ``gateway_metrics``
dependency.
"""

from gateway_http.observability.logs import configure_logging, logging_config, redact
from gateway_http.observability.metrics import (
    GatewayMetrics,
    model_names,
    prepare_multiprocess_dir,
)
from gateway_http.observability.middleware import install_observability, request_fields

__all__ = [
    "GatewayMetrics",
    "configure_logging",
    "install_observability",
    "logging_config",
    "model_names",
    "prepare_multiprocess_dir",
    "redact",
    "request_fields",
]
