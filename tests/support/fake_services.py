"""Fake downstream services for the tool backends, on real sockets (aiohttp.web, free ports).

- ``FakeSemanticSearch``: ``POST /v1/search`` strict like the real service (any key it does
  not know -> 422 with a pydantic-shaped ``detail``), ``GET /v1/chunks/{chunk_id}`` (200 or
  404), ``GET /health``.
- ``FakeAiAgents``: ``POST /v1/agents/cross-reference`` and ``/v1/agents/enrich-metadata``,
  checking the request shape the real agents expect and answering ``{"chapters": [...]}``.

Set ``service.fault`` to make every call fail (``ServiceFault``); ``reset()`` clears it, the
request log and releases hanging requests. Start with ``await service.start()``.
"""

from __future__ import annotations

import asyncio
import enum
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


class ServiceFault(enum.Enum):
    SERVER_ERROR = "server_error"  # 500
    UNAVAILABLE = "unavailable"  # 503 with Retry-After: 3, the real service's detail shape
    HANG = "hang"  # accept the request, answer only when reset or stopped
    REDIRECT = "redirect"  # 307 to /elsewhere
    HUGE = "huge"  # 200 with a JSON body of HUGE_BODY_BYTES (Content-Length says so)
    HUGE_STREAMED = "huge_streamed"  # the same, chunked: no Content-Length to go by


RETRY_AFTER_SECONDS = 3
HUGE_BODY_BYTES = 4 * 1024 * 1024
_BODY = web.RequestKey("body", object)


