"""``/v1/admin/keys``: client keys created, changed, rotated and revoked at run time.

Only an admin key (``"admin": true``) may call these routes; with authentication off they are
refused, since every caller would be anonymous. See docs/API.md, "Admin: client keys".
"""

from __future__ import annotations

from litestar import Request, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from gateway_core.errors import PermissionDeniedError
from gateway_core.use_cases.manage_keys import KeyAdmin, KeyView
from gateway_core.use_cases.serve_chat import ChatCaller
from gateway_http.admin.schemas import decode_create, decode_rotate, decode_update, key_body
from gateway_http.media import require_json

_KEYS = "/v1/admin/keys"
_ONE_KEY = "/v1/admin/keys/{key_id:str}"


def _require_admin(caller: ChatCaller) -> None:
    if caller.key is None:
        raise PermissionDeniedError(
            "The admin API needs authentication (LLM_GATEWAY_AUTH_ENABLED=true) and an admin key."
        )
    if not caller.key.admin:
        raise PermissionDeniedError("This API key is not an admin key.")


@post(_KEYS, status_code=201)
async def create_key(
    request: Request, key_admin: NamedDependency[KeyAdmin], caller: NamedDependency[ChatCaller]
) -> dict:
    _require_admin(caller)
    require_json(request)
    key_id, fields = decode_create(await request.body())
    key, secret = await key_admin.create(fields, key_id)
    return key_body(KeyView(key, True), secret)


@get(_KEYS)
async def list_keys(
    key_admin: NamedDependency[KeyAdmin], caller: NamedDependency[ChatCaller]
) -> dict:
    _require_admin(caller)
    return {"object": "list", "data": [key_body(view) for view in await key_admin.list()]}


@get(_ONE_KEY)
async def read_key(
    key_id: FromPath[str], key_admin: NamedDependency[KeyAdmin], caller: NamedDependency[ChatCaller]
) -> dict:
    _require_admin(caller)
    return key_body(await key_admin.get(key_id))


@patch(_ONE_KEY)
async def update_key(
    request: Request,
    key_id: FromPath[str],
    key_admin: NamedDependency[KeyAdmin],
    caller: NamedDependency[ChatCaller],
) -> dict:
    _require_admin(caller)
    require_json(request)
    key = await key_admin.update(key_id, decode_update(await request.body()))
    return key_body(KeyView(key, True))


@post(f"{_ONE_KEY}/disable", status_code=200)
async def disable_key(
    key_id: FromPath[str], key_admin: NamedDependency[KeyAdmin], caller: NamedDependency[ChatCaller]
) -> dict:
    _require_admin(caller)
    return key_body(KeyView(await key_admin.update(key_id, {"disabled": True}), True))


@post(f"{_ONE_KEY}/enable", status_code=200)
async def enable_key(
    key_id: FromPath[str], key_admin: NamedDependency[KeyAdmin], caller: NamedDependency[ChatCaller]
) -> dict:
    _require_admin(caller)
    return key_body(KeyView(await key_admin.update(key_id, {"disabled": False}), True))


@post(f"{_ONE_KEY}/rotate", status_code=200)
async def rotate_key(
    request: Request,
    key_id: FromPath[str],
    key_admin: NamedDependency[KeyAdmin],
    caller: NamedDependency[ChatCaller],
) -> dict:
    _require_admin(caller)
    body = decode_rotate(await request.body())
    key, secret = await key_admin.rotate(key_id, body.overlap_seconds)
    return key_body(KeyView(key, True), secret)


@delete(_ONE_KEY, status_code=200)
async def revoke_key(
    key_id: FromPath[str], key_admin: NamedDependency[KeyAdmin], caller: NamedDependency[ChatCaller]
) -> dict:
    _require_admin(caller)
    await key_admin.revoke(key_id)
    return {"id": key_id, "object": "api_key", "deleted": True}


ADMIN_ROUTES = [create_key, list_keys, read_key, update_key, disable_key, enable_key, rotate_key,
                revoke_key]  # fmt: skip
