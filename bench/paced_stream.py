"""Paced streams for the mock upstream: a first-token delay, then N chunks at an interval.

Real upstreams write a stream a token at a time, each chunk its own write, over seconds; the
plain mock writes a whole stream at once. With ``--pace-chunks`` the mock answers a streamed
OpenAI request progressively instead: the head at once, the first chunk after the first-token
delay, then one chunk per interval, each its own write, then the finish and usage chunks and
``[DONE]``.

Every content chunk carries the moment it was written (``tok@<CLOCK_MONOTONIC ns>``, a clock
all processes of the machine share), so the client can tell how long each chunk took to reach
it; through a gateway minus direct is the delay the gateway adds to each chunk.

One timer drives every stream: the interval is cut into 1 ms slots, and a stream goes in the
slot its first chunk falls due in, so that, as from a real upstream, its chunks come its
first-token delay after its request and then every interval, and streams are spread over the
slots as their requests are spread over time; thousands of open streams cost one timer
callback per millisecond. (Slots handed out in turn instead, whatever the time, added up to an
interval to the first-token delay and bunched the streams' ends, and so the next requests,
into waves: at 1,000 streams of 50 chunks 100 ms apart, a fifth of every 124 ms held all of
its stream ends and starts.)
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from dataclasses import dataclass

_SLOT_S = 0.001
_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
    b"transfer-encoding: chunked\r\n\r\n"
)


def _frame(event: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(event), event)


def _chunk(delta: dict, finish: str | None = None) -> dict:
    return {"id": "chatcmpl-paced", "object": "chat.completion.chunk", "created": 1_700_000_000,
            "model": "bench-model", "choices": [{"index": 0, "delta": delta,
                                                 "finish_reason": finish}]}


_PREFIX, _, _SUFFIX = json.dumps(_chunk({"content": "@@"}), separators=(",", ":")).partition("@@")
_PREFIX_B, _SUFFIX_B = b"data: " + _PREFIX.encode(), _SUFFIX.encode() + b"\n\n"


def content_event(now_ns: int) -> bytes:
    return _frame(b"%stok@%d %s" % (_PREFIX_B, now_ns, _SUFFIX_B))


def _closing(chunks: int) -> bytes:
    usage = {"prompt_tokens": 20, "completion_tokens": chunks, "total_tokens": 20 + chunks}
    events = [
        b"data: " + json.dumps(_chunk({}, "stop"), separators=(",", ":")).encode() + b"\n\n",
        b"data: " + json.dumps({**_chunk({}), "choices": [], "usage": usage},
                               separators=(",", ":")).encode() + b"\n\n",
        b"data: [DONE]\n\n",
    ]
    return b"".join(_frame(e) for e in events) + b"0\r\n\r\n"


@dataclass(frozen=True, slots=True)
class Pace:
    chunks: int
    interval_s: float
    first_token_s: float


class _Stream:
    __slots__ = ("due", "sent", "transport")

    def __init__(self, transport: asyncio.Transport, due: float) -> None:
        self.transport, self.sent, self.due = transport, 0, due


class Pacer:
    """Writes every open paced stream's next chunk when its slot comes round."""

    def __init__(self, pace: Pace) -> None:
        self._pace = pace
        self._slots: list[list[_Stream]] = [
            [] for _ in range(max(1, round(pace.interval_s / _SLOT_S)))
        ]
        self._closing = _closing(pace.chunks)
        self._ticking = False
        self._current = 0  # the slot the next tick writes
        self._next_at = 0.0  # the loop time that tick is scheduled for

    def start(self, transport: asyncio.Transport) -> None:
        transport.write(_HEAD)
        loop = asyncio.get_running_loop()
        now = loop.time()
        if not self._ticking:
            self._ticking = True
            self._next_at = now
            loop.call_soon(self._tick, now)
        # The stream goes in the slot of the first tick scheduled for its first chunk's time
        # (give or take half a slot), counted from the next tick's scheduled time, not from
        # now: a loaded loop runs its ticks late and then in a burst, and a slot counted from
        # now would come round early in that burst, and the stream a whole interval late.
        due = now + self._pace.first_token_s
        ticks = max(0, math.ceil((due - _SLOT_S / 2 - self._next_at) / _SLOT_S))
        self._slots[(self._current + ticks) % len(self._slots)].append(_Stream(transport, due))

    def _tick(self, scheduled: float) -> None:
        loop = asyncio.get_running_loop()
        index = self._current
        self._current = (index + 1) % len(self._slots)
        self._next_at = scheduled + _SLOT_S
        if self._slots[index]:
            # Scheduled times, not the loop's: a late tick writes what was due at its time.
            self._slots[index] = self._write(self._slots[index], scheduled)
        if any(self._slots):
            loop.call_at(self._next_at, self._tick, self._next_at)
        else:
            self._ticking = False

    def _write(self, slot: list[_Stream], scheduled: float) -> list[_Stream]:
        kept = []
        stamp = time.monotonic_ns()
        for stream in slot:
            if stream.transport.is_closing():
                continue
            if scheduled < stream.due - _SLOT_S:
                kept.append(stream)  # a first-token delay longer than the interval: a turn more
                continue
            stream.transport.write(content_event(stamp))
            stream.sent += 1
            if stream.sent < self._pace.chunks:
                kept.append(stream)
            else:
                stream.transport.write(self._closing)
        return kept