@dataclass(frozen=True)
class ServiceRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class _FakeService:
    host: str = "127.0.0.1"
    port: int = 0
    fault: ServiceFault | None = None
    requests: list[ServiceRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._runner: web.AppRunner | None = None
        self._release = asyncio.Event()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def reset(self) -> None:
        self.fault = None
        self.requests.clear()
        self._release.set()
        self._release = asyncio.Event()

    def _routes(self) -> list[web.RouteDef]:
        raise NotImplementedError

    async def start(self) -> None:
        app = web.Application(middlewares=[self._record_and_fault])
        app.add_routes(self._routes())
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()

    @web.middleware
    async def _record_and_fault(self, request: web.Request, handler: Any) -> web.StreamResponse:
        raw = await request.read()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        self.requests.append(
            ServiceRequest(
                request.method, request.path, dict(request.query), dict(request.headers), body
            )
        )
        request[_BODY] = body
        if self.fault is None:
            return await handler(request)
        return await self._faulty(request, self.fault)

    async def _faulty(self, request: web.Request, fault: ServiceFault) -> web.StreamResponse:
        if fault is ServiceFault.HANG:
            await self._release.wait()
            return web.json_response({"detail": "released"}, status=500)
        if fault is ServiceFault.REDIRECT:
            raise web.HTTPTemporaryRedirect("/elsewhere")
        if fault is ServiceFault.HUGE:
            return web.json_response({"results": ["x" * HUGE_BODY_BYTES], "total": 1})
        if fault is ServiceFault.HUGE_STREAMED:
            return await self._stream_huge(request)
        if fault is ServiceFault.UNAVAILABLE:
            detail = {"error": "vector_store_unavailable", "message": "Qdrant is down"}
            headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
            return web.json_response({"detail": detail}, status=503, headers=headers)
        return web.json_response({"detail": "Internal Server Error"}, status=500)

    async def _stream_huge(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        try:
            await response.write(b'{"results": ["')
            for _ in range(HUGE_BODY_BYTES // 65536):
                await response.write(b"x" * 65536)
            await response.write(b'"]}')
        except ConnectionError:
            pass  # the client stopped reading at its cap, as it should
        return response


def _unprocessable(*problems: tuple[list[Any], str, str]) -> web.Response:
    detail = [{"loc": loc, "msg": msg, "type": kind} for loc, msg, kind in problems]
    return web.json_response({"detail": detail}, status=422)


def _search_problems(body: Any) -> list[tuple[list[Any], str, str]]:
    """What the real service's pydantic model (extra="forbid") would reject."""
    if not isinstance(body, dict):
        return [(["body"], "Input should be a valid dictionary", "dict_type")]
    allowed = {"query", "collection", "limit", "min_score", "expand_abbreviations"}
    problems = [
        (["body", key], "Extra inputs are not permitted", "extra_forbidden")
        for key in body
        if key not in allowed
    ]
    if not isinstance(body.get("query"), str):
        problems.append((["body", "query"], "Field required", "missing"))
    limit = body.get("limit", 10)
    if type(limit) is not int or not 1 <= limit <= 100:
        problems.append((["body", "limit"], "Input should be 1..100", "int_range"))
    score = body.get("min_score", 0)
    if type(score) not in (int, float) or not 0 <= score <= 1:
        problems.append((["body", "min_score"], "Input should be 0..1", "float_range"))
    if not isinstance(body.get("collection", ""), str):
        problems.append((["body", "collection"], "Input should be a string", "string_type"))
    return problems


@dataclass
class FakeSemanticSearch(_FakeService):
    results: list[dict[str, Any]] = field(default_factory=list)
    """Every search answers these (filtered by ``min_score``, cut to ``limit``)."""
    chunks: dict[str, dict[str, Any]] = field(default_factory=dict)

    def reset(self) -> None:
        super().reset()
        self.results.clear()
        self.chunks.clear()

    def _routes(self) -> list[web.RouteDef]:
        return [
            web.post("/v1/search", self._search),
            web.get("/v1/chunks/{chunk_id}", self._chunk),
            web.get("/health", self._health),
        ]

    async def _search(self, request: web.Request) -> web.Response:
        body = request[_BODY]
        problems = _search_problems(body)
        if problems:
            return _unprocessable(*problems)
        min_score = body.get("min_score", 0)
        found = [r for r in self.results if r.get("score", 0) >= min_score][: body.get("limit", 10)]
        answer = {"results": found, "total": len(found), "query": body["query"], "latency_ms": 1.5}
        return web.json_response(answer)

    async def _chunk(self, request: web.Request) -> web.Response:
        chunk = self.chunks.get(request.match_info["chunk_id"])
        if chunk is None:
            return web.json_response({"detail": "Chunk not found"}, status=404)
        return web.json_response(chunk)

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "healthy", "services": {}, "dependencies": {}})


@dataclass
class FakeAiAgents(_FakeService):
    chapters: list[dict[str, Any]] = field(
        default_factory=lambda: [{"book": "Architecture Patterns with Python", "chapter": 2}]
    )

    def _routes(self) -> list[web.RouteDef]:
        return [
            web.post("/v1/agents/cross-reference", self._cross_reference),
            web.post("/v1/agents/enrich-metadata", self._enrich_metadata),
        ]

    async def _cross_reference(self, request: web.Request) -> web.Response:
        body = request[_BODY]
        source = body.get("source") if isinstance(body, dict) else None
        needed = ("book", "chapter", "title", "tier")
        if not isinstance(source, dict) or any(key not in source for key in needed):
            return _unprocessable((["body", "source"], "Field required", "missing"))
        if set(body) - {"source", "config", "taxonomy_id"}:
            return _unprocessable((["body"], "Extra inputs are not permitted", "extra_forbidden"))
        return web.json_response({"chapters": self.chapters, "annotation": "See also ..."})

    async def _enrich_metadata(self, request: web.Request) -> web.Response:
        body = request[_BODY]
        if not isinstance(body, dict) or not body.get("corpus") or not body.get("chapter_index"):
            return _unprocessable((["body", "corpus"], "Field required", "missing"))
        if len(body["corpus"]) != len(body["chapter_index"]):
            return web.json_response({"detail": "corpus and chapter_index differ"}, status=400)
        chapters = [{**entry, "keywords": {"merged": []}} for entry in body["chapter_index"]]
        return web.json_response({"chapters": chapters, "total_cross_references": 0})
