"""Request media-type checks shared by the JSON routes."""

from __future__ import annotations

from litestar import Request
from litestar.exceptions import HTTPException

from gateway_http.raw_request import header_values


def require_json(request: Request) -> None:
    """Refuse a declared non-JSON body with 415; a missing Content-Type is tolerated."""
    content_type = header_values(request.scope).get("content-type")
    if content_type is None:
        return
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise HTTPException(
            status_code=415,
            detail=f"Content-Type must be application/json, not '{media_type}'.",
        )
