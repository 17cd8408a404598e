"""What the stream accumulator costs a chunk, here and at another commit (issue 12's extras).

``uv run python -m bench.accumulator_cost [REV]`` (default ``main``): the checked-out
``StreamAccumulator.add`` against the one at ``REV`` (read with ``git show``), on 500 chunks as
the OpenAI adapter decodes them (``"logprobs": null`` and ``service_tier`` and
``system_fingerprint`` on every chunk) and on 500 bare text chunks (Anthropic, Ollama), runs
interleaved, best of many. For scale it prints what decoding one OpenAI chunk costs.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import tempfile
import timeit
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from gateway_adapters.providers.openai.wire import decode_chunk
from gateway_core.domain.chat import ChatChunk
from gateway_core.domain.stream_accumulator import StreamAccumulator

_PATH = "packages/gateway-core/src/gateway_core/domain/stream_accumulator.py"
_CHUNKS = 500


def _accumulator_at(rev: str) -> type[Any]:
    source = subprocess.run(
        ["git", "show", f"{rev}:{_PATH}"], check=True, capture_output=True, text=True
    ).stdout
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as file:
        file.write(source)
    spec = importlib.util.spec_from_file_location("accumulator_before", file.name)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    Path(file.name).unlink()
    return module.StreamAccumulator  # type: ignore[no-any-return]


def _openai_events() -> list[str]:
    envelope = {
        "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o",
        "service_tier": "default", "system_fingerprint": "fp_1",
    }  # fmt: skip
    return [
        json.dumps({**envelope, "choices": [
            {"index": 0, "delta": {"content": " word"}, "logprobs": None, "finish_reason": None}
        ]})
        for _ in range(_CHUNKS)
    ]  # fmt: skip


def _per_chunk(run: Callable[[], None], count: int) -> float:
    return min(timeit.repeat(run, number=20, repeat=3)) / 20 / count * 1e9


def _adding(cls: type[Any], chunks: Sequence[ChatChunk]) -> Callable[[], None]:
    def run() -> None:
        add = cls().add
        for chunk in chunks:
            add(chunk)

    return run


def main(rev: str) -> None:
    events = _openai_events()
    shapes = {
        "openai-shaped": [c for event in events for c in decode_chunk(event, "openai")],
        "bare": [ChatChunk(content=" word") for _ in range(_CHUNKS)],
    }
    versions = {rev: _accumulator_at(rev), "checked out": StreamAccumulator}
    best: dict[tuple[str, str], float] = {}
    for _ in range(5):  # interleaved: a busy machine slows both alike
        for shape, chunks in shapes.items():
            for name, cls in versions.items():
                cost = _per_chunk(_adding(cls, chunks), len(chunks))
                best[shape, name] = min(best.get((shape, name), cost), cost)
    for (shape, name), cost in best.items():
        print(f"add(), {shape:13s} {name:12s} {cost:6.0f} ns/chunk")
    decoding = _per_chunk(lambda: [decode_chunk(event, "openai") for event in events], _CHUNKS)
    print(f"decode_chunk (for scale)               {decoding:6.0f} ns/chunk")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "main")
