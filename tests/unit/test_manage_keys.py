"""Key lifecycle in the core: admin operations, rotation overlap and expiry on an injected
clock, and ``KeySync`` carrying store changes into an ``Authenticator``."""

from __future__ import annotations

import asyncio

import pytest

from gateway_core.domain.api_keys import ApiKey, hash_secret
from gateway_core.errors import (
    AuthenticationError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    StoreUnavailableError,
)
from gateway_core.memory import InMemoryKeyStore
from gateway_core.testing import FakeClock
from gateway_core.use_cases.authenticate import Authenticator
from gateway_core.use_cases.key_sync import KeySync
from gateway_core.use_cases.manage_keys import KeyAdmin

STATIC = ApiKey(id="static", name="Static", sha256=hash_secret("static-secret"), admin=True)


class Setup:
    def __init__(self) -> None:
        self.clock = FakeClock()
        self.store = InMemoryKeyStore()
        self.auth = Authenticator([STATIC], self.clock)
        self.sync = KeySync(self.auth, self.store, interval=1.0)
        self.admin = KeyAdmin(self.store, (STATIC,), self.clock, on_change=self.sync.refresh)

    def check(self, secret: str) -> ApiKey:
        return self.auth.authenticate(f"Bearer {secret}", None)


@pytest.fixture
def setup() -> Setup:
    return Setup()


async def test_a_created_key_authenticates_at_once_and_a_revoked_one_never(setup: Setup) -> None:
    key, secret = await setup.admin.create({"name": "A", "requests_per_minute": 3}, "a")
    assert key.sha256 == hash_secret(secret) and key.created_at == setup.clock.now()
    assert setup.check(secret).requests_per_minute == 3
    await setup.admin.revoke("a")
    with pytest.raises(AuthenticationError):
        setup.check(secret)
    assert setup.check("static-secret").id == "static"


async def test_rotation_accepts_the_old_secret_during_the_overlap_only(setup: Setup) -> None:
    _, old = await setup.admin.create({}, "r")
    key, new = await setup.admin.rotate("r", overlap_seconds=60)
    assert key.previous_valid_until == setup.clock.now() + 60
    assert setup.check(old).id == setup.check(new).id == "r"
    setup.clock.advance(59.9)
    assert setup.check(old).id == "r"
    setup.clock.advance(0.1)
    with pytest.raises(AuthenticationError, match="Invalid API key"):
        setup.check(old)
    assert setup.check(new).id == "r"


async def test_rotation_without_overlap_stops_the_old_secret_now(setup: Setup) -> None:
    _, old = await setup.admin.create({}, "r")
    _, new = await setup.admin.rotate("r")
    with pytest.raises(AuthenticationError):
        setup.check(old)
    assert setup.check(new).id == "r"


async def test_an_expired_key_is_refused_by_the_clock_alone(setup: Setup) -> None:
    _, secret = await setup.admin.create({"expires_at": setup.clock.now() + 10}, "e")
    assert setup.check(secret).id == "e"
    setup.clock.advance(10)
    with pytest.raises(AuthenticationError, match="expired"):
        setup.check(secret)
    await setup.admin.update("e", {"expires_at": None})
    assert setup.check(secret).id == "e"


async def test_disable_and_enable(setup: Setup) -> None:
    _, secret = await setup.admin.create({}, "d")
    await setup.admin.update("d", {"disabled": True})
    with pytest.raises(AuthenticationError, match="disabled"):
        setup.check(secret)
    await setup.admin.update("d", {"disabled": False})
    assert setup.check(secret).id == "d"


async def test_configuration_keys_are_listed_but_never_written(setup: Setup) -> None:
    await setup.admin.create({}, "m")
    views = await setup.admin.list()
    assert [(view.key.id, view.managed) for view in views] == [("m", True), ("static", False)]
    for attempt in (setup.admin.update("static", {"admin": False}),
                    setup.admin.rotate("static"), setup.admin.revoke("static")):  # fmt: skip
        with pytest.raises(ConflictError):
            await attempt
    with pytest.raises(ConflictError):
        await setup.admin.create({}, "static")


async def test_bad_input_is_an_invalid_request(setup: Setup) -> None:
    with pytest.raises(InvalidRequestError):
        await setup.admin.create({"requests_per_minute": 0}, "x")
    with pytest.raises(InvalidRequestError):
        await setup.admin.create({"sha256": "0" * 64}, "x")
    with pytest.raises(NotFoundError):
        await setup.admin.update("ghost", {"name": "G"})
    await setup.admin.create({}, "x")
    with pytest.raises(InvalidRequestError):
        await setup.admin.rotate("x", overlap_seconds=-1)


async def test_sync_reloads_only_when_the_version_moves(setup: Setup) -> None:
    other_replica = Authenticator([STATIC], setup.clock)
    sync = KeySync(other_replica, setup.store, interval=1.0)
    assert await sync.refresh()
    assert not await sync.refresh()
    _, secret = await setup.admin.create({}, "late")
    with pytest.raises(AuthenticationError):
        other_replica.authenticate(f"Bearer {secret}", None)
    assert await sync.refresh()
    assert other_replica.authenticate(f"Bearer {secret}", None).id == "late"


async def test_a_managed_key_never_shadows_a_static_one(setup: Setup) -> None:
    clash = ApiKey(id="clash", name="C", sha256=STATIC.sha256)
    setup.auth.use_managed_keys([clash])
    assert setup.check("static-secret").id == "static"


async def test_sync_keeps_the_last_keys_while_the_store_is_down(setup: Setup) -> None:
    _, secret = await setup.admin.create({}, "kept")

    class DownStore(InMemoryKeyStore):
        async def version(self) -> int:
            raise StoreUnavailableError("down")

    sync = KeySync(setup.auth, DownStore(), interval=1.0)
    with pytest.raises(StoreUnavailableError):
        await sync.refresh()
    assert setup.check(secret).id == "kept"


async def test_the_poll_reports_a_store_that_is_down_and_keeps_polling(setup: Setup) -> None:
    class FlakyStore(InMemoryKeyStore):
        calls = 0

        async def version(self) -> int:
            FlakyStore.calls += 1
            if FlakyStore.calls == 1:
                raise StoreUnavailableError("down")
            return await super().version()

    store = FlakyStore()
    await store.create(ApiKey(id="polled", name="P", sha256=hash_secret("polled")))
    errors: list[StoreUnavailableError] = []
    sync = KeySync(setup.auth, store, interval=0.01)
    task = asyncio.create_task(sync.run(errors.append))
    for _ in range(100):
        await asyncio.sleep(0.01)
        if FlakyStore.calls >= 2:
            break
    task.cancel()
    assert len(errors) == 1
    assert setup.check("polled").id == "polled"


async def test_an_unknown_key_asks_the_store_once_per_interval(setup: Setup) -> None:
    now = [100.0]
    other_replica = Authenticator([STATIC], clock=FakeClock())
    sync = KeySync(other_replica, setup.store, interval=60.0, monotonic=lambda: now[0])
    await sync.refresh(force=True)
    await setup.store.create(ApiKey(id="fresh", name="F", sha256=hash_secret("fresh-secret")))
    # The poll is a minute away: the unknown key makes this replica look, once.
    assert await sync.refresh_for_unknown() is True
    assert other_replica.authenticate("Bearer fresh-secret", None).id == "fresh"
    # A spray of bad keys: no second read within the interval.
    assert await sync.refresh_for_unknown() is False
    now[0] += 1.0
    assert await sync.refresh_for_unknown() is False  # read again, nothing moved
