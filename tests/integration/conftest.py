from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.cloud_gateway import cloud_gateway  # noqa: F401  (a fixture)
from tests.support.gateway import GatewayProcess


@pytest.fixture(scope="session")
def echo_gateway() -> Iterator[GatewayProcess]:
    """The gateway on its shipped configuration (the echo provider, in-memory stores)."""
    with GatewayProcess() as gateway:
        yield gateway
