"""Shared fixtures. Vendor renderers register themselves on the fake upstream here."""

from __future__ import annotations

import importlib
import os
import socket
from collections.abc import Iterator
from urllib.parse import urlparse

import pytest
from hypothesis import settings

from tests.support.background_loop import BackgroundLoop
from tests.support.fake_upstream import FakeUpstream
from tests.support.redis_topologies import Topologies

# No per-example deadline: the properties are about outcomes, not speed, and on a shared
# machine a first example that waits on the host (compiling a class's copier, a cold cache)
# failed a run as "flaky" while every example was right.
settings.register_profile("gateway", deadline=None)
settings.load_profile("gateway")

# Each module installs one vendor's routes on the fake upstream: install(upstream) -> None.
_VENDOR_RENDERERS = (
    "tests.support.fake_upstream.openai_wire",
    "tests.support.fake_upstream.anthropic_wire",
    "tests.support.fake_upstream.ollama_wire",
    "tests.support.fake_upstream.openai_responses_wire",
    "tests.support.fake_upstream.anthropic_extras_wire",  # after anthropic_wire: wraps it
    "tests.support.fake_upstream.azure_wire",
    "tests.support.fake_upstream.gemini_wire",
    "tests.support.fake_upstream.bedrock_wire",
)


def _install_renderers(upstream: FakeUpstream) -> None:
    for name in _VENDOR_RENDERERS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name != name:
                raise
            continue
        module.install(upstream)


@pytest.fixture(scope="session")
def background_loop() -> Iterator[BackgroundLoop]:
    """One event loop in a thread for the session's fake servers."""
    loop = BackgroundLoop()
    yield loop
    loop.close()


@pytest.fixture(scope="session")
def fake_upstream_server(background_loop: BackgroundLoop) -> Iterator[FakeUpstream]:
    upstream = FakeUpstream()
    _install_renderers(upstream)
    background_loop.run(upstream.start())
    yield upstream
    background_loop.run(upstream.stop())


@pytest.fixture
def fake_upstream(fake_upstream_server: FakeUpstream) -> Iterator[FakeUpstream]:
    """The session's fake upstream, with an empty script and request log for each test."""
    fake_upstream_server.reset()
    yield fake_upstream_server
    fake_upstream_server.reset()


def _reachable(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), 1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A real Redis: ``LLM_GATEWAY_TEST_REDIS_URL`` (default: the local one, database 15), or
    one started with testcontainers where Docker exists. Never a skip: no Redis fails the run."""
    url = os.environ.get("LLM_GATEWAY_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    if _reachable(url):
        yield url
        return
    try:
        from testcontainers.redis import RedisContainer

        with RedisContainer("redis:7-alpine") as container:
            host = container.get_container_host_ip()
            port = container.get_exposed_port(6379)
            yield f"redis://{host}:{port}/0"
    except Exception as error:  # noqa: BLE001 - any failure here means: no Redis at all
        pytest.fail(
            f"No Redis at {url} and none could be started with testcontainers ({error}). "
            "Start one or set LLM_GATEWAY_TEST_REDIS_URL.",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def topologies(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topologies]:
    """A three-master Redis Cluster and a master+replica+sentinel, each started from
    ``redis-server`` on free ports once per session, on first use (``topologies.cluster()``,
    ``topologies.sentinel()``)."""
    holder = Topologies(tmp_path_factory.mktemp("topologies"))
    try:
        yield holder
    finally:
        holder.stop()
