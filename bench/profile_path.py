"""Profile and count the CPU of the gateway's request path, for stable A/B comparisons.

``python -m bench run`` measures throughput with wrk: right for the published figures, too noisy
on a shared machine to see a 5% change. This drives one gateway process (core 0) from a small
raw-socket client (core 1, with the mock upstream) and measures only the gateway process's own
CPU time over a fixed number of requests, so other work on the machine shows much less:

    uv run python -m bench.profile_path --scenario realistic-json --requests 20000
    uv run python -m bench.profile_path --scenario openai-json --profile /tmp/openai.prof
    uv run python -m bench.profile_path --scenario openai-json --rounds 5   # the spread

``--profile`` writes a cProfile of the measured requests (read it with ``python -m pstats``
or snakeviz); its figures are inflated by the profiler, read them as shares, not as times.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench import payloads, processes
from bench.probe import ConnectionPool
from bench.scenarios import BY_NAME, Scenario, gateway_env

HOST = "127.0.0.1"


def _serve(
    port: int,
    result_path: str,
    profile_path: str | None,
    on_start: Callable[[], None] | None = None,
    on_stop: Callable[[], None] | None = None,
) -> None:
    """The gateway, as ``cli serve`` runs it, in this process; SIGUSR1 starts the measure,
    SIGUSR2 ends it and writes the CPU seconds (and the profile) out. ``on_start`` and
    ``on_stop``: a caller's own measure, started and ended with it."""
    import cProfile
    import math

    import uvicorn

    from gateway_http.observability.logs import logging_config
    from gateway_http.settings import Settings

    settings = Settings()
    profiler = cProfile.Profile() if profile_path else None
    marks: dict[str, float] = {}
    gc_pauses_path = os.environ.get(GC_PAUSES_ENV)
    gc_pauses = _record_gc_pauses(marks) if gc_pauses_path else None

    def start(*_: object) -> None:
        if on_start is not None:
            on_start()
        marks["cpu"] = _cpu_seconds()
        if profiler is not None:
            profiler.enable()

    def stop(*_: object) -> None:
        cpu = _cpu_seconds() - marks.pop("cpu")
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(profile_path)
        if gc_pauses_path and gc_pauses is not None:  # before the CPU file its reader waits on
            Path(gc_pauses_path).write_text("".join(gc_pauses))
            gc_pauses.clear()
        if on_stop is not None:  # before the CPU file its reader waits on
            on_stop()
        Path(result_path).write_text(str(cpu))

    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, stop)
    kwargs: dict = {}
    try:  # the guarded protocol, as cli serve runs it (older commits have none)
        import gateway_http.server_limits  # noqa: F401

        kwargs["http"] = "gateway_http.server_limits:GuardedHttpToolsProtocol"
    except ImportError:
        pass
    uvicorn.run(
        "gateway_http.app:create_app", factory=True, host=HOST, port=port,
        log_config=logging_config(settings.log_level), loop="auto",
        timeout_keep_alive=math.ceil(getattr(settings, "server_keep_alive_seconds", 5)),
        log_level=settings.log_level, access_log=False, proxy_headers=True,
        server_header=False, **kwargs,
    )  # fmt: skip


GC_PAUSES_ENV = "BENCH_GC_PAUSES"


def _record_gc_pauses(marks: dict[str, float]) -> list[str]:
    """Each cycle collection inside the measured window (while ``marks`` holds its start),
    kept in memory, not written during it: generation, milliseconds, objects collected
    (what the collector costs the chunks it holds up)."""
    import gc

    pauses: list[str] = []
    began: list[int] = [0]

    def callback(phase: str, info: dict) -> None:
        if phase == "start":
            began[0] = time.perf_counter_ns()
        elif "cpu" in marks:
            elapsed = (time.perf_counter_ns() - began[0]) / 1e6
            pauses.append(f"{info['generation']} {elapsed:.3f} {info['collected']}\n")

    gc.callbacks.append(callback)
    return pauses


def summarise_gc_pauses(path: Path) -> str:
    lines = path.read_text().split("\n") if path.exists() else []
    pauses = [line.split() for line in lines if line]
    path.unlink(missing_ok=True)
    if not pauses:
        return "gc: no collection in the window"
    parts = []
    for generation in "012":
        times = [float(ms) for gen, ms, _ in pauses if gen == generation]
        if times:
            parts.append(f"gen{generation} {len(times)} x (max {max(times):.1f} ms, "
                         f"total {sum(times):.0f} ms)")
    return "gc: " + ", ".join(parts)


def _cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


async def _drive(port: int, raw: bytes, count: int, concurrency: int) -> None:
    pool = ConnectionPool(HOST, port)
    remaining = count

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            sample = await pool.request(raw)
            if sample.status != 200:
                raise SystemExit(f"answer {sample.status}: {sample.body[:300]!r}")

    try:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    finally:
        pool.close()


