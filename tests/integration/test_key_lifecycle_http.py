"""Client keys managed at run time, across TWO gateway processes sharing one Redis.

The gateways (authentication on, keys refreshed every ``REFRESH`` seconds) share a
``redis-server`` of this module's own. One admin key comes from ``LLM_GATEWAY_API_KEYS`` (the
bootstrap); every other key is made through ``/v1/admin/keys`` or ``llm-gateway keys``. The
documented bound: a new key works on every replica at once (an unknown key makes a replica ask
the store); any other change holds on the other replica within ``REFRESH`` seconds (plus a
Redis round trip); ``BOUND`` leaves room for a loaded test machine.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.integration.gateway_controls import REPO_ROOT, ClientKey, client_key, keys_env
from tests.support.gateway import GatewayProcess
from tests.support.redis_server import RedisServer

REFRESH = 0.5
BOUND = REFRESH + 2.0
ADMIN_KEYS = "/v1/admin/keys"


@dataclass(frozen=True)
class Replicas:
    first: GatewayProcess
    second: GatewayProcess
    admin: ClientKey
    user: ClientKey
    redis_url: str

    @property
    def both(self) -> tuple[GatewayProcess, GatewayProcess]:
        return (self.first, self.second)


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    server = RedisServer(tmp_path_factory.mktemp("keys-redis")).start()
    admin = client_key("root-admin", admin=True)
    user = client_key("plain-user")
    env = {**keys_env(admin, user), "LLM_GATEWAY_REDIS_URL": server.url,
           "LLM_GATEWAY_KEYS_REFRESH_SECONDS": str(REFRESH)}  # fmt: skip
    try:
        with GatewayProcess(env) as first, GatewayProcess(env) as second:
            yield Replicas(first, second, admin, user, server.url)
    finally:
        server.stop()


def _admin(replicas: Replicas, gateway: GatewayProcess | None = None) -> httpx.Client:
    url = (gateway or replicas.first).url
    return httpx.Client(base_url=url, headers=replicas.admin.bearer, timeout=10)


def _status(gateway: GatewayProcess, secret: str) -> int:
    headers = {"Authorization": f"Bearer {secret}"}
    return httpx.get(f"{gateway.url}/v1/models", headers=headers, timeout=10).status_code


def _until(gateway: GatewayProcess, secret: str, status: int) -> float:
    """Seconds until ``secret`` gets ``status`` on ``gateway``; fails past ``BOUND``."""
    start = time.monotonic()
    while (seen := _status(gateway, secret)) != status:
        assert time.monotonic() - start < BOUND, f"still {seen}, not {status}, after {BOUND}s"
        time.sleep(0.05)
    return time.monotonic() - start


def _error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "code", "param"} and error["code"] == code
    return error


def test_a_created_key_works_on_both_replicas_and_a_revoked_one_on_neither(
    replicas: Replicas,
) -> None:
    with _admin(replicas) as admin:
        created = admin.post(ADMIN_KEYS, json={"name": "Team A", "id": "team-a",
                                               "requests_per_minute": 100})  # fmt: skip
    assert created.status_code == 201, created.text
    body = created.json()
    secret = body["secret"]
    assert secret.startswith("sk-gw-") and body["id"] == "team-a" and body["source"] == "store"
    assert _status(replicas.first, secret) == 200  # at once where it was made
    # At once on the other replica too: an unknown key makes it ask the shared store.
    assert _status(replicas.second, secret) == 200
    with _admin(replicas, replicas.second) as admin:
        listed = admin.get(ADMIN_KEYS).json()["data"]
        assert {"team-a", "root-admin"} <= {key["id"] for key in listed}
        assert all("secret" not in key and "sha256" not in key for key in listed)
        assert admin.delete(f"{ADMIN_KEYS}/team-a").json()["deleted"] is True
    assert _status(replicas.second, secret) == 401
    assert _until(replicas.first, secret, 401) < BOUND


def test_a_disabled_key_is_refused_until_enabled(replicas: Replicas) -> None:
    with _admin(replicas) as admin:
        secret = admin.post(ADMIN_KEYS, json={"id": "pausable"}).json()["secret"]
        _until(replicas.second, secret, 200)
        assert admin.post(f"{ADMIN_KEYS}/pausable/disable").json()["disabled"] is True
        _until(replicas.second, secret, 401)
        refused = httpx.get(f"{replicas.first.url}/v1/models",
                            headers={"Authorization": f"Bearer {secret}"})  # fmt: skip
        assert "disabled" in _error(refused, 401, "invalid_api_key")["message"]
        admin.post(f"{ADMIN_KEYS}/pausable/enable")
    _until(replicas.second, secret, 200)


def test_rotation_keeps_both_secrets_during_the_overlap_only(replicas: Replicas) -> None:
    overlap = 2.0
    with _admin(replicas) as admin:
        old = admin.post(ADMIN_KEYS, json={"id": "rotating"}).json()["secret"]
        rotated = admin.post(f"{ADMIN_KEYS}/rotating/rotate", json={"overlap_seconds": overlap})
        ends = time.time() + overlap
    new = rotated.json()["secret"]
    assert new != old and rotated.json()["previous_secret_valid_until"] > time.time()
    for gateway in replicas.both:
        _until(gateway, new, 200)
        if time.time() < ends - 0.3:
            assert _status(gateway, old) == 200
    time.sleep(max(0.0, ends - time.time()) + 0.1)
    for gateway in replicas.both:
        assert _status(gateway, old) == 401 and _status(gateway, new) == 200


def test_an_expired_key_is_refused_on_both_replicas(replicas: Replicas) -> None:
    expires_at = time.time() + 1.5
    with _admin(replicas) as admin:
        body = admin.post(ADMIN_KEYS, json={"id": "short-lived", "expires_at": expires_at}).json()
    assert body["expires_at"] == pytest.approx(expires_at)
    _until(replicas.second, body["secret"], 200)
    time.sleep(max(0.0, expires_at - time.time()) + 0.05)
    for gateway in replicas.both:
        response = httpx.get(f"{gateway.url}/v1/models",
                             headers={"Authorization": f"Bearer {body['secret']}"})  # fmt: skip
        assert "expired" in _error(response, 401, "invalid_api_key")["message"]


def test_update_changes_limits_and_models_everywhere(replicas: Replicas) -> None:
    with _admin(replicas) as admin:
        secret = admin.post(ADMIN_KEYS, json={"id": "narrowed"}).json()["secret"]
        _until(replicas.second, secret, 200)
        changes = {"allowed_models": ["echo"], "monthly_budget_usd": 3.5}
        changed = admin.patch(f"{ADMIN_KEYS}/narrowed", json=changes)
        assert changed.json()["allowed_models"] == ["echo"]
        assert admin.get(f"{ADMIN_KEYS}/narrowed").json()["monthly_budget_usd"] == 3.5
    headers = {"Authorization": f"Bearer {secret}"}
    deadline = time.monotonic() + BOUND
    while True:
        models = httpx.get(f"{replicas.second.url}/v1/models", headers=headers).json()["data"]
        if [model["id"] for model in models] == ["echo"]:
            break
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_admin_errors_are_openai_shaped(replicas: Replicas) -> None:
    url = replicas.first.url
    with httpx.Client(base_url=url, headers=replicas.user.bearer) as user:
        _error(user.get(ADMIN_KEYS), 403, "permission_denied")
        _error(user.post(ADMIN_KEYS, json={}), 403, "permission_denied")
    _error(httpx.get(f"{url}{ADMIN_KEYS}"), 401, "invalid_api_key")
    with _admin(replicas) as admin:
        _error(admin.get(f"{ADMIN_KEYS}/nobody"), 404, "key_not_found")
        _error(admin.delete(f"{ADMIN_KEYS}/nobody"), 404, "key_not_found")
        _error(admin.patch(f"{ADMIN_KEYS}/plain-user", json={"admin": True}), 409,
               "key_from_configuration")  # fmt: skip
        _error(admin.post(ADMIN_KEYS, json={"id": "root-admin"}), 409, "key_exists")
        admin.post(ADMIN_KEYS, json={"id": "twice"})
        _error(admin.post(ADMIN_KEYS, json={"id": "twice"}), 409, "key_exists")
        _error(admin.post(ADMIN_KEYS, json={"id": "bad id!"}), 400, "invalid_request")
        _error(admin.post(ADMIN_KEYS, json={"secret": "x"}), 400, "invalid_request")
        _error(admin.post(ADMIN_KEYS, json={"requests_per_minute": 0}), 400, "invalid_request")
        _error(admin.post(f"{ADMIN_KEYS}/twice/rotate", json={"overlap_seconds": -1}), 400,
               "invalid_request")  # fmt: skip


def _cli(replicas: Replicas, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "LLM_GATEWAY_REDIS_URL": replicas.redis_url}
    command = [sys.executable, "-m", "gateway_http.cli", "keys", *args]
    return subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True)


def test_the_store_commands_need_redis() -> None:
    command = [sys.executable, "-m", "gateway_http.cli", "keys", "list"]
    done = subprocess.run(command, cwd=REPO_ROOT, env={"PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 2 and "LLM_GATEWAY_REDIS_URL" in done.stderr


def test_the_cli_works_on_the_same_store(replicas: Replicas, tmp_path: Path) -> None:
    created = _cli(replicas, "create", "--store", "--name", "From CLI", "--id", "from-cli")
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip()
    assert secret.startswith("sk-gw-") and secret not in created.stderr
    for gateway in replicas.both:
        _until(gateway, secret, 200)
    listed = _cli(replicas, "list")
    assert listed.returncode == 0 and '"id": "from-cli"' in listed.stdout
    assert secret not in listed.stdout
    rotated = _cli(replicas, "rotate", "from-cli", "--overlap-seconds", "0")
    assert rotated.returncode == 0, rotated.stderr
    new = rotated.stdout.strip()
    for gateway in replicas.both:
        _until(gateway, secret, 401)
        _until(gateway, new, 200)
    assert _cli(replicas, "revoke", "from-cli").returncode == 0
    for gateway in replicas.both:
        _until(gateway, new, 401)
    missing = _cli(replicas, "revoke", "from-cli")
    assert missing.returncode == 1 and "from-cli" in missing.stderr
    with _admin(replicas) as admin:
        assert admin.get(f"{ADMIN_KEYS}/from-cli").status_code == 404
