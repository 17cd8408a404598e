"""Run one scenario: start what it needs, check one answer, load it with wrk, then pace it."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvloop

from bench import anchors, probe, processes
from bench.payloads import raw_post
from bench.scenarios import BENCH_DIR, Scenario, gateway_env
from bench.wrk import WrkResult, run_wrk

HOST = "127.0.0.1"
_SETTLE_S = 0.5
"""A pause between the saturating load and the paced probe, for wrk's connections to close."""


@dataclass(frozen=True, slots=True)
class Options:
    duration_s: float
    warmup_s: float
    connections: int
    rate: float
    """Requests per second of the paced latency probe."""
    paced_count: int
    gateway_cores: tuple[int, ...]
    load_core: int
    """Where the mock, wrk and the paced probe run."""
    log_dir: Path


def paced_only(rate: float, paced_count: int, name: str) -> Options:
    """Options for a tool that only paces requests (no wrk): the gateway on core 0, the
    mock and the calling process, which is the client, on core 1 (pinned here)."""
    options = Options(
        duration_s=1, warmup_s=0, connections=1, rate=rate, paced_count=paced_count,
        gateway_cores=(0,), load_core=1, log_dir=Path(tempfile.mkdtemp(prefix=f"{name}-")),
    )  # fmt: skip
    os.sched_setaffinity(0, {options.load_core})  # the client shares the mock's core
    return options


class ScenarioFailed(Exception):
    """The scenario could not be measured, or answered wrongly; the message says how."""


class ScenarioPending(Exception):
    """The scenario needs gateway features that are not there yet; no figures are taken."""


@contextmanager
def mock_upstream(options: Options, extra: Sequence[str] = ()) -> Iterator[int]:
    """The mock upstream's port; ``extra``: more of its arguments (``--pace-chunks``...)."""
    port = processes.free_port()
    command = [sys.executable, "-m", "bench.mock_upstream", "--port", str(port), *extra]
    env = {**os.environ, "PYTHONPATH": str(BENCH_DIR.parent)}  # `bench` importable from any cwd
    child = processes.start("mock", command, [options.load_core], env, options.log_dir)
    try:
        processes.wait_for_port(child, port)
        yield port
    finally:
        processes.stop(child)


@contextmanager
def gateway(
    scenario: Scenario, options: Options, mock_port: int, extra_env: dict[str, str] | None = None
) -> Iterator[tuple[int, list[int]]]:
    """The gateway's port and process tree (uvicorn's supervisor and workers)."""
    port = processes.free_port()
    command = [
        sys.executable, "-m", "gateway_http.cli", "serve", "--host", HOST, "--port", str(port),
        "--workers", str(scenario.workers),
    ]
    cores = options.gateway_cores[: max(1, scenario.workers)]
    env = {**gateway_env(scenario, mock_port), **(extra_env or {})}
    child = processes.start(f"gateway-{scenario.name}", command, cores, env, options.log_dir)
    try:
        processes.wait_for_port(child, port)
        _wait_healthy(child, port)
        yield port, processes.process_tree(child.pid)
    finally:
        processes.stop(child)


@contextmanager
def anchor(
    scenario: Scenario, options: Options, mock_port: int
) -> Iterator[tuple[int, list[int], dict[str, str], str]]:
    """An anchor's port, process tree, the headers its requests carry, and its version."""
    port = processes.free_port()
    try:
        launch = anchors.launch(scenario.target, port, mock_port, options.log_dir)
    except anchors.AnchorUnavailable as error:
        raise ScenarioPending(str(error)) from error
    child = processes.start(scenario.name, launch.command, options.gateway_cores[:1],
                            launch.env, options.log_dir)
    try:
        # LiteLLM imports for a good while before it listens.
        processes.wait_for_port(child, port, timeout_s=120.0)
        yield port, processes.process_tree(child.pid), dict(launch.request_headers), launch.version
    finally:
        processes.stop(child)


