"""Configuration reloaded without a restart, in the real service: a providers file change is
served within seconds (polling) or at once (SIGHUP), a bad file is refused with a log line while
the old configuration keeps serving, a reload under load fails no request, and a new price
shows in the cost header."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.gateway import GatewayProcess

WAIT_SECONDS = 10.0
TOOLS = Path(__file__).resolve().parents[2] / "config" / "tools.json"
ECHO_ONLY = {"providers": {"echo": {"type": "echo"}}, "models": {"echo": {"provider": "echo"}}}
WITH_SECOND = {
    "providers": {"echo": {"type": "echo"}, "second": {"type": "echo"}},
    "models": {
        "echo": {"provider": "echo"},
        "second-model": {"provider": "second", "model": "echo"},
    },
}


def _write(path: Path, content: dict | str) -> None:
    """Replace the file the way editors and ConfigMaps do: a new file renamed over the old."""
    staged = path.with_suffix(".staged")
    staged.write_text(content if isinstance(content, str) else json.dumps(content))
    staged.replace(path)


def _chat(client: httpx.Client, model: str) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": "hello"}]}
    return client.post("/v1/chat/completions", json=body)


def _eventually(condition: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def _refusals(gateway: GatewayProcess, file: str) -> list[str]:
    """The log lines saying the ``file`` file was refused."""
    lines = [json.loads(line) for line in gateway.logs().splitlines() if line.startswith("{")]
    return [
        line["message"] for line in lines
        if line["message"].startswith(f"the {file} file") and "was not reloaded" in line["message"]
    ]  # fmt: skip


def _models(client: httpx.Client) -> set[str]:
    return {model["id"] for model in client.get("/v1/models").json()["data"]}


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    _write(tmp_path / "providers.json", ECHO_ONLY)
    pricing = {"models": {"echo": {"input": 0.0, "output": 0.0}}}
    _write(tmp_path / "pricing.json", pricing)
    _write(tmp_path / "tools.json", TOOLS.read_text())
    return tmp_path


def _gateway(config_dir: Path, reload_seconds: str) -> GatewayProcess:
    return GatewayProcess({
        "LLM_GATEWAY_PROVIDERS_CONFIG": str(config_dir / "providers.json"),
        "LLM_GATEWAY_PRICING_CONFIG": str(config_dir / "pricing.json"),
        "LLM_GATEWAY_TOOLS_CONFIG": str(config_dir / "tools.json"),
        "LLM_GATEWAY_CONFIG_RELOAD_SECONDS": reload_seconds,
    })  # fmt: skip


@pytest.fixture
def polling_gateway(config_dir: Path) -> Iterator[GatewayProcess]:
    with _gateway(config_dir, "0.2") as gateway:
        yield gateway


@pytest.fixture
def sighup_gateway(config_dir: Path) -> Iterator[GatewayProcess]:
    with _gateway(config_dir, "0") as gateway:  # no polling: only SIGHUP reloads
        yield gateway


def test_a_changed_providers_file_is_served_within_seconds(
    polling_gateway: GatewayProcess, config_dir: Path
) -> None:
    with httpx.Client(base_url=polling_gateway.url, timeout=10) as client:
        assert _chat(client, "second-model").status_code == 404
        assert client.get("/v1/models/second-model").status_code == 404
        _write(config_dir / "providers.json", WITH_SECOND)
        assert _eventually(lambda: _chat(client, "second-model").status_code == 200)
        assert "second-model" in _models(client)
        assert client.get("/v1/models/second-model").status_code == 200
        answer = _chat(client, "second-model").json()
        assert answer["choices"][0]["message"]["content"]
        assert client.get("/ready").status_code == 200
        # Embeddings follow the reload too (the new provider is an echo one: it embeds).
        embedded = client.post("/v1/embeddings", json={"model": "second-model", "input": "hi"})
        assert embedded.status_code == 200, embedded.text


def test_a_bad_providers_file_is_refused_and_the_old_one_keeps_serving(
    polling_gateway: GatewayProcess, config_dir: Path
) -> None:
    broken = {"providers": {"echo": {"type": "echo"}}, "models": {"echo": {"provider": "nobody"}}}
    with httpx.Client(base_url=polling_gateway.url, timeout=10) as client:
        _write(config_dir / "providers.json", broken)
        assert _eventually(lambda: bool(_refusals(polling_gateway, "providers")))
        assert "nobody" in _refusals(polling_gateway, "providers")[0]
        assert _chat(client, "echo").status_code == 200
        assert _models(client) == {"echo"}
        metrics = client.get("/metrics").text
        assert 'llm_gateway_config_reloads_total{file="providers",result="rejected"} 1.0' in metrics
        # Fixed again: taken at the next poll.
        _write(config_dir / "providers.json", WITH_SECOND)
        assert _eventually(lambda: _chat(client, "second-model").status_code == 200)


def test_sighup_reloads_the_providers_file(
    sighup_gateway: GatewayProcess, config_dir: Path
) -> None:
    with httpx.Client(base_url=sighup_gateway.url, timeout=10) as client:
        _write(config_dir / "providers.json", WITH_SECOND)
        time.sleep(1.0)  # no polling: nothing changes until the signal
        assert _chat(client, "second-model").status_code == 404
        sighup_gateway.send_signal(signal.SIGHUP)
        assert _eventually(lambda: _chat(client, "second-model").status_code == 200)
        assert sighup_gateway.alive()


def test_sighup_under_load_fails_no_request(
    sighup_gateway: GatewayProcess, config_dir: Path
) -> None:
    statuses: list[int] = []
    stop = threading.Event()

    def send_continuously() -> None:
        with httpx.Client(base_url=sighup_gateway.url, timeout=10) as client:
            while not stop.is_set():
                statuses.append(_chat(client, "echo").status_code)

    senders = [threading.Thread(target=send_continuously) for _ in range(4)]
    for sender in senders:
        sender.start()
    try:
        for round_ in range(10):
            _write(config_dir / "providers.json", WITH_SECOND if round_ % 2 == 0 else ECHO_ONLY)
            sighup_gateway.send_signal(signal.SIGHUP)
            time.sleep(0.2)
    finally:
        stop.set()
        for sender in senders:
            sender.join()
    assert len(statuses) > 20
    assert set(statuses) == {200}, f"failed requests: {[s for s in statuses if s != 200]}"
    assert sighup_gateway.logs().count("reloaded the providers file") >= 10


def test_a_new_price_shows_in_the_cost_header(
    polling_gateway: GatewayProcess, config_dir: Path
) -> None:
    with httpx.Client(base_url=polling_gateway.url, timeout=10) as client:
        assert _chat(client, "echo").headers["x-gateway-cost-usd"] == "0"
        pricey = {"models": {"echo": {"input": 1_000_000.0, "output": 1_000_000.0}}}
        _write(config_dir / "pricing.json", pricey)
        assert _eventually(lambda: _chat(client, "echo").headers["x-gateway-cost-usd"] != "0")


def test_a_new_tool_is_listed_and_a_bad_tools_file_is_refused(
    polling_gateway: GatewayProcess, config_dir: Path
) -> None:
    def listed(client: httpx.Client) -> set[str]:
        return {tool["name"] for tool in client.get("/v1/tools").json()}

    tools = json.loads(TOOLS.read_text())
    again = {**tools["tools"][0], "name": "search_again"}
    with httpx.Client(base_url=polling_gateway.url, timeout=10) as client:
        assert "search_again" not in listed(client)
        _write(config_dir / "tools.json", {**tools, "tools": [*tools["tools"], again]})
        assert _eventually(lambda: "search_again" in listed(client))
        orphan = {**again, "name": "orphan", "backend": "nowhere"}
        _write(config_dir / "tools.json", {**tools, "tools": [*tools["tools"], orphan]})
        assert _eventually(lambda: bool(_refusals(polling_gateway, "tools")))
        assert "nowhere" in _refusals(polling_gateway, "tools")[0]
        assert "orphan" not in listed(client) and "search_again" in listed(client)


def test_with_two_workers_polling_reloads_both(config_dir: Path) -> None:
    """uvicorn's supervisor does not forward SIGHUP to workers: each worker polls."""
    env = {
        "LLM_GATEWAY_PROVIDERS_CONFIG": str(config_dir / "providers.json"),
        "LLM_GATEWAY_PRICING_CONFIG": str(config_dir / "pricing.json"),
        "LLM_GATEWAY_TOOLS_CONFIG": str(config_dir / "tools.json"),
        "LLM_GATEWAY_CONFIG_RELOAD_SECONDS": "0.2",
    }
    with GatewayProcess(env, workers=2) as gateway:
        # Both workers running on the old file first (else one may just start on the new one).
        assert _eventually(lambda: gateway.logs().count("Application startup complete") == 2)
        _write(config_dir / "providers.json", WITH_SECOND)

        def every_worker_serves_it() -> bool:
            # A fresh connection each time, so that the kernel can hand it to either worker.
            statuses = {
                _chat(httpx.Client(base_url=gateway.url, timeout=10), "second-model").status_code
                for _ in range(20)
            }
            return statuses == {200}

        assert _eventually(every_worker_serves_it), gateway.logs()[-2500:]
        lines = [json.loads(line) for line in gateway.logs().splitlines() if line.startswith("{")]
        reloaded = {
            line["pid"] for line in lines if line["message"].startswith("reloaded the providers")
        }
        assert len(reloaded) == 2


