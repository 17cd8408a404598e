"""A paced, open-loop HTTP/1.1 client for latency at a fixed low rate and stream first byte.

wrk answers "how many per second at most"; this answers "how long does one request take when
the gateway is not saturated". Requests are sent at fixed intervals (open loop: a slow answer
does not delay the next send) over a small pool of keep-alive connections, written as raw
bytes and parsed with httptools, so that the client adds as little as possible to what it
measures. Each sample holds the time from writing the request to the first body byte (for a
stream: the first SSE event) and to the end of the response.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Sequence
from dataclasses import dataclass

import httptools


@dataclass(frozen=True, slots=True)
class Sample:
    status: int
    first_byte_s: float
    total_s: float
    body: bytes


class ProbeError(Exception):
    """The connection failed or closed before a complete response."""


class _Connection(asyncio.Protocol):
    """One keep-alive connection that carries one request at a time."""

    def __init__(self) -> None:
        self._parser = httptools.HttpResponseParser(self)
        self._transport: asyncio.Transport | None = None
        self._pending: asyncio.Future[Sample] | None = None
        self._sent = self._first_byte = 0.0
        self._body: list[bytes] = []
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._pending is not None and not self._pending.done():
            self._pending.set_exception(ProbeError(f"connection lost: {exc!r}"))

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as error:
            if self._pending is not None and not self._pending.done():
                self._pending.set_exception(ProbeError(f"bad response: {error}"))
            self._transport.close()

    def on_body(self, body: bytes) -> None:
        if not self._first_byte:
            self._first_byte = time.perf_counter()
        self._body.append(body)

    def on_message_complete(self) -> None:
        end = time.perf_counter()
        first = self._first_byte or end
        status = self._parser.get_status_code()
        sample = Sample(status, first - self._sent, end - self._sent, b"".join(self._body))
        if self._pending is not None and not self._pending.done():
            self._pending.set_result(sample)

    async def send(self, request: bytes, timeout: float) -> Sample:
        self._pending = asyncio.get_running_loop().create_future()
        self._body, self._first_byte = [], 0.0
        self._sent = time.perf_counter()
        self._transport.write(request)
        return await asyncio.wait_for(self._pending, timeout)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


class ConnectionPool:
    """Idle keep-alive connections to one address; opens another when all are busy."""

    def __init__(self, host: str, port: int) -> None:
        self._host, self._port = host, port
        self._idle: list[_Connection] = []
        self._all: list[_Connection] = []

    async def request(self, raw: bytes, timeout: float = 10.0) -> Sample:
        connection = await self._take()
        sample = await connection.send(raw, timeout)
        if not connection.closed:
            self._idle.append(connection)
        return sample

    async def _take(self) -> _Connection:
        while self._idle:
            connection = self._idle.pop()
            if not connection.closed:
                return connection
        loop = asyncio.get_running_loop()
        _, connection = await loop.create_connection(_Connection, self._host, self._port)
        self._all.append(connection)
        return connection

    def close(self) -> None:
        for connection in self._all:
            connection.close()


async def paced(
    host: str, port: int, raw: bytes | Sequence[bytes], rate: float, count: int
) -> list[Sample]:
    """``count`` requests at ``rate`` per second; raises ProbeError if any failed. Several
    ``raw`` requests are sent in turn (the samples in the same order), so that kinds compared
    with each other share whatever the machine does meanwhile.

    The garbage collector is off meanwhile: its pauses would land in the client's timings.
    """
    requests = [raw] if isinstance(raw, bytes) else list(raw)
    pool = ConnectionPool(host, port)
    start = time.perf_counter()
    tasks = []
    gc.disable()
    try:
        for index in range(count):
            delay = start + index / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(pool.request(requests[index % len(requests)])))
        return await asyncio.gather(*tasks)
    finally:
        gc.enable()
        for task in tasks:
            task.cancel()
        pool.close()


async def once(host: str, port: int, raw: bytes) -> Sample:
    """One request on a fresh connection: the correctness check before a measurement."""
    pool = ConnectionPool(host, port)
    try:
        return await pool.request(raw)
    finally:
        pool.close()
