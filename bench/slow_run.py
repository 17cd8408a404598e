"""The slow-streams scenario run against the mock alone, the gateway and the anchors.

See ``bench/slow_streams.py`` for what is measured. Every target runs against the same
paced mock, one after the other, in the same run; the figures are reported next to
Portkey's as ratios.
"""

from __future__ import annotations

import os
import resource
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict

import uvloop

from bench import processes, runner, slow_streams
from bench.payloads import openai_body, raw_post
from bench.scenarios import BENCH_DIR, BY_NAME, Scenario

SLOW_TARGETS = ("direct", "gateway", "gateway-controls", "portkey")
_SCENARIO_OF = {
    "gateway": "openai-stream",
    "gateway-controls": "realistic-stream",
    "portkey": "portkey-stream",
}


@contextmanager
def paced_mock(options: runner.Options, load: slow_streams.SlowLoad) -> Iterator[int]:
    port = processes.free_port()
    command = [
        sys.executable, "-m", "bench.mock_upstream", "--port", str(port),
        "--pace-chunks", str(load.chunks), "--pace-interval-ms", str(load.interval_ms),
        "--pace-first-token-ms", str(load.first_token_ms),
    ]
    env = {**os.environ, "PYTHONPATH": str(BENCH_DIR.parent)}
    child = processes.start("paced-mock", command, [options.load_core], env, options.log_dir)
    try:
        processes.wait_for_port(child, port)
        yield port
    finally:
        processes.stop(child)


