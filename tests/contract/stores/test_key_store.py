"""The ``KeyStore`` contract, run against every implementation (memory and real Redis)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from redis.asyncio import Redis

from gateway_adapters.stores.redis.keys import RedisKeyStore
from gateway_core.domain.api_keys import ApiKey, hash_secret
from gateway_core.domain.money import Money
from gateway_core.memory import InMemoryKeyStore
from gateway_core.ports.api_keys import KeyStore


def _key(key_id: str, secret: str | None = None, **fields: object) -> ApiKey:
    return ApiKey(id=key_id, name=key_id.title(), sha256=hash_secret(secret or key_id), **fields)


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest) -> KeyStore:
    if request.param == "memory":
        return InMemoryKeyStore()
    prefix = request.getfixturevalue("key_prefix")
    return RedisKeyStore(request.getfixturevalue("redis_client"), key_prefix=prefix)


async def test_a_created_key_reads_back_whole(store: KeyStore) -> None:
    key = _key("team-a", requests_per_minute=5, allowed_models=("gpt-4o*",),
               monthly_budget_usd=Money.usd("12.5"), admin=True, expires_at=1_900_000_000.0,
               created_at=1_700_000_000.5)  # fmt: skip
    assert await store.create(key)
    assert await store.get("team-a") == key
    assert await store.list() == [key]


async def test_an_id_or_a_hash_is_never_stored_twice(store: KeyStore) -> None:
    assert await store.create(_key("a"))
    assert not await store.create(_key("a", secret="other"))
    assert not await store.create(_key("b", secret="a"))
    assert await store.list() == [_key("a")]


async def test_list_is_ordered_by_id(store: KeyStore) -> None:
    for key_id in ("c", "a", "b"):
        await store.create(_key(key_id))
    assert [key.id for key in await store.list()] == ["a", "b", "c"]


async def test_replace_changes_fields_and_hashes(store: KeyStore) -> None:
    await store.create(_key("a"))
    rotated = replace(_key("a", secret="new"), previous_sha256=hash_secret("a"),
                      previous_valid_until=5.0, disabled=True)  # fmt: skip
    assert await store.replace(rotated)
    assert await store.get("a") == rotated
    # The old hash still belongs to 'a' (the overlap); a third secret frees it.
    assert not await store.create(_key("b", secret="a"))
    assert await store.replace(_key("a", secret="third"))
    assert await store.create(_key("b", secret="a"))


async def test_replace_refuses_a_missing_key_or_another_keys_hash(store: KeyStore) -> None:
    assert not await store.replace(_key("ghost"))
    await store.create(_key("a"))
    await store.create(_key("b"))
    assert not await store.replace(_key("a", secret="b"))
    assert await store.get("a") == _key("a")


async def test_delete_frees_the_id_and_the_hashes(store: KeyStore) -> None:
    await store.create(_key("a"))
    assert await store.delete("a")
    assert not await store.delete("a")
    assert await store.get("a") is None and await store.list() == []
    assert await store.create(_key("a2", secret="a"))


async def test_every_write_moves_the_version_and_reads_do_not(store: KeyStore) -> None:
    seen = [await store.version()]
    await store.create(_key("a"))
    seen.append(await store.version())
    await store.get("a")
    await store.list()
    assert await store.version() == seen[-1]
    await store.replace(_key("a", disabled=True))
    seen.append(await store.version())
    await store.delete("a")
    seen.append(await store.version())
    assert len(set(seen)) == 4
    before = await store.version()
    assert not await store.delete("missing")
    assert await store.version() == before
    assert await store.create(_key("c", secret="c"))
    assert await store.version() != before
    before = await store.version()
    assert not await store.create(_key("c2", secret="c"))
    assert await store.version() == before  # a refused write changes nothing


async def test_redis_key_records_keep_the_budget_a_json_number(
    redis_client: Redis, key_prefix: str
) -> None:
    """Records written before the budget was ``Money`` (a JSON float) read back exactly, and
    new records still hold a JSON number, so replicas on either release read each other's."""
    store = RedisKeyStore(redis_client, key_prefix=key_prefix)
    await store.create(_key("team-a", monthly_budget_usd=Money.usd("0.1")))
    records = f"{key_prefix}:{{keys}}:records"
    record = json.loads(await redis_client.hget(records, "team-a"))
    assert record["monthly_budget_usd"] == 0.1
    record["monthly_budget_usd"] = 12.3456789012  # as the old release wrote it
    await redis_client.hset(records, "team-a", json.dumps(record))
    key = await store.get("team-a")
    assert key is not None and key.monthly_budget_usd == Money.usd("12.3456789012")
