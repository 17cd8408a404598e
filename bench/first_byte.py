"""A stream's first byte against a JSON answer, interleaved request by request in one gateway.

Issue 16 asks that a stream's first byte come no later than a JSON answer (both as latency
added at 100 req/s). ``bench run`` measures the two in scenarios minutes apart, and on a
shared machine its speed moves more between them than their difference. Here one gateway
process gets both kinds alternately on the same paced schedule, and the mock alone gets them
the same way for the baselines, so whatever the machine does meanwhile falls on both:

    uv run python -m bench.first_byte --rounds 2

Prints, per round and per gateway setup (controls off: ``openai-json``; on:
``realistic-json``), the added p50 of each kind and the stream's minus the JSON's.
"""

from __future__ import annotations

import argparse
import statistics
import sys

import uvloop

from bench import probe, processes, runner
from bench.payloads import openai_body, raw_post
from bench.scenarios import BY_NAME

HOST = "127.0.0.1"
_RATE = 100.0
_SETUPS = ("openai-json", "realistic-json")


def interleaved(port: int, requests: dict[str, bytes], count: int) -> dict[str, list[float]]:
    """``count`` requests at 100 a second, the kinds of ``requests`` in turn: seconds to the
    first body byte of each ``stream``, to the end of each other answer."""
    kinds = list(requests)
    samples = uvloop.run(probe.paced(HOST, port, list(requests.values()), _RATE, count))
    timings: dict[str, list[float]] = {kind: [] for kind in kinds}
    for index, sample in enumerate(samples):
        kind = kinds[index % len(kinds)]
        if sample.status != 200:
            raise probe.ProbeError(f"{kind}: status {sample.status}")
        timings[kind].append(sample.first_byte_s if kind == "stream" else sample.total_s)
    return timings


def _requests(port: int, model: str, authorization: str | None) -> dict[str, bytes]:
    headers = {"authorization": authorization} if authorization else {}
    path = "/v1/chat/completions"
    return {
        "json": raw_post(HOST, port, path, openai_body(model, False), headers),
        "stream": raw_post(HOST, port, path, openai_body(model, True), headers),
    }


def added_ms(direct: dict[str, list[float]], gateway: dict[str, list[float]]) -> dict[str, float]:
    """Each kind's p50 added to the direct p50, in ms, and ``stream_minus_json``."""
    added = {
        kind: 1000 * (statistics.median(gateway[kind]) - statistics.median(direct[kind]))
        for kind in ("json", "stream")
    }
    return {**added, "stream_minus_json": added["stream"] - added["json"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--count", type=int, default=1200, help="requests a round and setup")
    args = parser.parse_args()
    options = runner.paced_only(_RATE, args.count, "first-byte")
    gaps: list[float] = []
    with (
        processes.pinned_redis(options.load_core, options.log_dir),
        runner.mock_upstream(options) as mock_port,
    ):
        for round_index in range(args.rounds):
            direct = interleaved(mock_port, _requests(mock_port, "bench-model", None), args.count)
            for name in _SETUPS:
                scenario = BY_NAME[name]
                with runner.gateway(scenario, options, mock_port) as (port, _):
                    requests = _requests(port, scenario.model, scenario.authorization)
                    interleaved(port, requests, 200)  # warm
                    added = added_ms(direct, interleaved(port, requests, args.count))
                gaps.append(added["stream_minus_json"])
                print(f"round {round_index} {name:15s} added p50: JSON +{added['json']:.3f}, "
                      f"stream first byte +{added['stream']:.3f} ms "
                      f"(stream - JSON {added['stream_minus_json']:+.3f})", flush=True)  # fmt: skip
    print(f"stream - JSON: mean {statistics.mean(gaps):+.3f} ms over {len(gaps)} samples")
    return 0


if __name__ == "__main__":
    sys.exit(main())