def run_scenario(scenario: Scenario, options: Options, mock_port: int) -> dict:
    if scenario.target == "direct":
        return _measure(scenario, options, mock_port, [], mock_port)
    if scenario.is_anchor:
        with anchor(scenario, options, mock_port) as (port, pids, headers, version):
            result = _measure(scenario, options, port, pids, mock_port, headers)
            return {**result, "version": version}
    with gateway(scenario, options, mock_port) as (port, pids):
        return _measure(scenario, options, port, pids, mock_port)


def _measure(
    scenario: Scenario,
    options: Options,
    port: int,
    pids: Sequence[int],
    mock_port: int,
    headers: dict[str, str] | None = None,
) -> dict:
    headers = dict(headers or {})
    if scenario.authorization:
        headers["Authorization"] = scenario.authorization
    raw = raw_post(HOST, port, scenario.path, scenario.body, headers)
    check_answer(scenario, uvloop.run(probe.once(HOST, port, raw)))
    if scenario.controls:
        _check_controls_active(scenario, port)
    if options.warmup_s > 0:
        apply_load(scenario, options, port, options.warmup_s, headers)
    upstream_before = mock_answered(mock_port)
    cpu_before = processes.cpu_seconds(pids)
    load = apply_load(scenario, options, port, options.duration_s, headers)
    cpu = processes.cpu_seconds(pids) - cpu_before
    time.sleep(_SETTLE_S)
    try:
        samples = uvloop.run(probe.paced(HOST, port, raw, options.rate, options.paced_count))
    except TimeoutError:
        if not scenario.is_anchor:
            raise
        # An anchor that cannot keep up with the paced rate (LiteLLM streams: about 30 a
        # second against 100 offered) queues the probe's requests past its timeout. Its
        # throughput and CPU were measured all the same; it has no latency at that rate.
        return {"throughput": _throughput(load), "paced": None, **_cpu_figures(cpu, load),
                "peak_rss_mb": processes.peak_rss_mb(pids),
                "note": f"paced probe timed out: slower than {options.rate:g} req/s"}
    bad = [s.status for s in samples if s.status != 200]
    if bad:
        raise ScenarioFailed(f"paced probe: {len(bad)} non-200 answers, e.g. {bad[0]}")
    if scenario.reaches_upstream:
        _check_all_reached_upstream(load.requests + len(samples), mock_port, upstream_before)
    result = {"throughput": _throughput(load), "paced": _paced(samples, options.rate)}
    if pids:
        result.update(_cpu_figures(cpu, load))
        result["peak_rss_mb"] = processes.peak_rss_mb(pids)
    return result


def _cpu_figures(cpu_s: float, load: WrkResult) -> dict:
    """``cores_busy`` below ~0.95 on one worker means the gateway did not have its core to
    itself (a shared machine) or waited; ``requests_per_cpu_s`` is then the better figure of
    what one core can serve, since it does not depend on how much of the core was had."""
    return {
        "cpu_s_per_1k_requests": 1000 * cpu_s / load.requests,
        "requests_per_cpu_s": load.requests / cpu_s if cpu_s else None,
        "cores_busy": cpu_s / load.duration_s,
    }


def mock_answered(mock_port: int) -> int:
    raw = f"GET /stats HTTP/1.1\r\nHost: {HOST}:{mock_port}\r\n\r\n".encode()
    return json.loads(uvloop.run(probe.once(HOST, mock_port, raw)).body)["answered"]


def _check_all_reached_upstream(answered: int, mock_port: int, before: int) -> None:
    """Answers that never reached the mock (a cache hit) would measure something else."""
    reached = mock_answered(mock_port) - before
    if reached < answered:
        raise ScenarioFailed(
            f"{answered} requests answered but only {reached} reached the mock upstream: "
            "answers came from somewhere else (a response cache?), the figures would be wrong"
        )


