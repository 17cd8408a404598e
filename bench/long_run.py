"""The long run: at least 200,000 requests through one gateway, its RSS sampled as it goes.

wrk runs in short segments back to back; after each, the gateway's resident memory is read.
Memory counts as flat when the last sample is within 5 MB or 5% of the sample taken after the
first segment (start-up and first-request allocations are over by then).
"""

from __future__ import annotations

import time

import uvloop

from bench import probe, processes
from bench.payloads import raw_post
from bench.runner import HOST, Options, ScenarioFailed, apply_load, check_answer, gateway
from bench.scenarios import Scenario

_WARMUP_SEGMENT_S = 5.0
_MIN_SEGMENT_S = 2.0
_SAMPLES = 10
_MAX_WALL_S = 1800.0  # a bound on the loop: a very slow gateway ends the run, unfinished


def run_long(scenario: Scenario, options: Options, mock_port: int, total: int) -> dict:
    with gateway(scenario, options, mock_port) as (port, pids):
        headers = {"Authorization": scenario.authorization} if scenario.authorization else {}
        raw = raw_post(HOST, port, scenario.path, scenario.body, headers)
        check_answer(scenario, uvloop.run(probe.once(HOST, port, raw)))
        samples = _segments(scenario, options, port, pids, total)
        peak = processes.peak_rss_mb(pids)
    warm, last = samples[1]["rss_mb"], samples[-1]["rss_mb"]
    return {
        "scenario": scenario.name,
        "requests": samples[-1]["requests"],
        "samples": samples,
        "rss_after_first_segment_mb": warm,
        "rss_at_end_mb": last,
        "growth_mb": last - warm,
        "flat": last - warm <= max(5.0, 0.05 * warm),
        "peak_rss_mb": peak,
    }


def _segments(
    scenario: Scenario, options: Options, port: int, pids: list[int], total: int
) -> list[dict]:
    """A warm-up segment gives the rate; the rest is cut into about ``_SAMPLES`` segments."""
    start = time.monotonic()
    samples = [{"elapsed_s": 0.0, "requests": 0, "rss_mb": processes.rss_mb(pids)}]
    done, segment_s = 0, _WARMUP_SEGMENT_S
    while done < total:
        if time.monotonic() - start > _MAX_WALL_S:
            raise ScenarioFailed(f"only {done} of {total} requests in {_MAX_WALL_S:.0f} s")
        load = apply_load(scenario, options, port, segment_s)
        done += load.requests
        elapsed = round(time.monotonic() - start, 1)
        samples.append({"elapsed_s": elapsed, "requests": done, "rss_mb": processes.rss_mb(pids)})
        print(f"  long run: {done:>9,} requests, RSS {samples[-1]['rss_mb']:.1f} MB", flush=True)
        if len(samples) == 2:
            remaining_s = max(0, total - done) / load.requests_per_s
            segment_s = max(_MIN_SEGMENT_S, remaining_s / _SAMPLES)
    return samples
