"""``POST /v1/responses``: the Responses API subset consumers use (see schemas/responses.py)."""

from __future__ import annotations

import time

import msgspec
from litestar import Request, Response, post

from gateway_http.caller import ChatApi
from gateway_http.ids import new_id
from gateway_http.media import require_json
from gateway_http.request_record import record_of
from gateway_http.schemas.completions import COST_HEADER, cost_header_value
from gateway_http.schemas.responses import decode_responses_body, response_body, to_chat_request

_encode = msgspec.json.Encoder().encode


@post("/v1/responses", status_code=200)
async def create_response(request: Request, chat_api: ChatApi) -> Response:
    caller = chat_api.callers.of(request)
    require_json(request)
    chat_request = to_chat_request(decode_responses_body(await request.body()))
    record = record_of(request.scope)
    record.model = chat_request.model
    turn = record.turn = chat_api.serve.start(chat_request, caller)
    response = await turn.complete()
    outcome = turn.outcome
    headers = {**outcome.rate_limit_headers, COST_HEADER: cost_header_value(outcome.cost_usd)}
    body = response_body(response, new_id(), int(time.time()))
    return Response(content=_encode(body), media_type="application/json", headers=headers)
