"""The real gateway reaches its providers through outbound proxies: the environment's
(``HTTP_PROXY`` with credentials), a provider's own ``proxy`` setting (over the httpx client
of the Ollama adapter), and ``"direct"``, which bypasses them; the proxy's password never
reaches the log."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import ANTHROPIC_KEY, OPENAI_KEY, VENDOR_MODELS, providers_config
from tests.support.background_loop import BackgroundLoop
from tests.support.connect_proxy import ConnectProxy
from tests.support.fake_upstream import FakeUpstream
from tests.support.gateway import GatewayProcess

PASSWORD = "pr0xy-pa55word"


@pytest.fixture
def proxies(background_loop: BackgroundLoop) -> Iterator[tuple[ConnectProxy, ConnectProxy]]:
    environment, own = ConnectProxy(), ConnectProxy()
    for proxy in (environment, own):
        background_loop.run(proxy.start())
    yield environment, own
    for proxy in (environment, own):
        background_loop.run(proxy.stop())


def test_providers_go_through_the_environments_proxy_or_their_own_or_none(
    fake_upstream: FakeUpstream, proxies: tuple[ConnectProxy, ConnectProxy], tmp_path: Path
) -> None:
    environment, own = proxies
    config = providers_config(fake_upstream.url)
    config["providers"]["fake-anthropic"]["proxy"] = "direct"
    config["providers"]["fake-ollama"]["proxy"] = own.url
    path = tmp_path / "providers.json"
    path.write_text(json.dumps(config))
    env = {
        "LLM_GATEWAY_PROVIDERS_CONFIG": str(path),
        "LLM_GATEWAY_FAKE_OPENAI_API_KEY": OPENAI_KEY,
        "LLM_GATEWAY_FAKE_ANTHROPIC_API_KEY": ANTHROPIC_KEY,
        "HTTP_PROXY": f"http://gateway:{PASSWORD}@127.0.0.1:{environment.port}",
        "NO_PROXY": "",
    }
    with GatewayProcess(env) as gateway:
        for vendor in ("openai", "anthropic", "ollama"):
            response = httpx.post(
                f"{gateway.url}/v1/chat/completions", timeout=10,
                json={"model": VENDOR_MODELS[vendor], "messages": [{"role": "user", "content": "hi"}]},
            )  # fmt: skip
            assert response.status_code == 200, response.text
        logs = gateway.logs()
    assert [r.target for r in environment.requests] == [
        f"{fake_upstream.url}/v1/chat/completions"  # absolute form: the proxy forwards it
    ]
    assert environment.requests[0].headers["proxy-authorization"].startswith("Basic ")
    assert [r.target for r in own.requests] == [f"{fake_upstream.url}/api/chat"]
    assert len(fake_upstream.requests) == 3  # anthropic's went straight to the upstream
    assert PASSWORD not in logs
    assert f"127.0.0.1:{environment.port}" in logs  # where the proxy is, for the operator


def test_a_bad_proxy_setting_stops_start_up_without_quoting_it(
    fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    config = providers_config(fake_upstream.url)
    config["providers"]["fake-openai"]["proxy"] = f"https://user:{PASSWORD}@proxy:3128"
    path = tmp_path / "providers.json"
    path.write_text(json.dumps(config))
    gateway = GatewayProcess({"LLM_GATEWAY_PROVIDERS_CONFIG": str(path)})
    with pytest.raises(RuntimeError, match="exited at start-up") as raised:
        gateway.start()
    assert "proxy" in str(raised.value)
    assert PASSWORD not in str(raised.value)
