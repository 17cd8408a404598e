"""Added latency against Portkey's, every target measured in turn in one window.

Issue 16's latency targets are ratios to Portkey's added latency at 100 req/s (p50 at most
half, p99 at most a third). ``bench run`` measures each target after its own throughput run,
minutes apart, and on a shared machine the speed moves between them by more than the margin
being judged: the same gateway's added p50 read 0.63 and 1.06 ms ten minutes apart. Here the
targets all run at once, each idle but for its own block: blocks of ``--block`` requests at
100 a second go to each target in turn (the mock alone first, for the baseline), ``--rounds``
times, so whatever the machine does meanwhile falls on every target alike:

    uv run python -m bench.latency_ratio --rounds 6 --block 300 [--stream]

Prints each round's p50s, then the added p50 and p99 over all rounds and their ratios to
Portkey's (``--stream``: the first byte of streamed answers instead of whole JSON answers).
Without Portkey installed (``bench.anchors``), it says so and prints ours alone. ``bench run``
does the same at the end of its run (``measure``; its ``--side-by-side-rounds``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass

import uvloop

from bench import probe, processes, runner
from bench.payloads import raw_post
from bench.runner import percentiles_ms
from bench.scenarios import BY_NAME, Scenario

HOST = "127.0.0.1"
_RATE = 100.0
_WARM_RATE, _WARM_COUNT = 500.0, 1000
_OURS = ("openai", "realistic")
_ANCHOR = "portkey"


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    port: int
    request: bytes


def scenario_names(stream: bool) -> list[str]:
    """The baseline first, then ours with the controls off and on, then Portkey."""
    kind = "stream" if stream else "json"
    return [f"direct-openai-{kind}", *(f"{name}-{kind}" for name in (*_OURS, _ANCHOR))]


def added_ms(direct: Sequence[float], measured: dict[str, list[float]]) -> dict[str, dict]:
    """Each target's added p50 and p99 (its percentile minus the baseline's, in ms), and
    their ratios to the anchor's when the anchor was measured."""
    base = percentiles_ms(list(direct))
    added = {}
    for name, seconds in measured.items():
        own = percentiles_ms(seconds)
        added[name] = {q: round(own[q] - base[q], 3) for q in ("p50", "p99")}
    anchor = next((name for name in added if name.startswith(_ANCHOR)), None)
    if anchor is not None:
        for figures in added.values():
            for q in ("p50", "p99"):
                share = added[anchor][q]
                figures[f"{q}_x"] = round(figures[q] / share, 2) if share > 0 else None
    return added


def _started(stack: ExitStack, scenario: Scenario, options: runner.Options, mock: int) -> Target:
    headers: dict[str, str] = {}
    if scenario.target == "direct":
        port = mock
    elif scenario.is_anchor:
        port, _, headers, _ = stack.enter_context(runner.anchor(scenario, options, mock))
    else:
        port, _ = stack.enter_context(runner.gateway(scenario, options, mock))
    if scenario.authorization:
        headers["Authorization"] = scenario.authorization
    return Target(scenario.name, port, raw_post(HOST, port, scenario.path, scenario.body, headers))


def _targets(
    stack: ExitStack, options: runner.Options, mock: int, stream: bool
) -> Iterator[Target]:
    for name in scenario_names(stream):
        try:
            yield _started(stack, BY_NAME[name], options, mock)
        except runner.ScenarioPending as missing:
            print(f"{name}: not measured ({missing})", flush=True)


def _block(target: Target, count: int, stream: bool) -> list[float]:
    samples = uvloop.run(probe.paced(HOST, target.port, target.request, _RATE, count))
    bad = [sample.status for sample in samples if sample.status != 200]
    if bad:
        raise probe.ProbeError(f"{target.name}: {len(bad)} answers not 200, e.g. {bad[0]}")
    return [sample.first_byte_s if stream else sample.total_s for sample in samples]


def measure(
    options: runner.Options, mock: int, stream: bool, rounds: int, block: int
) -> dict:
    """The targets of ``scenario_names(stream)`` started against ``mock``, warmed, then
    ``rounds`` rounds of ``block`` paced requests to each in turn (printing each round's
    p50s): each target's added p50 and p99 and their ratios to Portkey's (``added_ms``)."""
    with ExitStack() as stack:
        targets = list(_targets(stack, options, mock, stream))
        for target in targets:  # warm: the first requests of a process are its slowest
            uvloop.run(probe.paced(HOST, target.port, target.request, _WARM_RATE, _WARM_COUNT))
        seconds: dict[str, list[float]] = {target.name: [] for target in targets}
        for round_index in range(rounds):
            medians = []
            for target in targets:
                samples = _block(target, block, stream)
                seconds[target.name] += samples
                medians.append(f"{target.name} {1000 * statistics.median(samples):.3f}")
            print(f"round {round_index} p50 ms: " + ", ".join(medians), flush=True)
    direct, *measured = targets
    added = added_ms(seconds[direct.name], {t.name: seconds[t.name] for t in measured})
    return {"rate": _RATE, "rounds": rounds, "block": block, "stream": stream, "added": added}


def lines(result: dict) -> list[str]:
    """``measure``'s result as the lines ``main`` prints."""
    what = "stream first byte" if result["stream"] else "JSON answer"
    head = (f"added latency of a {what} at {result['rate']:g} req/s, "
            f"{result['rounds']} x {result['block']} each:")  # fmt: skip
    rows = [head]
    for name, added in result["added"].items():
        ratios = ""
        if "p50_x" in added:
            ratios = f"  ({added['p50_x']}x / {added['p99_x']}x Portkey's)"
        rows.append(f"  {name:20s} p50 +{added['p50']:.3f} ms, p99 +{added['p99']:.3f} ms{ratios}")
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--block", type=int, default=300, help="requests a block")
    parser.add_argument("--stream", action="store_true", help="streams' first byte")
    args = parser.parse_args()
    options = runner.paced_only(_RATE, args.block, "latency-ratio")
    with ExitStack() as stack:
        stack.enter_context(processes.pinned_redis(options.load_core, options.log_dir))
        mock = stack.enter_context(runner.mock_upstream(options))
        result = measure(options, mock, args.stream, args.rounds, args.block)
    print("\n".join(lines(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
