"""``GET /health`` (liveness) and ``GET /ready``, ``GET /health/ready`` (readiness)."""

from __future__ import annotations

from litestar import Response, get
from litestar.di import NamedDependency

from gateway_core import __version__
from gateway_http.health import HealthCheck, readiness


@get("/health")
async def health() -> dict:
    return {"status": "ok", "version": __version__}


@get(["/ready", "/health/ready"])
async def ready(health_checks: NamedDependency[tuple[HealthCheck, ...]]) -> Response:
    status, checks = await readiness(health_checks)
    code = 503 if status == "not_ready" else 200
    return Response({"status": status, "checks": checks, "version": __version__}, status_code=code)
