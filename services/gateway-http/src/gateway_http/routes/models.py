"""``GET /v1/models``: the models this configuration can serve right now."""

from __future__ import annotations

from litestar import get

from gateway_core.domain.models import ModelInfo


@get("/v1/models")
async def list_models(served_models: tuple[ModelInfo, ...]) -> dict:
    return {
        "object": "list",
        "data": [
            {
                "id": model.id,
                "object": "model",
                "created": 0,
                "owned_by": model.owned_by,
                "description": model.description,
            }
            for model in served_models
        ],
    }
