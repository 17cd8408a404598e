"""CPU per upstream call, by HTTP client: the measurement behind the adapters' transport.

``uv run python -m bench.transports [--calls 2000]`` starts the bench mock upstream pinned to
one core, then, pinned to the other, makes sequential chat calls through each client and
prints the process CPU time per call (user + system, so event-loop and parsing work count):

- the ``openai`` SDK's ``chat.completions.create`` (typed request and response models),
- the same SDK's low-level ``post`` (no response model),
- a pooled ``httpx.AsyncClient`` (what the SDK uses underneath),
- a pooled ``aiohttp.ClientSession`` with msgspec decoding (what the adapters used first),
- ``gateway_adapters.http1.Http1Client`` with msgspec decoding (what the adapters use).

Sequential calls on an otherwise idle client isolate the per-call cost of the client itself.
Then each client makes 300 calls paced 10 ms apart, and the median wall time of one call is
printed: at low load the latency of a call, wake-ups included, rather than its CPU.
docs/ARCHITECTURE.md quotes the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

import aiohttp
import httpx
import msgspec
import openai
import uvloop

from bench.processes import free_port
from gateway_adapters.http1 import Http1Client, Target, Timeouts

BODY = {
    "model": "bench-model",
    "messages": [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Say hello to the benchmark."},
    ],
}
ENCODED = msgspec.json.encode(BODY)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _measure(name: str, call: Callable[[], Awaitable[object]], calls: int) -> None:
    for _ in range(50):  # warm the pool, the JIT-less caches and the mock
        await call()
    cpu, wall = _cpu(), time.perf_counter()
    for _ in range(calls):
        await call()
    cpu, wall = _cpu() - cpu, time.perf_counter() - wall
    paced = []
    for _ in range(300):
        await asyncio.sleep(0.01)
        started = time.perf_counter()
        await call()
        paced.append(time.perf_counter() - started)
    print(
        f"{name:<36} {cpu / calls * 1000:6.3f} ms CPU/call   {calls / wall:7.0f} calls/s"
        f"   paced: {statistics.median(paced) * 1000:6.3f} ms/call"
    )


async def _run(base_url: str, calls: int) -> None:
    sdk_http = httpx.AsyncClient(limits=httpx.Limits(max_keepalive_connections=8))
    sdk = openai.AsyncOpenAI(
        base_url=base_url, api_key="bench", max_retries=0, http_client=sdk_http
    )
    plain = httpx.AsyncClient(base_url=base_url)
    session = aiohttp.ClientSession()
    url = f"{base_url}/chat/completions"
    headers = {"content-type": "application/json", "authorization": "Bearer bench"}
    http1, target, timeouts = Http1Client(), Target(url, headers), Timeouts(total=10)

    async def through_sdk() -> object:
        return await sdk.chat.completions.create(**BODY)  # type: ignore[arg-type]

    async def through_sdk_post() -> object:
        return await sdk.post("/chat/completions", body=BODY, cast_to=httpx.Response)

    async def through_httpx() -> object:
        response = await plain.post("/chat/completions", content=ENCODED, headers=headers)
        return msgspec.json.decode(response.content)

    async def through_aiohttp() -> object:
        async with session.post(url, data=ENCODED, headers=headers) as response:
            return msgspec.json.decode(await response.read())

    async def through_http1() -> object:
        async with http1.post(target, ENCODED, timeouts) as response:
            return msgspec.json.decode(await response.read())

    try:
        await _measure("openai SDK chat.completions.create", through_sdk, calls)
        await _measure("openai SDK post (no response model)", through_sdk_post, calls)
        await _measure("httpx.AsyncClient (pooled)", through_httpx, calls)
        await _measure("aiohttp.ClientSession (pooled)", through_aiohttp, calls)
        await _measure("gateway_adapters.http1 (pooled)", through_http1, calls)
    finally:
        await http1.close()
        await session.close()
        await plain.aclose()
        await sdk.close()


def _wait_listening(port: int, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"the mock upstream did not listen on {port}")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.transports")
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    port = free_port()
    mock = subprocess.Popen(
        ["taskset", "-c", "1", sys.executable, "-m", "bench.mock_upstream", "--port", str(port)]
    )
    try:
        _wait_listening(port)
        os.sched_setaffinity(0, {0})
        uvloop.run(_run(f"http://127.0.0.1:{port}/v1", args.calls))
    finally:
        mock.terminate()
        mock.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
