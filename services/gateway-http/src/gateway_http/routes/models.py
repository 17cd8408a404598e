"""``GET /v1/models``: the models this configuration can serve right now, to this caller."""

from __future__ import annotations

from litestar import get

from gateway_core.domain.models import ModelInfo
from gateway_core.use_cases.serve_chat import ChatCaller


@get("/v1/models")
async def list_models(served_models: tuple[ModelInfo, ...], caller: ChatCaller) -> dict:
    """Needs a key like every ``/v1`` route; a key limited to some models sees only those."""
    visible = [m for m in served_models if caller.key is None or caller.key.allows_model(m.id)]
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
            for model in visible
        ],
    }
