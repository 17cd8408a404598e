"""The gateway itself on a Redis Cluster (``redis+cluster://``) and behind a sentinel
(``redis+sentinel://``): chat with a rate limit, a session turn, usage and a key made through
the admin API, all through the real service process."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.integration.gateway_controls import (
    CHAT,
    LOCAL_MODEL,
    client_key,
    keys_env,
    user_message,
)
from tests.support.gateway import GatewayProcess
from tests.support.redis_topologies import Topologies

ADMIN = client_key("modes-admin", admin=True)


@pytest.fixture(scope="module", params=["cluster", "sentinel"])
def gateway(request: pytest.FixtureRequest, topologies: Topologies) -> Iterator[GatewayProcess]:
    setup = topologies.cluster() if request.param == "cluster" else topologies.sentinel()
    env = {**keys_env(ADMIN), "LLM_GATEWAY_REDIS_URL": setup.url,
           "LLM_GATEWAY_RATE_LIMIT_REQUESTS_PER_MINUTE": "3",
           "LLM_GATEWAY_RATE_LIMIT_STORE_DOWN": "fail_closed"}  # fmt: skip
    with GatewayProcess(env) as process:
        yield process


def test_the_shared_state_works_through_the_mode(gateway: GatewayProcess) -> None:
    with httpx.Client(base_url=gateway.url, headers=ADMIN.bearer, timeout=10) as admin:
        made = admin.post("/v1/admin/keys", json={"name": "On this mode"})
        assert made.status_code == 201, made.text
        user = {"Authorization": f"Bearer {made.json()['secret']}"}
        session = admin.post("/v1/sessions", headers=user, json={})
        assert session.status_code == 201, session.text
        body = {"model": LOCAL_MODEL, "messages": user_message("hi"),
                "session_id": session.json()["id"]}  # fmt: skip
        statuses = [admin.post(CHAT, headers=user, json=body).status_code for _ in range(4)]
        # fail_closed: a 429 here comes from the shared limiter, never from a fallback.
        assert statuses == [200, 200, 200, 429]
        history = admin.get(f"/v1/sessions/{session.json()['id']}", headers=user).json()
        assert len(history["messages"]) == 6
        usage = admin.get("/v1/usage", params={"key_id": made.json()["id"]}).json()
        assert usage["totals"]["requests"] == 3
