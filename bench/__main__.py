"""``uv run python -m bench run [--quick] [--long] [--slow] [--no-anchors] [--scenario ...]``.

Runs the mock upstream alone ("direct") and the gateway in each scenario, in one run, prints
a table and writes the results as JSON (default ``bench/results/<UTC time>.json``). Exits 1
when any scenario failed (no request served, socket errors, answers >= 400, a wrong answer),
so ``--quick`` (about 15 s) serves CI as a smoke test. See docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from bench import latency_ratio, report
from bench.long_run import run_long
from bench.probe import ProbeError
from bench.processes import StartError, compile_bytecode, pinned_redis
from bench.runner import Options, ScenarioFailed, ScenarioPending, mock_upstream, run_scenario
from bench.scenarios import BENCH_DIR, BY_NAME, CATALOGUE, select
from bench.slow_run import run_slow
from bench.slow_run import table as slow_table
from bench.slow_streams import SlowLoad
from bench.wrk import WrkError, ensure_wrk

_SLOW_DEFAULTS = SlowLoad()
_FAILURES = (ScenarioFailed, StartError, WrkError, ProbeError, OSError, TimeoutError, ValueError)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list the scenarios")
    run = commands.add_parser("run", help="run the benchmark")
    run.add_argument("--quick", action="store_true",
                     help="CI smoke: direct, echo and openai non-stream, 2 s each")
    run.add_argument("--long", action="store_true", help="add the long run (memory over time)")
    run.add_argument("--scenario", action="append", help="run only these (repeat or a,b,c)")
    run.add_argument("--no-anchors", action="store_true",
                     help="leave out Portkey and LiteLLM (they are installed on first use)")
    run.add_argument("--slow", action="store_true",
                     help="add the slow-streams scenario (thousands of paced streams open)")
    run.add_argument("--slow-only", action="store_true", help="run only the slow streams")
    run.add_argument("--slow-streams", type=int, default=_SLOW_DEFAULTS.streams)
    run.add_argument("--slow-chunks", type=int, default=_SLOW_DEFAULTS.chunks)
    run.add_argument("--slow-interval-ms", type=float, default=_SLOW_DEFAULTS.interval_ms)
    run.add_argument("--slow-first-token-ms", type=float, default=_SLOW_DEFAULTS.first_token_ms)
    run.add_argument("--slow-window", type=float, default=SlowLoad.window_s,
                     help="seconds measured with every stream open")
    run.add_argument("--out", type=Path, help="results file (JSON)")
    run.add_argument("--duration", type=float, help="seconds of wrk load per scenario")
    run.add_argument("--connections", type=int, default=32, help="wrk connections")
    run.add_argument("--rate", type=float, default=100.0, help="paced probe, requests/s")
    run.add_argument("--paced-count", type=int, help="paced probe, requests per scenario")
    run.add_argument("--side-by-side-rounds", type=int, default=4,
                     help="rounds of the latency measured side by side (0: none); run when "
                          "portkey-json / portkey-stream are among the scenarios")
    run.add_argument("--side-by-side-block", type=int, default=300,
                     help="paced requests to each target a round, side by side")
    run.add_argument("--long-scenario", default="openai-json", choices=sorted(BY_NAME))
    run.add_argument("--long-requests", type=int, default=200_000)
    return parser


def _layout() -> tuple[tuple[int, ...], int]:
    """Gateway on the first core (workers spread from there), mock and load on the second."""
    cores = sorted(os.sched_getaffinity(0))
    load_core = cores[1] if len(cores) > 1 else cores[0]
    return tuple(cores), load_core


def _options(args: argparse.Namespace, log_dir: Path) -> Options:
    gateway_cores, load_core = _layout()
    return Options(
        duration_s=args.duration or (2.0 if args.quick else 10.0),
        warmup_s=0.0 if args.quick else 2.0,
        connections=args.connections,
        rate=args.rate,
        paced_count=args.paced_count or (100 if args.quick else 1000),
        gateway_cores=gateway_cores,
        load_core=load_core,
        log_dir=log_dir,
    )


def _run_one(scenario, options: Options, mock_port: int) -> dict:
    started = time.monotonic()
    result: dict = {"name": scenario.name, "description": scenario.description,
                    "stream": scenario.stream, "workers": scenario.workers,
                    "baseline": scenario.baseline}
    try:
        result.update(run_scenario(scenario, options, mock_port), status="ok")
    except ScenarioPending as pending:
        result.update(status="pending", reason=str(pending))
    except _FAILURES as error:
        result.update(status="failed", reason=f"{type(error).__name__}: {error}")
    print(f"{scenario.name}: {result['status']} ({time.monotonic() - started:.1f} s)", flush=True)
    return result


def _run(args: argparse.Namespace) -> int:
    names = [n for value in args.scenario or [] for n in value.split(",") if n]
    scenarios = [] if args.slow_only else select(names, args.quick)
    if args.no_anchors:
        scenarios = [s for s in scenarios if not s.is_anchor]
    ensure_wrk()
    compile_bytecode()
    log_dir = Path(tempfile.mkdtemp(prefix="llm-gateway-bench-"))
    options = _options(args, log_dir)
    os.sched_setaffinity(0, {options.load_core})  # the paced probe shares the mock's core
    print(f"logs: {log_dir}; gateway on cores {options.gateway_cores[:1]} (workers spread over "
          f"{options.gateway_cores}), mock + wrk + probe on core {options.load_core}", flush=True)
    document: dict = {
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "mode": "quick" if args.quick else "full",
        "machine": report.machine(),
        "options": {k: str(v) if isinstance(v, Path) else v
                    for k, v in dataclasses.asdict(options).items()},
    }
    with pinned_redis(options.load_core, log_dir) as redis_url:
        document["redis"] = redis_url
        print(f"redis for the controls: {redis_url}", flush=True)
        with mock_upstream(options) as mock_port:
            results = [_run_one(scenario, options, mock_port) for scenario in scenarios]
            side_by_side = _side_by_side(args, {s.name for s in scenarios}, options, mock_port)
            if side_by_side:
                document["side_by_side"] = side_by_side
            if args.long:
                document["long"] = _long(args, options, mock_port)
        if args.slow or args.slow_only:
            load = SlowLoad(streams=args.slow_streams, chunks=args.slow_chunks,
                            interval_ms=args.slow_interval_ms,
                            first_token_ms=args.slow_first_token_ms, window_s=args.slow_window)
            targets = tuple(t for t in ("direct", "gateway", "gateway-controls", "portkey")
                            if not (args.no_anchors and t == "portkey"))
            document["slow_streams"] = run_slow(options, load, targets)
    report.add_derived(results)
    document["load_average_1m_at_end"] = os.getloadavg()[0]
    document["scenarios"] = results
    if results:
        print(report.table(results, options.rate))
    document["anchors"] = report.anchor_comparison(results, document.get("side_by_side"))
    if document["anchors"]:
        print("\nRatios to Portkey, measured in this run (x = ours / Portkey's):")
        print(report.anchor_table(document["anchors"]))
    if "side_by_side" in document:
        print("\nLatency side by side: each target in turn, in blocks of paced requests, in one "
              "window (the machine's drift falls on all alike):")
        for kind, result in document["side_by_side"].items():
            if result.get("status") == "failed":
                print(f"{kind}: failed: {result['reason']}")
            else:
                print("\n".join(latency_ratio.lines(result)))
    out = args.out or BENCH_DIR / "results" / f"{document['started_at'].replace(':', '')}.json"
    report.write_json(out, document)
    if "slow_streams" in document:
        print("\n" + slow_table(document["slow_streams"]))
    print(f"results: {out}")
    failed = [r["name"] for r in results if r["status"] == "failed"]
    slow = document.get("slow_streams", {}).get("targets", {})
    failed += [f"slow-{name}" for name, r in slow.items() if r.get("status") == "failed"
               or (name.startswith("gateway") and _lost_streams(r))]  # fmt: skip
    if document.get("long", {}).get("status") == "failed":
        failed.append("long")
    failed += [f"side-by-side-{kind}" for kind, r in document.get("side_by_side", {}).items()
               if r.get("status") == "failed"]  # fmt: skip
    if failed:
        print(f"FAILED: {', '.join(failed)}; process logs in {log_dir}", file=sys.stderr)
        return 1
    shutil.rmtree(log_dir, ignore_errors=True)
    return 0


def _side_by_side(
    args: argparse.Namespace, names: set[str], options: Options, mock_port: int
) -> dict:
    """The added latency of ours and Portkey's measured in turn (``bench.latency_ratio``), for
    each kind whose Portkey scenario is in the run; a failure is reported, not raised."""
    measured: dict = {}
    if args.side_by_side_rounds <= 0:
        return measured
    for kind, stream in (("json", False), ("stream", True)):
        if f"portkey-{kind}" not in names:
            continue
        started = time.monotonic()
        try:
            measured[kind] = latency_ratio.measure(
                options, mock_port, stream, args.side_by_side_rounds, args.side_by_side_block
            )
            status = "ok"
        except _FAILURES as error:
            measured[kind] = {"status": "failed", "reason": f"{type(error).__name__}: {error}"}
            status = "failed"
        print(f"side by side, {kind}: {status} ({time.monotonic() - started:.1f} s)", flush=True)
    return measured


def _lost_streams(result: dict) -> bool:
    """Streams the gateway refused or failed: its figures would cover only the others."""
    return bool(result.get("failed_connections") or result.get("bad_status"))


def _long(args: argparse.Namespace, options: Options, mock_port: int) -> dict:
    try:
        result = run_long(BY_NAME[args.long_scenario], options, mock_port, args.long_requests)
    except _FAILURES as error:
        return {"status": "failed", "reason": f"{type(error).__name__}: {error}"}
    print(f"long run: {result['requests']:,} requests, RSS "
          f"{result['rss_after_first_segment_mb']:.1f} -> {result['rss_at_end_mb']:.1f} MB "
          f"({'flat' if result['flat'] else 'GROWING'})")
    return {"status": "ok", **result}


def _terminate(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks that stop children


def main() -> int:
    args = _parser().parse_args()
    if args.command == "list":
        for scenario in CATALOGUE:
            print(f"{scenario.name:23} {'quick ' if scenario.quick else '      '}"
                  f"{scenario.description}")
        return 0
    signal.signal(signal.SIGTERM, _terminate)
    return _run(args)


if __name__ == "__main__":
    sys.exit(main())
