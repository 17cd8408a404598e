"""Redis stops under a running gateway, then comes back on the same port.

The gateway uses a Redis server of this module's own (never the shared one): session calls
must answer 503 with ``Retry-After`` while it is down, chat without a session must keep
working, readiness must say ``degraded``, and everything must recover without a restart.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.integration.session_calls import (
    SESSIONS,
    chat,
    create_session,
    openai_error,
    read_session,
    reply_of,
)
from tests.support.gateway import GatewayProcess
from tests.support.redis_server import RedisServer


@pytest.fixture(scope="session")
def own_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def gateway_on_own_redis(own_redis: RedisServer) -> Iterator[GatewayProcess]:
    # The cache stays on: temperature 0 requests consult it, and a cache that is down must
    # be a miss, not a failure.
    with GatewayProcess({"LLM_GATEWAY_REDIS_URL": own_redis.url}) as gateway:
        yield gateway


def _unavailable(response: httpx.Response) -> None:
    error = openai_error(response, 503, "store_unavailable")
    assert "session" in error["message"] and "redis://" not in error["message"]
    assert int(response.headers["retry-after"]) >= 1


def test_redis_down_then_back(gateway_on_own_redis: GatewayProcess, own_redis: RedisServer) -> None:
    with httpx.Client(base_url=gateway_on_own_redis.url, timeout=10) as http:
        session_id = create_session(http)["id"]
        assert reply_of(chat(http, session_id, "before")) == "before"
        assert http.get("/ready").json()["status"] == "ready"

        own_redis.stop()
        started = time.monotonic()
        _unavailable(http.post(SESSIONS, json={}))
        _unavailable(http.get(f"{SESSIONS}/{session_id}"))
        _unavailable(http.delete(f"{SESSIONS}/{session_id}"))
        _unavailable(chat(http, session_id, "during"))
        _unavailable(chat(http, session_id, "during", stream=True))
        assert reply_of(chat(http, None, "no session", temperature=0)) == "no session"
        streamed = chat(http, None, "streamed", stream=True)
        assert streamed.status_code == 200 and streamed.text.rstrip().endswith("data: [DONE]")
        assert time.monotonic() - started < 5, "a dead Redis fails fast, it does not hang"
        ready = http.get("/ready")
        assert ready.status_code == 200
        assert ready.json()["status"] == "degraded"
        assert ready.json()["checks"]["redis"]["status"] == "fail"

        own_redis.start()
        # The server came back empty (no persistence): the old session is gone for good.
        openai_error(http.get(f"{SESSIONS}/{session_id}"), 404, "session_not_found")
        fresh = create_session(http)["id"]
        assert reply_of(chat(http, fresh, "after")) == "after"
        assert [m["content"] for m in read_session(http, fresh)["messages"]] == ["after", "after"]
        assert http.get("/ready").json()["status"] == "ready"
    assert gateway_on_own_redis.alive()
