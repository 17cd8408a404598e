"""Thousands of slow streams held open at once: CPU per chunk, memory per stream, chunk delay.

LLM clients mostly stream, and a stream is mostly waiting: a first token, then a chunk every
few tens of milliseconds for seconds. What matters then is not requests/s but what each open
stream costs and how late the gateway passes each chunk on. This scenario:

1. starts a second mock upstream that paces its streams (``bench/paced_stream.py``): a
   first-token delay, then ``chunks`` chunks ``interval`` apart, each stamped with the moment
   it was written;
2. opens ``streams`` connections to the target (the mock itself for the direct baseline, the
   gateway, or an anchor), spread over one ramp period, each asking for one stream after the
   other until the measured window ends;
3. measures, over the window: the target's CPU per chunk delivered, its resident memory with
   every stream open minus its memory before (per open stream), and each chunk's delay from
   the mock's write to the client's read. The delay through a target minus the delay direct
   (same run, same load) is the delay the target adds.
"""

from __future__ import annotations

import asyncio
import gc
import time
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field

import httptools

_STAMP = b"tok@"


@dataclass(frozen=True, slots=True)
class SlowLoad:
    streams: int = 2000
    chunks: int = 50
    interval_ms: float = 20.0
    first_token_ms: float = 200.0
    ramp_s: float | None = None
    """Streams open spread over this long (by default one stream's length), as real clients'
    requests arrive spread. A ramp shorter than a stream makes the load come in waves: every
    stream ends and asks for the next within the ramp, so the measured window holds either
    all of the stream starts or none of them."""
    window_s: float = 10.0
    """The measured window, after the ramp and one stream's length."""

    @property
    def stream_s(self) -> float:
        return self.first_token_ms / 1000 + self.chunks * self.interval_ms / 1000

    @property
    def spread_s(self) -> float:
        return self.stream_s if self.ramp_s is None else self.ramp_s


def _delays() -> array:
    return array("q")


@dataclass(slots=True)
class Tally:
    first_delays_ns: array = field(default_factory=_delays)
    """Each stream's first chunk's delay, from the mock's write to the client's read: the
    stream's first byte, which waits for the gateway's response to start, not only for its
    relay of a chunk."""
    later_delays_ns: array = field(default_factory=_delays)
    """The other chunks' delays: the delay between chunks."""
    chunks: int = 0
    completed: int = 0
    failed: int = 0
    bad_status: int = 0

    @property
    def delays_ns(self) -> array:
        """Every chunk's delay."""
        return self.first_delays_ns + self.later_delays_ns


class _Stream(asyncio.Protocol):
    """One connection that asks for one stream after another until told to stop."""

    def __init__(self, raw: bytes, tally: Tally, measuring: list[bool], stop: list[bool]) -> None:
        self._raw, self._tally, self._measuring, self._stop = raw, tally, measuring, stop
        self._parser = httptools.HttpResponseParser(self)
        self._transport: asyncio.Transport | None = None
        self._tail = b""
        self._first = True
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        self._transport.write(self._raw)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            if not self._stop[0]:
                self._tally.failed += 1
            self.done.set_result(None)

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            self._tally.failed += 1
            self._transport.close()

    def on_body(self, body: bytes) -> None:
        now = time.monotonic_ns()
        text = self._tail + body if self._tail else body
        position = text.find(_STAMP)
        while position >= 0:
            end = text.find(b" ", position)
            if end < 0:  # the stamp is cut across two reads
                self._tail = text[position:]
                return
            if self._measuring[0]:
                delay = now - int(text[position + 4 : end])
                self._tally.chunks += 1
                if self._first:
                    self._tally.first_delays_ns.append(delay)
                else:
                    self._tally.later_delays_ns.append(delay)
            self._first = False
            position = text.find(_STAMP, end)
        self._tail = b""

    def on_message_complete(self) -> None:
        if self._parser.get_status_code() != 200:
            self._tally.bad_status += 1
        elif self._measuring[0]:
            self._tally.completed += 1
        if self._stop[0]:
            self._transport.close()
        else:
            self._first = True
            self._transport.write(self._raw)


async def hold(host: str, port: int, raw: bytes, load: SlowLoad, on_window) -> Tally:
    """Keep ``load.streams`` streams open; ``on_window(start|end)`` marks the measured window."""
    loop = asyncio.get_running_loop()
    tally = Tally()
    measuring, stop = [False], [False]
    streams: list[_Stream] = []
    gc.disable()  # the client's pauses would land in the delays it measures
    try:
        began = loop.time()
        for index in range(load.streams):
            delay = began + index * load.spread_s / load.streams - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            _, stream = await loop.create_connection(
                lambda: _Stream(raw, tally, measuring, stop), host, port
            )
            streams.append(stream)
        stream_s = load.stream_s
        await asyncio.sleep(min(stream_s, 5.0))  # every connection in its stream by now
        on_window("start")
        measuring[0] = True
        await asyncio.sleep(load.window_s)
        measuring[0] = False
        on_window("end")
        stop[0] = True
        await asyncio.wait([s.done for s in streams], timeout=stream_s + 5)
    finally:
        gc.enable()
        for stream in streams:
            if stream._transport is not None:
                stream._transport.close()
    return tally


def percentiles_ms(values_ns: Sequence[int]) -> dict[str, float]:
    ordered = sorted(values_ns)
    if not ordered:
        return {}

    def rank(quantile: float) -> float:
        return ordered[min(len(ordered) - 1, int(quantile * len(ordered)))] / 1e6

    return {"p50": rank(0.50), "p90": rank(0.90), "p99": rank(0.99), "max": ordered[-1] / 1e6}
