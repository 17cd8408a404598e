"""Closed-loop load with wrk (Debian's package) and bench/chat.lua; installs wrk if missing."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

_SCRIPT = Path(__file__).with_name("chat.lua")
_MARKER = "BENCH_JSON "


class WrkError(Exception):
    """wrk is missing and cannot be installed, or it did not produce its summary."""


@dataclass(frozen=True, slots=True)
class WrkResult:
    requests: int
    duration_s: float
    errors: dict[str, int]
    """Socket errors (connect, read, write, timeout) and ``status``: responses >= 400."""
    latency_ms: dict[str, float]

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


def ensure_wrk() -> str:
    """The wrk binary; installed from Debian's packages when absent (needs root)."""
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk not found: installing it with apt-get", flush=True)
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "wrk"]):
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise WrkError(f"{' '.join(command)} failed: {done.stderr.strip()[-500:]}")
    found = shutil.which("wrk")
    if not found:
        raise WrkError("apt-get installed wrk but it is not on PATH")
    return found


def run_wrk(
    url: str,
    body: bytes,
    *,
    core: int,
    connections: int,
    duration_s: float,
    authorization: str | None = None,
    anthropic_headers: bool = False,
    headers: Mapping[str, str] | None = None,
) -> WrkResult:
    env = {
        **os.environ,
        "BENCH_BODY": body.decode(),
        "BENCH_AUTHORIZATION": authorization or "",
        "BENCH_ANTHROPIC": "1" if anthropic_headers else "",
        "BENCH_HEADERS": "\n".join(f"{k}: {v}" for k, v in (headers or {}).items()),
    }
    command = [
        "taskset", "-c", str(core), ensure_wrk(), "-t1", f"-c{connections}",
        f"-d{max(1, round(duration_s))}s", "--timeout", "5s", "-s", str(_SCRIPT), url,
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=duration_s + 30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return _parse(output)


def _parse(output: str) -> WrkResult:
    line = next((ln for ln in output.splitlines() if ln.startswith(_MARKER)), None)
    if line is None:
        raise WrkError(f"wrk printed no summary:\n{output[-2000:]}")
    summary = json.loads(line[len(_MARKER) :])
    latency = {key: value / 1000 for key, value in summary["latency_us"].items()}
    return WrkResult(
        requests=summary["requests"],
        duration_s=summary["duration_us"] / 1e6,
        errors=summary["errors"],
        latency_ms=latency,
    )
