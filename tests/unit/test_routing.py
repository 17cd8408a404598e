import pytest

from gateway_core.domain.routing import ModelRoute, PatternRoute, RoutingTable, Target
from gateway_core.errors import ModelNotFoundError

TABLE = RoutingTable(
    models={
        "gpt-4o": ModelRoute(Target("openai", "gpt-4o"), fallbacks=("claude-fast",)),
        "claude-fast": ModelRoute(Target("anthropic", "claude-haiku-4-5")),
        "local": ModelRoute(Target("ollama", "qwen3:8b")),
    },
    prefixes={"anthropic/": "anthropic", "ollama/": "ollama"},
    patterns=(PatternRoute("claude-*", "anthropic"), PatternRoute("gpt-*", "openai")),
    aliases={"gpt": "openai", "openai": "gpt-4o", "claude": "claude-fast"},
)


def test_exact_route_with_fallbacks_in_order() -> None:
    assert TABLE.resolve("gpt-4o") == (
        Target("openai", "gpt-4o"),
        Target("anthropic", "claude-haiku-4-5"),
    )


def test_aliases_are_followed_through_chains() -> None:
    assert TABLE.resolve("gpt")[0] == Target("openai", "gpt-4o")
    assert TABLE.resolve("claude") == (Target("anthropic", "claude-haiku-4-5"),)


def test_prefix_strips_the_prefix_for_the_provider() -> None:
    assert TABLE.resolve("ollama/llama3.2:3b") == (Target("ollama", "llama3.2:3b"),)


def test_patterns_keep_the_name() -> None:
    assert TABLE.resolve("claude-opus-4-20250514") == (
        Target("anthropic", "claude-opus-4-20250514"),
    )
    assert TABLE.resolve("gpt-5.2") == (Target("openai", "gpt-5.2"),)


def test_exact_routes_win_over_patterns() -> None:
    assert TABLE.resolve("local") == (Target("ollama", "qwen3:8b"),)


@pytest.mark.parametrize("name", ["mistral-large", "anthropic/", "", "ollama"])
def test_unknown_models_are_not_found_and_name_the_model(name: str) -> None:
    with pytest.raises(ModelNotFoundError) as caught:
        TABLE.resolve(name)
    assert f"'{name}'" in caught.value.message
    assert caught.value.param == "model"


def test_alias_cycles_end_in_not_found() -> None:
    table = RoutingTable(aliases={"a": "b", "b": "a"})
    with pytest.raises(ModelNotFoundError):
        table.resolve("a")


def test_groups_give_the_deployments_then_each_fallback() -> None:
    from gateway_core.domain.routing import Deployment

    east = Deployment(Target("openai-east", "gpt-4o"), "gpt-4o@east", 2.0)
    west = Deployment(Target("openai-west", "gpt-4o"), "gpt-4o@west", 1.0)
    table = RoutingTable(
        models={
            "gpt-4o": ModelRoute(east.target, ("claude",), (east, west), "least_in_flight"),
            "claude": ModelRoute(Target("anthropic", "claude-x")),
        },
        prefixes={"anthropic/": "anthropic"},
        aliases={"gpt": "gpt-4o"},
    )
    primary, fallback = table.groups("gpt")
    assert (primary.model, primary.deployments, primary.strategy) == (
        "gpt-4o",
        (east, west),
        "least_in_flight",
    )
    assert fallback.deployments[0].target == Target("anthropic", "claude-x")
    assert fallback.deployments[0].name == "claude"
    assert table.groups("gpt") is table.groups("gpt"), "exact routes' groups are built once"
    (dynamic,) = table.groups("anthropic/claude-y")
    assert dynamic.deployments[0].name == "anthropic/*", "health per provider: bounded names"
    assert dynamic.deployments[0].target == Target("anthropic", "claude-y")
    assert table.resolve("gpt")[0] == east.target