@dataclass(frozen=True, slots=True)
class MockAndRequest:
    """The mock upstream started on core 1, and what a measured gateway of a scenario needs."""

    log_dir: Path
    env: dict[str, str]
    """This process's environment, with ``bench`` importable (the gateway's, before its own)."""
    mock: processes.Child
    mock_port: int
    gateway_port: int
    """Free, for the gateway to listen on."""
    request: bytes
    """The scenario's request, as the client writes it to the gateway."""


def start_mock(scenario: Scenario, log_prefix: str) -> MockAndRequest:
    """The mock on core 1 (the caller stops it: ``processes.stop``), and the rest."""
    headers = {"Authorization": scenario.authorization} if scenario.authorization else {}
    log_dir = Path(tempfile.mkdtemp(prefix=log_prefix))
    mock_port, gateway_port = processes.free_port(), processes.free_port()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    mock = processes.start("mock", [sys.executable, "-m", "bench.mock_upstream", "--port",
                                    str(mock_port)], [1], env, log_dir)  # fmt: skip
    request = payloads.raw_post(HOST, gateway_port, scenario.path, scenario.body, headers)
    return MockAndRequest(log_dir, env, mock, mock_port, gateway_port, request)


def start_measured(
    port: int, result: Path, profile: str, env: dict[str, str], log_dir: Path
) -> processes.Child:
    """The gateway as ``_serve`` runs it, on core 0: SIGUSR1 starts the measure, SIGUSR2 ends
    it and writes the CPU seconds to ``result`` (and a cProfile to ``profile``, if given)."""
    return processes.start(
        "gateway", [sys.executable, "-m", "bench.profile_path", "--serve",
                    str(port), str(result), profile],
        [0], env, log_dir,
    )  # fmt: skip


def measured_cpu(result: Path) -> float:
    """The CPU seconds the gateway wrote after SIGUSR2 (waits up to 10 s for them)."""
    for _ in range(200):
        if result.exists() and result.read_text():
            break
        time.sleep(0.05)
    cpu = float(result.read_text())
    result.unlink()
    return cpu


def print_spread(name: str, figures: list[float]) -> None:
    if len(figures) > 1:
        print(f"{name}: median {statistics.median(figures):.1f} us, "
              f"min {min(figures):.1f}, max {max(figures):.1f}")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="openai-json")
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--warmup", type=int, default=3_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--profile", help="write a cProfile of the last round here")
    parser.add_argument("--py-spy", help="sample the last round with py-spy (raw format) here")
    parser.add_argument("--serve", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        port, result, profile = args.serve
        _serve(int(port), result, profile or None)
        return 0

    scenario = BY_NAME[args.scenario]
    bench = start_mock(scenario, "profile-path-")
    log_dir, env, mock, mock_port = bench.log_dir, bench.env, bench.mock, bench.mock_port
    gateway_port, raw = bench.gateway_port, bench.request
    figures = []
    services = contextlib.ExitStack()
    try:
        services.enter_context(processes.pinned_redis(1, log_dir))  # the controls' Redis
        processes.wait_for_port(mock, mock_port)
        for round_ in range(args.rounds):
            result = log_dir / "cpu.txt"
            profile = args.profile if args.profile and round_ == args.rounds - 1 else ""
            gateway_env_ = {**env, **gateway_env(scenario, mock_port)}
            gateway = start_measured(gateway_port, result, profile, gateway_env_, log_dir)
            try:
                processes.wait_for_port(gateway, gateway_port)
                asyncio.run(_drive(gateway_port, raw, args.warmup, args.concurrency))
                gateway.process.send_signal(signal.SIGUSR1)
                spy = None
                if args.py_spy and round_ == args.rounds - 1:
                    spy = subprocess.Popen(
                        ["py-spy", "record", "--pid", str(gateway.pid), "--format", "raw",
                         "--rate", "500", "--nonblocking", "--output", args.py_spy],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                    )  # fmt: skip
                time.sleep(0.2)
                wall = time.perf_counter()
                asyncio.run(_drive(gateway_port, raw, args.requests, args.concurrency))
                wall = time.perf_counter() - wall
                gateway.process.send_signal(signal.SIGUSR2)
                if spy is not None:
                    spy.send_signal(signal.SIGINT)
                    spy.wait(30)
                cpu = measured_cpu(result)
            finally:
                processes.stop(gateway)
            per_request_us = cpu / args.requests * 1e6
            figures.append(per_request_us)
            print(f"{scenario.name}: {per_request_us:.1f} us CPU/request, "
                  f"{args.requests / wall:.0f} req/s", flush=True)  # fmt: skip
    except subprocess.SubprocessError as error:
        print(error, file=sys.stderr)
        return 1
    finally:
        processes.stop(mock)
        services.close()
    print_spread(scenario.name, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