def raise_file_limit(streams: int) -> None:
    """Each stream holds a client socket here and two in the target: lift the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, max(soft, 4 * streams + 1024))
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def _measure(port: int, pids: list[int], headers: dict[str, str], model: str,
             load: slow_streams.SlowLoad) -> dict:
    raw = raw_post(runner.HOST, port, "/v1/chat/completions", openai_body(model, True), headers)
    rss_before = processes.rss_mb(pids) if pids else 0.0
    marks: dict[str, float] = {}

    def on_window(mark: str) -> None:
        if pids:
            marks[f"cpu_{mark}"] = processes.cpu_seconds(pids)
            if mark == "start":
                marks["rss_open"] = processes.rss_mb(pids)

    tally = uvloop.run(slow_streams.hold(runner.HOST, port, raw, load, on_window))
    if tally.chunks == 0:
        raise runner.ScenarioFailed("no chunk arrived in the measured window")
    result: dict = {
        "chunks": tally.chunks, "chunks_per_s": tally.chunks / load.window_s,
        "streams_completed": tally.completed, "failed_connections": tally.failed,
        "bad_status": tally.bad_status,
        "chunk_delay_ms": slow_streams.percentiles_ms(tally.delays_ns),
        # Split: a stream's first chunk waits for the response to start (its first byte);
        # the others only for the relay of a chunk (the delay between chunks).
        "first_chunk_delay_ms": slow_streams.percentiles_ms(tally.first_delays_ns),
        "later_chunk_delay_ms": slow_streams.percentiles_ms(tally.later_delays_ns),
    }
    if tally.failed or tally.bad_status:
        result["warning"] = "some streams failed: the figures cover the others"
    if pids:
        cpu = marks["cpu_end"] - marks["cpu_start"]
        result["cpu_us_per_chunk"] = 1e6 * cpu / tally.chunks
        result["cores_busy"] = cpu / load.window_s
        result["rss_idle_mb"] = rss_before
        result["rss_open_mb"] = marks["rss_open"]
        result["rss_kb_per_stream"] = 1024 * (marks["rss_open"] - rss_before) / load.streams
    return result


def _one(target: str, options: runner.Options, mock_port: int,
         load: slow_streams.SlowLoad) -> dict:
    if target == "direct":
        return _measure(mock_port, [], {}, "bench-model", load)
    scenario: Scenario = BY_NAME[_SCENARIO_OF[target]]
    if scenario.is_anchor:
        with runner.anchor(scenario, options, mock_port) as (port, pids, headers, version):
            return {**_measure(port, pids, headers, scenario.model, load), "version": version}
    with runner.gateway(scenario, options, mock_port, extra_env=capacity_env(load.streams)) as (
        port,
        pids,
    ):
        headers = {"Authorization": scenario.authorization} if scenario.authorization else {}
        return _measure(port, pids, headers, scenario.model, load)


def capacity_env(streams: int) -> dict[str, str]:
    """What an operator sets for this many streams open at once: upstream connections and
    client connections (the defaults, 1,000 client connections a worker, refuse the rest with
    503)."""
    room = str(streams + 64)
    return {"LLM_GATEWAY_UPSTREAM_POOL_SIZE": room, "LLM_GATEWAY_SERVER_MAX_CONNECTIONS": room}


def run_slow(options: runner.Options, load: slow_streams.SlowLoad,
             targets: tuple[str, ...] = SLOW_TARGETS) -> dict:
    raise_file_limit(load.streams)
    results: dict = {}
    with paced_mock(options, load) as mock_port:
        for target in targets:
            try:
                results[target] = {"status": "ok", **_one(target, options, mock_port, load)}
            except runner.ScenarioPending as pending:
                results[target] = {"status": "pending", "reason": str(pending)}
            except (runner.ScenarioFailed, processes.StartError, OSError) as error:
                results[target] = {"status": "failed",
                                   "reason": f"{type(error).__name__}: {error}"}
            print(f"slow streams, {target}: {results[target]['status']}", flush=True)
    _derive(results)
    return {"load": {**asdict(load), "ramp_s": load.spread_s}, "targets": results}


def _derive(results: dict) -> None:
    direct = results.get("direct", {})
    direct_ok = direct.get("status") == "ok"
    portkey = results.get("portkey", {})
    for name, result in results.items():
        if result.get("status") != "ok" or name == "direct":
            continue
        for measured, added in (("chunk_delay_ms", "added_delay_ms"),
                                ("first_chunk_delay_ms", "added_first_delay_ms"),
                                ("later_chunk_delay_ms", "added_later_delay_ms")):  # fmt: skip
            delay, base = result.get(measured), direct.get(measured)
            if direct_ok and delay and base:
                result[added] = {q: delay[q] - base[q] for q in ("p50", "p99")}
        if portkey.get("status") == "ok" and name != "portkey":
            result["vs_portkey"] = {
                key: result[key] / portkey[key]
                for key in ("cpu_us_per_chunk", "rss_kb_per_stream", "chunks_per_s")
                if result.get(key) and portkey.get(key)
            }


def table(document: dict) -> str:
    load = document["load"]
    lines = [
        f"slow streams: {load['streams']} open at once, {load['chunks']} chunks "
        f"{load['interval_ms']:g} ms apart after {load['first_token_ms']:g} ms, "
        f"{load['window_s']:g} s measured",
        "| target | chunks/s | CPU us per chunk | RSS KB per open stream | chunk delay p50 / p99 "
        "| added p50 / p99 | added between chunks p50 / p99 | added to the first chunk p50 / p99 "
        "| vs Portkey (CPU, RSS) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, result in document["targets"].items():
        if result.get("status") != "ok":
            lines.append(f"| {name} | {result.get('status')}: {result.get('reason', '')} |")
            continue
        delay = result["chunk_delay_ms"]
        ratios = result.get("vs_portkey", {})
        lines.append(" | ".join([
            f"| {name}", f"{result['chunks_per_s']:,.0f}",
            f"{result['cpu_us_per_chunk']:.1f}" if "cpu_us_per_chunk" in result else "-",
            f"{result['rss_kb_per_stream']:.1f}" if "rss_kb_per_stream" in result else "-",
            f"{delay['p50']:.2f} / {delay['p99']:.2f}",
            *(_added(result.get(key))
              for key in ("added_delay_ms", "added_later_delay_ms", "added_first_delay_ms")),
            (f"{ratios['cpu_us_per_chunk']:.2f}x, {ratios.get('rss_kb_per_stream', 0):.2f}x"
             if "cpu_us_per_chunk" in ratios else "-"),
        ]) + " |")
        if result.get("failed_connections") or result.get("bad_status"):
            lines.append(f"| {name}: {result.get('failed_connections', 0):,} streams failed, "
                         f"{result.get('bad_status', 0):,} answered >= 400: the figures cover "
                         "the others |")
    return "\n".join(lines)


def _added(added: dict | None) -> str:
    return f"{added['p50']:+.2f} / {added['p99']:+.2f}" if added else "-"
