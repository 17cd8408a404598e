"""CPU per relayed chunk of the gateway's slow streams, for A/B comparisons and profiles.

``python -m bench run --slow-only`` measures the whole scenario (the direct baseline, both
gateway configurations, the anchors). This runs one gateway process (core 0, as
``profile_path`` serves it) against the paced mock (core 1, with the client) and reports, per
round, the gateway process's own CPU per chunk delivered over the measured window and each
chunk's delay from the mock's write to the client's read (the direct baseline's is about a
millisecond at p99 on an idle core; what is above it is the gateway's):

    uv run python -m bench.profile_slow --rounds 3                       # 1,000 streams
    uv run python -m bench.profile_slow --streams 200 --rounds 3         # a load the core carries
    uv run python -m bench.profile_slow --scenario realistic-stream --profile /tmp/slow.prof

``--profile`` writes a cProfile of the last round's window (read it as shares: the profiler
inflates the times several fold).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import uvloop

from bench import processes, slow_streams
from bench.payloads import openai_body, raw_post
from bench.profile_path import (
    GC_PAUSES_ENV,
    measured_cpu,
    print_spread,
    start_measured,
    summarise_gc_pauses,
)
from bench.scenarios import BY_NAME, gateway_env
from bench.slow_run import capacity_env, raise_file_limit

HOST = "127.0.0.1"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scenario", default="openai-stream", choices=["openai-stream", "realistic-stream"]
    )
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--chunks", type=int, default=50)
    parser.add_argument("--interval-ms", type=float, default=20.0)
    parser.add_argument("--first-token-ms", type=float, default=200.0)
    parser.add_argument("--window", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--profile", help="write a cProfile of the last round's window here")
    parser.add_argument("--gc", action="store_true",
                        help="print the gateway's cycle collections in each window")
    args = parser.parse_args()

    load = slow_streams.SlowLoad(
        streams=args.streams,
        chunks=args.chunks,
        interval_ms=args.interval_ms,
        first_token_ms=args.first_token_ms,
        window_s=args.window,
    )
    raise_file_limit(load.streams)
    os.sched_setaffinity(0, {1})  # the client shares the mock's core
    scenario = BY_NAME[args.scenario]
    headers = {"Authorization": scenario.authorization} if scenario.authorization else {}
    log_dir = Path(tempfile.mkdtemp(prefix="profile-slow-"))
    mock_port, gateway_port = processes.free_port(), processes.free_port()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    mock = processes.start("paced-mock", [
        sys.executable, "-m", "bench.mock_upstream", "--port", str(mock_port),
        "--pace-chunks", str(load.chunks), "--pace-interval-ms", str(load.interval_ms),
        "--pace-first-token-ms", str(load.first_token_ms),
    ], [1], env, log_dir)  # fmt: skip
    raw = raw_post(HOST, gateway_port, "/v1/chat/completions",
                   openai_body(scenario.model, True), headers)  # fmt: skip
    figures: list[float] = []
    gc_pauses = log_dir / "gc.txt"
    if args.gc:
        env[GC_PAUSES_ENV] = str(gc_pauses)
    services = contextlib.ExitStack()
    try:
        services.enter_context(processes.pinned_redis(1, log_dir))  # the controls' Redis
        processes.wait_for_port(mock, mock_port)
        for round_ in range(args.rounds):
            result = log_dir / "cpu.txt"
            profile = args.profile if args.profile and round_ == args.rounds - 1 else ""
            gateway_env_ = {
                **env,
                **gateway_env(scenario, mock_port),
                **capacity_env(load.streams),
            }
            gateway = start_measured(gateway_port, result, profile, gateway_env_, log_dir)

            def on_window(mark: str, gateway: processes.Child = gateway) -> None:
                start = mark == "start"
                gateway.process.send_signal(signal.SIGUSR1 if start else signal.SIGUSR2)

            try:
                processes.wait_for_port(gateway, gateway_port)
                tally = uvloop.run(slow_streams.hold(HOST, gateway_port, raw, load, on_window))
                cpu = measured_cpu(result)
            finally:
                processes.stop(gateway)
            if not tally.chunks:
                print("no chunk arrived in the measured window", file=sys.stderr)
                return 1
            per_chunk_us = cpu / tally.chunks * 1e6
            figures.append(per_chunk_us)
            delay = slow_streams.percentiles_ms(tally.delays_ns)
            print(f"{scenario.name}: {per_chunk_us:.1f} us CPU/chunk, "
                  f"{tally.chunks / load.window_s:,.0f} chunks/s, busy {cpu / load.window_s:.2f}, "
                  f"chunk delay p50 {delay['p50']:.2f} p99 {delay['p99']:.2f} ms, "
                  f"failed {tally.failed + tally.bad_status}", flush=True)  # fmt: skip
            first = slow_streams.percentiles_ms(tally.first_delays_ns)
            later = slow_streams.percentiles_ms(tally.later_delays_ns)
            print(f"  first chunks p50 {first['p50']:.2f} p99 {first['p99']:.2f} ms, "
                  f"later chunks p50 {later['p50']:.2f} p99 {later['p99']:.2f} ms", flush=True)
            if args.gc:
                print(summarise_gc_pauses(gc_pauses), flush=True)
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
