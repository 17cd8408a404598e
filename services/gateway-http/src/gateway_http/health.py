"""Liveness and readiness. Readiness runs each dependency's check concurrently.

``ready``: every check passes. ``degraded``: only non-critical checks fail (the gateway still
serves chat). ``not_ready``: a critical check fails; the answer is then 503.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

CHECK_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class HealthCheck:
    name: str
    check: Callable[[], Awaitable[dict]]
    """Returns details; raises on failure."""
    critical: bool = True


async def _run(check: HealthCheck) -> dict:
    try:
        details = await asyncio.wait_for(check.check(), CHECK_TIMEOUT_SECONDS)
    except Exception as error:  # noqa: BLE001 - any failure is reported, none escapes
        return {"status": "fail", "critical": check.critical, "error": type(error).__name__}
    return {"status": "ok", "critical": check.critical, **details}


async def readiness(checks: Sequence[HealthCheck]) -> tuple[str, dict[str, dict]]:
    results = await asyncio.gather(*(_run(check) for check in checks))
    report = {check.name: result for check, result in zip(checks, results, strict=True)}
    failing = [r for r in results if r["status"] != "ok"]
    if any(r["critical"] for r in failing):
        return "not_ready", report
    return ("degraded" if failing else "ready"), report
