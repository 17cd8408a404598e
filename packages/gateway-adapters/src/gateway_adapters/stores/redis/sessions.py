"""Sessions in Redis: a hash for the metadata and a list for the messages, per session.

Keys are ``{prefix}:session:{<id>}:meta``, ``...:messages`` and ``...:lock``; the ``{<id>}``
hash tag puts one session's keys in one Redis Cluster slot, so its scripts and transactions
work on a cluster. Redis deletes both keys ``ttl_seconds`` after the last write (PEXPIRE, in
real time); reads and scripts also compare ``expires_at`` with the injected clock, so a session
is gone at the same moment by both stores' contract. Appends are one Lua script (check owner,
expiry and revision; RPUSH; trim; HINCRBY; PEXPIRE): never a read-modify-write of a blob.
The session's totals are integer fields of the meta hash (the cost in picodollars, so sums
stay exact), added by the same script.
The turn lock is SET NX PX with a random token, released by a compare-and-delete script.
"""

from __future__ import annotations

import asyncio
import random
import secrets
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import msgspec
from redis.asyncio import Redis

from gateway_adapters.stores.codec import decode_message, encode_message
from gateway_adapters.stores.redis.errors import translated_redis_errors
from gateway_core.domain.messages import Message
from gateway_core.domain.money import Money
from gateway_core.domain.sessions import Session, SessionUsage, Trim
from gateway_core.domain.usage import Usage
from gateway_core.errors import SessionBusyError, SessionNotFoundError, StoreUnavailableError
from gateway_core.ports.clock import Clock

_STORE = "session"
_POLL_SECONDS = (0.005, 0.025)
"""A waiter for a busy lock polls at a random interval in this range, so waiters spread out."""

# KEYS: meta, messages. ARGV: owner, revision, now_ms, keep, drop, then the turn's
# prompt_tokens, completion_tokens, cached_tokens and cost_picodollars, then message...
# Increments stay strings: HINCRBY parses them as 64-bit integers, Lua numbers are doubles.
_APPEND = """
local meta = redis.call('HMGET', KEYS[1], 'owner', 'revision', 'expires_at_ms', 'ttl_seconds')
if not meta[1] or meta[1] ~= ARGV[1] or tonumber(meta[3]) <= tonumber(ARGV[3]) then
  return {'not_found'}
end
if meta[2] ~= ARGV[2] then return {'busy'} end
for i = 10, #ARGV do redis.call('RPUSH', KEYS[2], ARGV[i]) end
local keep, drop = tonumber(ARGV[4]), tonumber(ARGV[5])
if drop > 0 then
  local head = {}
  if keep > 0 then head = redis.call('LRANGE', KEYS[2], 0, keep - 1) end
  redis.call('LTRIM', KEYS[2], keep + drop, -1)
  for i = #head, 1, -1 do redis.call('LPUSH', KEYS[2], head[i]) end
end
local ttl_ms = tonumber(meta[4]) * 1000
redis.call('HSET', KEYS[1], 'expires_at_ms', string.format('%d', tonumber(ARGV[3]) + ttl_ms))
redis.call('HINCRBY', KEYS[1], 'revision', 1)
redis.call('HINCRBY', KEYS[1], 'turns', 1)
redis.call('HINCRBY', KEYS[1], 'prompt_tokens', ARGV[6])
redis.call('HINCRBY', KEYS[1], 'completion_tokens', ARGV[7])
redis.call('HINCRBY', KEYS[1], 'cached_tokens', ARGV[8])
redis.call('HINCRBY', KEYS[1], 'cost_picodollars', ARGV[9])
redis.call('PEXPIRE', KEYS[1], ttl_ms)
redis.call('PEXPIRE', KEYS[2], ttl_ms)
return {'ok', redis.call('HGETALL', KEYS[1]), redis.call('LRANGE', KEYS[2], 0, -1)}
"""

# KEYS: meta, messages. ARGV: owner, now_ms.
_DELETE = """
local meta = redis.call('HMGET', KEYS[1], 'owner', 'expires_at_ms')
if not meta[1] or meta[1] ~= ARGV[1] or tonumber(meta[2]) <= tonumber(ARGV[2]) then
  return 0
end
return redis.call('DEL', KEYS[1], KEYS[2]) > 0 and 1 or 0
"""