def test_a_key_removed_from_the_keys_file_is_refused_and_a_new_one_works(
    config_dir: Path,
) -> None:
    # Issue 15: a leaked key deleted from the keys file must stop working without a restart.
    from tests.integration.gateway_controls import client_key

    kept, leaked, added = client_key("kept"), client_key("leaked"), client_key("added")
    keys_file = config_dir / "keys.json"
    _write(keys_file, {"keys": [kept.entry, leaked.entry]})
    env = {"LLM_GATEWAY_AUTH_ENABLED": "true", "LLM_GATEWAY_API_KEYS_FILE": str(keys_file),
           "LLM_GATEWAY_PROVIDERS_CONFIG": str(config_dir / "providers.json"),
           "LLM_GATEWAY_CONFIG_RELOAD_SECONDS": "0.2"}  # fmt: skip
    with GatewayProcess(env) as gateway, httpx.Client(base_url=gateway.url, timeout=10) as client:

        def status(key: object) -> int:
            return client.get("/v1/models", headers=key.bearer).status_code  # type: ignore[attr-defined]

        assert (status(kept), status(leaked), status(added)) == (200, 200, 401)
        _write(keys_file, {"keys": [kept.entry, added.entry]})
        assert _eventually(lambda: status(leaked) == 401)
        assert (status(kept), status(added)) == (200, 200)
        _write(keys_file, "{not json")  # a broken file: the last good keys keep working
        assert _eventually(lambda: bool(_refusals(gateway, "keys")))
        assert (status(kept), status(added), status(leaked)) == (200, 200, 401)
