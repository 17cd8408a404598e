"""``POST /v1/embeddings``: OpenAI's Embeddings API, routed like chat (a raw ASGI route:
``routes/raw_post.py``)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response

from gateway_core.use_cases.create_embeddings import CreateEmbeddings
from gateway_http.caller import Callers
from gateway_http.media import require_json
from gateway_http.raw_request import read_body
from gateway_http.request_record import record_of
from gateway_http.routes.raw_post import raw_post
from gateway_http.schemas.completions import COST_HEADER, cost_header_value
from gateway_http.schemas.embeddings import decode_embeddings_body, embeddings_body

_encode = msgspec.json.Encoder().encode


@raw_post("/v1/embeddings", "embeddings", "callers", name="create_embeddings")
async def create_embeddings(
    request: Request[Any, Any, Any], embeddings: CreateEmbeddings, callers: Callers
) -> Response[bytes]:
    caller = await callers.of(request)
    require_json(request)
    embedding_request, as_base64 = decode_embeddings_body(await read_body(request))
    record = record_of(request.scope)
    record.model = embedding_request.model
    response, cost = await embeddings.serve(embedding_request, caller)
    record.provider = response.provider or None
    record.prompt_tokens = response.usage.prompt_tokens
    record.cost_usd = cost
    body = _encode(embeddings_body(response, cost, as_base64))
    headers = {COST_HEADER: cost_header_value(cost)}
    return Response(content=body, media_type="application/json", headers=headers)
