"""A fake LLM upstream on a real socket that speaks the vendors' wire formats.

One aiohttp server serves all three dialects at their real paths:

- OpenAI Chat Completions: ``POST /v1/chat/completions`` (JSON, or SSE when ``stream``)
- Anthropic Messages: ``POST /v1/messages`` (JSON, or SSE with named events)
- Ollama: ``POST /api/chat`` (JSON, or NDJSON when ``stream`` is not false)

Tests script what the next calls answer with ``Turn`` values (text, tool calls, usage, or a
``Fault``), and read back every request the server received in ``upstream.requests``.
"""

from tests.support.fake_upstream.server import FakeUpstream, Fault, RecordedRequest, Turn

__all__ = ["FakeUpstream", "Fault", "RecordedRequest", "Turn"]
