"""``GET /openapi.json`` (the OpenAPI 3.1 contract) and ``GET /docs`` (a page that renders it)."""

from __future__ import annotations

from functools import cache

import msgspec
from litestar import Response, get

from gateway_core import __version__
from gateway_http.openapi import build_openapi
from gateway_http.openapi.docs_page import DOCS_PAGE


@cache
def _document() -> bytes:
    return msgspec.json.encode(build_openapi(__version__))


@get("/openapi.json", include_in_schema=False)
async def openapi_document() -> Response:
    return Response(content=_document(), media_type="application/json")


@get("/docs", include_in_schema=False)
async def docs_page() -> Response:
    return Response(content=DOCS_PAGE, media_type="text/html; charset=utf-8")