def apply_load(
    scenario: Scenario,
    options: Options,
    port: int,
    duration_s: float,
    headers: dict[str, str] | None = None,
) -> WrkResult:
    result = run_wrk(
        f"http://{HOST}:{port}{scenario.path}", scenario.body, core=options.load_core,
        connections=options.connections, duration_s=duration_s,
        authorization=scenario.authorization, anthropic_headers=scenario.wire == "anthropic",
        headers=headers,
    )
    if result.requests == 0:
        raise ScenarioFailed("wrk completed no request")
    if result.error_count:
        raise ScenarioFailed(f"wrk saw errors (status = answers >= 400): {result.errors}")
    return result


_STREAM_ENDS = {"anthropic": b"message_stop", "responses": b"response.completed",
                "openai": b"data: [DONE]"}  # fmt: skip


def check_answer(scenario: Scenario, sample: probe.Sample) -> None:
    """One request before any load: a wrong answer would make every figure meaningless."""
    if sample.status != 200:
        raise ScenarioFailed(f"answered {sample.status}: {sample.body[:300]!r}")
    if scenario.stream:
        end = _STREAM_ENDS[scenario.wire]
        # A Responses stream's response objects carry "error": null; its failures are events.
        failed = b"event: error" if scenario.wire == "responses" else b'"error"'
        if end not in sample.body or failed in sample.body:
            raise ScenarioFailed(f"the stream did not end cleanly: {sample.body[-300:]!r}")
        return
    answer = json.loads(sample.body)
    if scenario.wire == "anthropic":
        text = answer["content"][0]["text"]
    elif scenario.wire == "responses":
        text = answer["output"][0]["content"][0]["text"]
    else:
        text = answer["choices"][0]["message"]["content"]
    if not text:
        raise ScenarioFailed(f"empty answer: {sample.body[:300]!r}")


def _check_controls_active(scenario: Scenario, port: int) -> None:
    anonymous = raw_post(HOST, port, scenario.path, scenario.body)
    sample = uvloop.run(probe.once(HOST, port, anonymous))
    if sample.status != 401:
        raise ScenarioPending(
            f"a request without an API key was answered {sample.status}, not 401: the gateway "
            "does not read the realistic controls' settings yet (see REALISTIC-CONTROLS HOOK "
            "in bench/scenarios.py)"
        )


def _wait_healthy(child: processes.Child, port: int, timeout_s: float = 30.0) -> None:
    """Workers answer only after their start-up; with several, the port opens before that."""
    raw = f"GET /health HTTP/1.1\r\nHost: {HOST}:{port}\r\n\r\n".encode()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if uvloop.run(probe.once(HOST, port, raw)).status == 200:
                return
        except (OSError, probe.ProbeError, TimeoutError):
            pass
        if child.process.poll() is not None:
            break
        time.sleep(0.2)
    raise processes.StartError(f"{child.name} never became healthy:\n{child.log_tail()}")


def percentiles_ms(values_s: Sequence[float]) -> dict[str, float]:
    """Nearest-rank percentiles, in milliseconds."""
    ordered = sorted(values_s)

    def rank(quantile: float) -> float:
        return ordered[min(len(ordered) - 1, int(quantile * len(ordered)))] * 1000

    return {"p50": rank(0.50), "p90": rank(0.90), "p99": rank(0.99), "max": ordered[-1] * 1000}


def _throughput(load: WrkResult) -> dict:
    return {
        "requests": load.requests, "duration_s": round(load.duration_s, 3),
        "requests_per_s": load.requests_per_s, "latency_ms": load.latency_ms,
        "errors": load.errors,
    }


def _paced(samples: list[probe.Sample], rate: float) -> dict:
    return {
        "rate_per_s": rate, "count": len(samples),
        "latency_ms": percentiles_ms([s.total_s for s in samples]),
        "first_byte_ms": percentiles_ms([s.first_byte_s for s in samples]),
    }