# KEYS: lock. ARGV: token.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisSessionStore:
    """A ``SessionStore`` shared by every gateway process that uses the same Redis."""

    def __init__(self, client: Redis, clock: Clock, key_prefix: str = "llmgw") -> None:
        self._client = client
        self._clock = clock
        self._prefix = key_prefix
        self._append = client.register_script(_APPEND)
        self._delete = client.register_script(_DELETE)
        self._release_lock = client.register_script(_RELEASE)

    async def create(self, session: Session) -> None:
        meta, messages = self._keys(session.id)
        ttl_ms = session.ttl_seconds * 1000
        with translated_redis_errors(_STORE):
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.hset(meta, mapping=_meta_fields(session))  # type: ignore[arg-type]  # redis-py's Mapping is invariant in its value type
                pipe.pexpire(meta, ttl_ms)
                if session.messages:
                    pipe.rpush(messages, *(encode_message(m) for m in session.messages))
                    pipe.pexpire(messages, ttl_ms)
                await pipe.execute()

    async def get(self, session_id: str, owner: str | None) -> Session | None:
        meta, messages = self._keys(session_id)
        with translated_redis_errors(_STORE):
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.hgetall(meta)
                pipe.lrange(messages, 0, -1)
                fields, raw_messages = await pipe.execute()
        if not fields:
            return None
        session = _session(session_id, fields, raw_messages)
        if session.owner != owner or session.is_expired(self._clock.now()):
            return None
        return session

    async def append(
        self,
        session_id: str,
        owner: str | None,
        messages: Sequence[Message],
        *,
        revision: int,
        trim: Trim,
        usage: Usage = Usage(),
        cost_usd: Money = Money.ZERO,
    ) -> Session:
        args: list[Any] = [_owner_field(owner), revision, self._now_ms(), trim.keep, trim.drop]
        args.extend(_usage_increments(usage, cost_usd))
        args.extend(encode_message(m) for m in messages)
        with translated_redis_errors(_STORE):
            reply = await self._append(keys=list(self._keys(session_id)), args=args)
        status = _text(reply[0])
        if status == "not_found":
            raise SessionNotFoundError("This session does not exist or has expired.")
        if status == "busy":
            raise SessionBusyError("Another turn of this session was saved first; try again.")
        fields = dict(zip(reply[1][::2], reply[1][1::2], strict=True))
        return _session(session_id, fields, reply[2])

    async def delete(self, session_id: str, owner: str | None) -> bool:
        with translated_redis_errors(_STORE):
            deleted = await self._delete(
                keys=list(self._keys(session_id)), args=[_owner_field(owner), self._now_ms()]
            )
        return bool(deleted)

    @asynccontextmanager
    async def lock(self, session_id: str, *, timeout: float, lease: float) -> AsyncIterator[None]:
        key = self._key(session_id, "lock")
        token = secrets.token_hex(16)
        await self._acquire(key, token, timeout, lease)
        try:
            yield
        finally:
            await self._release(key, token)

    async def ping(self) -> None:
        with translated_redis_errors(_STORE):
            await self._client.ping()

    async def _acquire(self, key: str, token: str, timeout: float, lease: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        lease_ms = max(1, round(lease * 1000))
        while True:
            with translated_redis_errors(_STORE):
                if await self._client.set(key, token, nx=True, px=lease_ms):
                    return
            if loop.time() >= deadline:
                raise SessionBusyError("Another turn of this session is still running.")
            await asyncio.sleep(random.uniform(*_POLL_SECONDS))

    async def _release(self, key: str, token: str) -> None:
        try:
            with translated_redis_errors(_STORE):
                await self._release_lock(keys=[key], args=[token])
        except StoreUnavailableError:
            # The turn itself is over (maybe saved): failing it now would make the client
            # retry a saved turn. An unreleased lock frees itself when its lease runs out.
            return

    def _keys(self, session_id: str) -> tuple[str, str]:
        return self._key(session_id, "meta"), self._key(session_id, "messages")

    def _key(self, session_id: str, part: str) -> str:
        return f"{self._prefix}:session:{{{session_id}}}:{part}"

    def _now_ms(self) -> int:
        return round(self._clock.now() * 1000)


def _owner_field(owner: str | None) -> str:
    # JSON keeps "no owner" (null) apart from every owner id, the empty string included.
    return msgspec.json.encode(owner).decode()


def _meta_fields(session: Session) -> dict[str, str | int]:
    return {
        "owner": _owner_field(session.owner),
        "created_at_ms": round(session.created_at * 1000),
        "expires_at_ms": round(session.expires_at * 1000),
        "ttl_seconds": session.ttl_seconds,
        "revision": session.revision,
        "context": msgspec.json.encode(session.context).decode(),
        "metadata": msgspec.json.encode(session.metadata).decode(),
        "turns": session.usage.turns,
        "prompt_tokens": session.usage.prompt_tokens,
        "completion_tokens": session.usage.completion_tokens,
        "cached_tokens": session.usage.cached_tokens,
        "cost_picodollars": session.usage.cost_usd.picodollars,
    }


def _usage_increments(usage: Usage, cost_usd: Money) -> list[int]:
    tokens = [usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens]
    return [*tokens, cost_usd.picodollars]


def _usage(meta: Mapping[str, str]) -> SessionUsage:
    # Sessions saved before totals existed have none of these fields: they count from zero.
    def count(name: str) -> int:
        return int(meta.get(name, 0))

    return SessionUsage(
        turns=count("turns"),
        prompt_tokens=count("prompt_tokens"),
        completion_tokens=count("completion_tokens"),
        cached_tokens=count("cached_tokens"),
        cost_usd=Money(count("cost_picodollars")),
    )


def _session(session_id: str, fields: Mapping[Any, Any], raw_messages: Sequence[Any]) -> Session:
    meta = {_text(key): _text(value) for key, value in fields.items()}
    return Session(
        id=session_id,
        owner=msgspec.json.decode(meta["owner"]),
        created_at=int(meta["created_at_ms"]) / 1000,
        expires_at=int(meta["expires_at_ms"]) / 1000,
        ttl_seconds=int(meta["ttl_seconds"]),
        messages=tuple(decode_message(raw) for raw in raw_messages),
        context=msgspec.json.decode(meta["context"]),
        metadata=msgspec.json.decode(meta["metadata"]),
        revision=int(meta["revision"]),
        usage=_usage(meta),
    )


def _text(value: bytes | str) -> str:
    """Values as text whether or not the client was built with ``decode_responses``."""
    return value.decode() if isinstance(value, bytes) else value
