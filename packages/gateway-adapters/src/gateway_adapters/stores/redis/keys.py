"""``KeyStore`` on Redis: every replica's managed client keys, hashes only.

Layout (``{keys}`` is a Redis Cluster hash tag: the three keys share one slot, so each Lua
script below touches one slot only)::

    <prefix>:{keys}:records   hash  key id -> the key as JSON (no secret: SHA-256 hashes)
    <prefix>:{keys}:hashes    hash  sha256 -> key id (current and previous hashes): uniqueness
    <prefix>:{keys}:version   int   incremented by every write; replicas poll it

None of them has a TTL, so no ``volatile-*`` memory policy can ever evict a key. Each write is
one script: the checks (id free, hashes free) and the writes happen with nothing in between.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from redis.asyncio import Redis

from gateway_adapters.stores.redis.errors import translated_redis_errors
from gateway_core.domain.api_keys import ApiKey
from gateway_core.domain.money import Money

_STORE = "key"

# KEYS: records, hashes, version. ARGV: id, json, then the key's hashes.
_CREATE = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
for i = 3, #ARGV do
  if redis.call('HEXISTS', KEYS[2], ARGV[i]) == 1 then return 0 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
for i = 3, #ARGV do redis.call('HSET', KEYS[2], ARGV[i], ARGV[1]) end
redis.call('INCR', KEYS[3])
return 1
"""

_DROP_HASHES = """
local function drop_hashes(record)
  local old = cjson.decode(record)
  redis.call('HDEL', KEYS[2], old['sha256'])
  if type(old['previous_sha256']) == 'string' then
    redis.call('HDEL', KEYS[2], old['previous_sha256'])
  end
end
"""

# Same KEYS and ARGV as _CREATE; the key must exist, and its new hashes be its own or free.
_REPLACE = (
    _DROP_HASHES
    + """
local record = redis.call('HGET', KEYS[1], ARGV[1])
if not record then return 0 end
for i = 3, #ARGV do
  local owner = redis.call('HGET', KEYS[2], ARGV[i])
  if owner and owner ~= ARGV[1] then return 0 end
end
drop_hashes(record)
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
for i = 3, #ARGV do redis.call('HSET', KEYS[2], ARGV[i], ARGV[1]) end
redis.call('INCR', KEYS[3])
return 1
"""
)

# Same KEYS. ARGV: id.
_DELETE = (
    _DROP_HASHES
    + """
local record = redis.call('HGET', KEYS[1], ARGV[1])
if not record then return 0 end
drop_hashes(record)
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('INCR', KEYS[3])
return 1
"""
)


class RedisKeyStore:
    """A ``KeyStore`` shared by every gateway replica that uses the same Redis."""

    def __init__(self, client: Redis, key_prefix: str = "llmgw") -> None:
        self._client = client
        self._names = [f"{key_prefix}:{{keys}}:{part}" for part in ("records", "hashes", "version")]
        self._create = client.register_script(_CREATE)
        self._replace = client.register_script(_REPLACE)
        self._delete = client.register_script(_DELETE)

    async def list(self) -> list[ApiKey]:
        with translated_redis_errors(_STORE):
            records = await self._client.hgetall(self._names[0])
        keys = [key_from_json(value) for value in records.values()]
        return sorted(keys, key=lambda key: key.id)

    async def get(self, key_id: str) -> ApiKey | None:
        with translated_redis_errors(_STORE):
            record = await self._client.hget(self._names[0], key_id)
        return None if record is None else key_from_json(record)

    async def create(self, key: ApiKey) -> bool:
        with translated_redis_errors(_STORE):
            return bool(await self._create(keys=self._names, args=_args(key)))

    async def replace(self, key: ApiKey) -> bool:
        with translated_redis_errors(_STORE):
            return bool(await self._replace(keys=self._names, args=_args(key)))

    async def delete(self, key_id: str) -> bool:
        with translated_redis_errors(_STORE):
            return bool(await self._delete(keys=self._names, args=[key_id]))

    async def version(self) -> int:
        with translated_redis_errors(_STORE):
            value = await self._client.get(self._names[2])
        return int(value or 0)


def _args(key: ApiKey) -> list[str]:
    return [key.id, key_to_json(key), *key.hashes()]


def key_to_json(key: ApiKey) -> str:
    record: dict[str, Any] = dataclasses.asdict(key)
    record["allowed_models"] = list(key.allowed_models)
    # A JSON number, as records always held: replicas on an older release read it too.
    budget = key.monthly_budget_usd
    record["monthly_budget_usd"] = None if budget is None else budget.to_float()
    return json.dumps(record, separators=(",", ":"))


def key_from_json(raw: bytes | str) -> ApiKey:
    record = json.loads(raw)
    known = {field.name for field in dataclasses.fields(ApiKey)}
    values = {name: value for name, value in record.items() if name in known}
    values["allowed_models"] = tuple(values.get("allowed_models", ()))
    budget = values.get("monthly_budget_usd")
    values["monthly_budget_usd"] = None if budget is None else Money.usd(budget)
    return ApiKey(**values)
