"""The gateway's own time per request against the idle time before it: why the added p50 at
100 req/s is a machine's figure more than the code's.

``bench run`` reads the added latency of requests 10 ms apart. This serves one gateway on
core 0 (as ``profile_path`` does), sends one connection's requests from core 1 with a chosen
pause between them, and has the gateway itself time each request's own work: from the
request's first bytes to its upstream call, plus from the upstream's first answer bytes to
the end of the response (the upstream's own time left out). Per pause, the median:

    uv run python -m bench.idle_gaps --scenario realistic-json --gaps 0,2,10,30

The same code taking longer after a longer pause is the core having lost the request path's
code and data to the machine's other work meanwhile (``--spin`` keeps the core busy with an
idle-priority loop, which keeps it out of its sleep states but touches no memory: if the
times still grow with the pause, sleep states are not the cause).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench import processes
from bench.profile_path import _serve, start_mock
from bench.scenarios import BY_NAME, gateway_env

HOST = "127.0.0.1"
_WARMUP = 300


def _serve_timed(port: int, result: str) -> None:
    """``profile_path._serve``, with each request's own time noted (SIGUSR1 clears the notes,
    SIGUSR2 writes their median, in microseconds, and their count to ``result``)."""
    from uvicorn.protocols.http import httptools_impl

    from gateway_adapters import http1

    marks: dict[str, int] = {}
    own_ns: list[int] = []
    before_ns: list[int] = []  # the request's first bytes to its upstream call
    clock = time.perf_counter_ns

    def wrap(cls: type, name: str, before: object) -> None:
        original = getattr(cls, name)

        def wrapped(self: object, *args: object) -> object:
            before(*args)  # type: ignore[operator]
            return original(self, *args)

        setattr(cls, name, wrapped)

    def arrived(_: bytes) -> None:
        marks.clear()
        marks["arrived"] = clock()

    def calling(_: bytes) -> None:
        marks.setdefault("calling", clock())

    def answered(_: bytes) -> None:
        marks.setdefault("answered", clock())

    wrap(httptools_impl.HttpToolsProtocol, "data_received", arrived)
    wrap(http1._Connection, "send", calling)
    wrap(http1._Connection, "data_received", answered)
    send = httptools_impl.RequestResponseCycle.send

    async def timed_send(self: object, message: dict) -> None:
        await send(self, message)  # type: ignore[arg-type]
        ended = message["type"] == "http.response.body" and not message.get("more_body")
        if ended and len(marks) == 3:  # a request that called the upstream once
            end = clock()
            before = marks["calling"] - marks["arrived"]
            before_ns.append(before)
            own_ns.append(before + end - marks["answered"])

    httptools_impl.RequestResponseCycle.send = timed_send  # type: ignore[method-assign,assignment]

    def clear() -> None:
        own_ns.clear()
        before_ns.clear()

    def report() -> None:
        own, before = statistics.median(own_ns), statistics.median(before_ns)
        Path(result).write_text(f"{own / 1000:.1f} {before / 1000:.1f} {len(own_ns)}")

    # SIGUSR1 clears the notes, SIGUSR2 writes their median (and the CPU, unread, beside it).
    _serve(port, result + ".cpu", None, on_start=clear, on_stop=report)


def _requests(port: int, raw: bytes, count: int, gap_s: float) -> None:
    with socket.create_connection((HOST, port)) as connection:
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(count):
            connection.sendall(raw)
            received = b""
            while True:
                received += connection.recv(65536)
                head, found, body = received.partition(b"\r\n\r\n")
                if found and len(body) >= _content_length(head):
                    break
            if not head.startswith(b"HTTP/1.1 200"):
                raise SystemExit(f"answer {head[:40]!r}")
            time.sleep(gap_s)


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    raise SystemExit("an answer without content-length (streams are not measured here)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="realistic-json")
    parser.add_argument("--gaps", default="0,2,10,30", help="pauses between requests, in ms")
    parser.add_argument("--requests", type=int, default=500, help="per pause")
    parser.add_argument("--spin", action="store_true", help="an idle-priority loop on core 0")
    parser.add_argument("--serve", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        port, result = args.serve
        _serve_timed(int(port), result)
        return 0

    scenario = BY_NAME[args.scenario]
    if scenario.stream:
        raise SystemExit("a JSON scenario: the time of a stream's answer is its chunks'")
    os.sched_setaffinity(0, {1})  # the client beside the mock
    bench = start_mock(scenario, "idle-gaps-")
    log_dir, env, mock, mock_port = bench.log_dir, bench.env, bench.mock, bench.mock_port
    port, raw = bench.gateway_port, bench.request
    result = log_dir / "own.txt"
    spinner = None
    gateway = None
    try:
        with processes.pinned_redis(1, log_dir):
            processes.wait_for_port(mock, mock_port)
            gateway = processes.start(
                "gateway", [sys.executable, "-m", "bench.idle_gaps", "--serve", str(port),
                            str(result)],
                [0], {**env, **gateway_env(scenario, mock_port)}, log_dir,
            )  # fmt: skip
            processes.wait_for_port(gateway, port)
            if args.spin:
                spinner = subprocess.Popen(
                    ["taskset", "-c", "0", "chrt", "--idle", "0", sys.executable, "-c",
                     "while True: pass"],
                )  # fmt: skip
            _requests(port, raw, _WARMUP, 0.0)
            for gap_ms in (float(gap) for gap in args.gaps.split(",")):
                gateway.process.send_signal(signal.SIGUSR1)
                time.sleep(0.1)
                _requests(port, raw, args.requests, gap_ms / 1000)
                gateway.process.send_signal(signal.SIGUSR2)
                own_us, before_us, count = _read(result)
                print(f"{scenario.name}, {gap_ms:g} ms apart: {own_us} us of the gateway's "
                      f"own a request, {before_us} of them before its upstream call "
                      f"(medians of {count})", flush=True)  # fmt: skip
    finally:
        if spinner is not None:
            spinner.kill()
        if gateway is not None:
            processes.stop(gateway)
        processes.stop(mock)
    return 0


def _read(result: Path) -> list[str]:
    for _ in range(200):
        if result.exists() and result.read_text():
            break
        time.sleep(0.05)
    figures = result.read_text().split()
    result.unlink()
    return figures


if __name__ == "__main__":
    sys.exit(main())
