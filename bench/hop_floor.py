"""The added latency of the bench's topology alone: a proxy that does nothing but copy bytes.

``bench run`` reports the latency a target adds at 100 req/s over the direct baseline. The
direct baseline's client and mock share one core; a target sits on the other, so each of
its requests crosses between the cores four times (the client's request, the upstream
call, the upstream's answer, the answer), and an idle core takes time to wake for each. This
measures that floor: a byte-copying proxy (one upstream connection per client connection,
no parsing, on the target's core) against the same mock, with the same paced probe, next to
the gateway, alternating. What a target adds above the floor is its own work:

    uv run python -m bench.hop_floor --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
from pathlib import Path

import uvloop

from bench import probe, processes, runner
from bench.payloads import openai_body, raw_post
from bench.scenarios import BY_NAME

HOST = "127.0.0.1"


class _Pipe(asyncio.Protocol):
    """One direction of a proxied connection: what arrives is written to ``peer``."""

    def __init__(self) -> None:
        self.peer: asyncio.Transport | None = None
        self.pending: list[bytes] = []
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.peer is None:
            self.pending.append(data)
        else:
            self.peer.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.peer is not None:
            self.peer.close()


async def _serve_proxy(port: int, upstream_port: int) -> None:
    loop = asyncio.get_running_loop()
    connecting: set[asyncio.Task[None]] = set()  # held until done: the loop keeps weak refs

    def accept() -> _Pipe:
        client = _Pipe()

        async def connect() -> None:
            _, upstream = await loop.create_connection(_Pipe, HOST, upstream_port)
            upstream.peer, client.peer = client.transport, upstream.transport
            for data in client.pending:
                upstream.transport.write(data)  # type: ignore[union-attr]
            client.pending.clear()

        task = loop.create_task(connect())
        connecting.add(task)
        task.add_done_callback(connecting.discard)
        return client

    server = await loop.create_server(accept, HOST, port, backlog=1024)
    async with server:
        await server.serve_forever()


def _paced_ms(port: int, model: str, count: int) -> float:
    raw = raw_post(HOST, port, "/v1/chat/completions", openai_body(model, False), {})
    samples = uvloop.run(probe.paced(HOST, port, raw, 100, count))
    return 1000 * statistics.median(s.total_s for s in samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--count", type=int, default=400, help="paced requests per target")
    parser.add_argument("--serve-proxy", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_proxy:
        uvloop.run(_serve_proxy(*args.serve_proxy))
        return 0
    options = runner.Options(
        duration_s=1, warmup_s=0, connections=1, rate=100, paced_count=args.count,
        gateway_cores=(0,), load_core=1, log_dir=Path(tempfile.mkdtemp(prefix="hop-floor-")),
    )  # fmt: skip
    os.sched_setaffinity(0, {options.load_core})  # the probe shares the mock's core
    scenario = BY_NAME["openai-json"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    with runner.mock_upstream(options) as mock_port:
        floors, gateways = [], []
        for _ in range(args.rounds):
            direct = _paced_ms(mock_port, "bench-model", args.count)
            port = processes.free_port()
            proxy = processes.start(
                "hop-floor-proxy",
                [sys.executable, "-m", "bench.hop_floor", "--serve-proxy", str(port),
                 str(mock_port)],
                [0], env, options.log_dir,
            )  # fmt: skip
            try:
                processes.wait_for_port(proxy, port)
                _paced_ms(port, "bench-model", 50)  # warm
                floor = _paced_ms(port, "bench-model", args.count) - direct
            finally:
                processes.stop(proxy)
            with runner.gateway(scenario, options, mock_port) as (port, _):
                _paced_ms(port, scenario.model, 50)
                gateway = _paced_ms(port, scenario.model, args.count) - direct
            floors.append(floor)
            gateways.append(gateway)
            print(f"direct p50 {direct:.3f} ms; added p50: byte-copying proxy +{floor:.3f}, "
                  f"gateway (openai-json) +{gateway:.3f}, gateway above the floor "
                  f"+{gateway - floor:.3f}", flush=True)  # fmt: skip
    if args.rounds > 1:
        print(f"median: floor +{statistics.median(floors):.3f}, "
              f"gateway +{statistics.median(gateways):.3f} ms")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
