"""``GET /v1/models``: the models this configuration can serve right now, to this caller;
``GET /v1/models/{id}``: one model, by any name a request may use (exact, alias, prefix or
pattern match), as the openai SDKs' ``models.retrieve`` asks for it."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from gateway_core.domain.models import ModelInfo
from gateway_core.domain.routing import RoutingTable
from gateway_core.errors import ModelNotFoundError
from gateway_core.use_cases.serve_chat import ChatCaller
from gateway_http.routes.raw_post import app_dependency


def _model_object(model_id: str, owned_by: str, description: str) -> dict[str, Any]:
    return {
        "id": model_id,
        "object": "model",
        "created": 0,
        "owned_by": owned_by,
        "description": description,
    }


@get("/v1/models")
async def list_models(request: Request, caller: NamedDependency[ChatCaller]) -> dict:
    """Needs a key like every ``/v1`` route; a key limited to some models sees only those."""
    served_models: tuple[ModelInfo, ...] = await app_dependency(request, "served_models")
    visible = [m for m in served_models if caller.key is None or caller.key.allows_model(m.id)]
    return {
        "object": "list",
        "data": [_model_object(m.id, m.owned_by, m.description) for m in visible],
    }


@get("/v1/models/{model_id:path}")
async def retrieve_model(
    model_id: FromPath[str], request: Request, caller: NamedDependency[ChatCaller]
) -> dict:
    """404 ``model_not_found`` for a name no request could use, or this key may not."""
    name = model_id.lstrip("/")  # the path converter keeps the leading slash
    if caller.key is not None and not caller.key.allows_model(name):
        raise _not_found(name)
    served_models: tuple[ModelInfo, ...] = await app_dependency(request, "served_models")
    listed = next((m for m in served_models if m.id == name), None)
    if listed is not None:
        return _model_object(name, listed.owned_by, listed.description)
    routing: RoutingTable = await app_dependency(request, "routing")
    try:
        (target, *_) = routing.resolve(name)
    except ModelNotFoundError:
        raise _not_found(name) from None
    return _model_object(name, target.provider, f"served by {target.provider} as {target.model}")


def _not_found(name: str) -> ModelNotFoundError:
    return ModelNotFoundError(
        f"The model '{name}' does not exist or is not served by this gateway.", param="model"
    )
