"""Metrics: what each request counts, bounded labels, breaker states, several processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway_adapters.tools.circuit_breaker import CircuitBreaker
from gateway_core.domain.money import Money
from gateway_core.errors import ModelNotFoundError, UpstreamTimeoutError
from gateway_core.testing import FakeClock
from gateway_http.observability.metrics import (
    MULTIPROCESS_DIR_ENV,
    GatewayMetrics,
    KeyLabels,
    ModelLabels,
    method_label,
    prepare_multiprocess_dir,
)
from gateway_http.observability.outcome import RequestOutcome
from gateway_http.request_record import RequestRecord

CHAT = "/v1/chat/completions"


def _samples(metrics: GatewayMetrics) -> dict[tuple[str, frozenset], float]:
    text = metrics.render().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(metrics: GatewayMetrics, name: str, **labels: str) -> float | None:
    return _samples(metrics).get((name, frozenset(labels.items())))


def _served(status: int = 200, *, route: str = CHAT, aborted: bool = False) -> RequestOutcome:
    return RequestOutcome("POST", route, status, latency_seconds=0.3, aborted=aborted)


def test_a_served_chat_counts_request_latency_tokens_cost_and_cache() -> None:
    metrics = GatewayMetrics(known_models=["gpt-4o"])
    record = RequestRecord(
        model="gpt-4o", provider="openai", prompt_tokens=10, completion_tokens=5,
        cached_tokens=2, cost_usd=Money.usd("0.5"), cache="MISS", upstream_seconds=0.2,
    )  # fmt: skip
    metrics.observe(_served(), record)
    metrics.observe(_served(), RequestRecord(model="gpt-4o", cache="HIT"))
    requests = "llm_gateway_requests_total"
    assert _value(metrics, requests, route=CHAT, method="POST", status="200") == 2
    assert _value(metrics, "llm_gateway_request_duration_seconds_count", route=CHAT) == 2
    assert _value(metrics, "llm_gateway_upstream_duration_seconds_sum", provider="openai") == 0.2
    for kind, count in (("prompt", 10), ("completion", 5), ("cached", 2)):
        assert _value(metrics, "llm_gateway_tokens_total", model="gpt-4o", kind=kind) == count
    assert _value(metrics, "llm_gateway_cost_usd_total", model="gpt-4o") == 0.5
    assert _value(metrics, "llm_gateway_cache_requests_total", result="miss") == 1
    assert _value(metrics, "llm_gateway_cache_requests_total", result="hit") == 1


def test_rejections_upstream_errors_aborts_and_fallbacks_are_counted() -> None:
    metrics = GatewayMetrics(known_models=["gpt-4o"])
    metrics.observe(_served(429), RequestRecord(model="gpt-4o", rate_limited=True))
    timeout = RequestRecord(model="gpt-4o", provider="openai", error_code=UpstreamTimeoutError.code)
    metrics.observe(_served(504), timeout)
    # Every failed upstream call is counted where it fails, with its provider and code.
    metrics.count_provider_error(UpstreamTimeoutError("slow", provider="openai"))
    metrics.count_provider_error(UpstreamTimeoutError("vendor code", provider="openai", code="x1"))
    metrics.observe(_served(404), RequestRecord(model="nope", error_code=ModelNotFoundError.code))
    metrics.observe(_served(aborted=True), RequestRecord(model="gpt-4o", stream=True))
    metrics.count_rate_limit_fallback()
    assert _value(metrics, "llm_gateway_rate_limit_rejections_total") == 1
    errors = "llm_gateway_upstream_errors_total"
    assert _value(metrics, errors, provider="openai", kind="upstream_timeout") == 1
    assert _value(metrics, errors, provider="openai", kind="other") == 1
    assert not [labels for _, labels in _samples(metrics) if ("kind", "model_not_found") in labels]
    assert _value(metrics, "llm_gateway_stream_aborts_total") == 1
    assert _value(metrics, "llm_gateway_rate_limit_fallbacks_total") == 1


def test_labels_never_hold_a_key_a_request_id_or_a_raw_path() -> None:
    metrics = GatewayMetrics(known_models=["gpt-4o"])
    stray = RequestOutcome("GET", "unmatched", 404, 0.001, aborted=False, path="/sk-gw-secret/x")
    metrics.observe(stray, RequestRecord(key_id="team-secret"))
    metrics.observe(_served(404), RequestRecord(model="client-made-up-model", prompt_tokens=3))
    metrics.observe(RequestOutcome("BREW", CHAT, 405, 0.001, aborted=False), RequestRecord())
    text = metrics.render().decode()
    for leak in ("sk-gw-secret", "team-secret", "client-made-up-model", "BREW"):
        assert leak not in text
    assert _value(metrics, "llm_gateway_tokens_total", model="unknown", kind="prompt") == 3
    assert _value(
        metrics, "llm_gateway_requests_total", route="unmatched", method="GET", status="404"
    ) == 1


def test_model_labels_admit_routed_names_up_to_a_bound() -> None:
    labels = ModelLabels(["gpt-4o"], max_extra=2)
    assert labels.label("gpt-4o", served=False) == "gpt-4o"
    assert labels.label(None, served=True) == "unknown"
    assert labels.label("claude-x", served=False) == "unknown"
    assert labels.label("claude-x", served=True) == "claude-x"
    assert labels.label("claude-y", served=True) == "claude-y"
    assert labels.label("claude-z", served=True) == "other"
    assert labels.label("claude-x", served=False) == "claude-x"


def test_odd_methods_share_one_label() -> None:
    assert method_label("POST") == "POST"
    assert method_label("PROPFIND") == "other"


def test_circuit_breaker_states_are_read_at_each_scrape() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(clock, failure_threshold=1, cooldown_seconds=10)
    metrics = GatewayMetrics()
    metrics.watch_circuit_breakers({"semantic_search": breaker})
    state = "llm_gateway_circuit_breaker_state"
    assert _value(metrics, state, backend="semantic_search") == 0
    breaker.record_failure()
    assert _value(metrics, state, backend="semantic_search") == 2
    clock.advance(10)
    assert _value(metrics, state, backend="semantic_search") == 1
    breaker.record_success()
    assert _value(metrics, state, backend="semantic_search") == 0


def _unset(monkeypatch: pytest.MonkeyPatch) -> None:
    # Set first, so that monkeypatch remembers to remove what prepare_multiprocess_dir sets.
    monkeypatch.setenv(MULTIPROCESS_DIR_ENV, "placeholder")
    monkeypatch.delenv(MULTIPROCESS_DIR_ENV)


def test_one_worker_needs_no_multiprocess_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    _unset(monkeypatch)
    prepare_multiprocess_dir(1)
    assert MULTIPROCESS_DIR_ENV not in os.environ


def test_several_workers_get_a_fresh_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    _unset(monkeypatch)
    prepare_multiprocess_dir(2)
    directory = Path(os.environ[MULTIPROCESS_DIR_ENV])
    assert directory.is_dir() and not any(directory.iterdir())


def test_an_operator_directory_is_emptied_of_the_last_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "counter_123.db").write_bytes(b"old counts")
    (tmp_path / "notes.txt").write_text("not ours")
    monkeypatch.setenv(MULTIPROCESS_DIR_ENV, str(tmp_path))
    prepare_multiprocess_dir(4)
    assert os.environ[MULTIPROCESS_DIR_ENV] == str(tmp_path)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["notes.txt"]


# Imported in a fresh interpreter: prometheus_client picks its storage at import time.
_WORKER = """
from gateway_http.observability.metrics import GatewayMetrics
from gateway_http.observability.outcome import RequestOutcome
from gateway_http.request_record import RequestRecord
metrics = GatewayMetrics(known_models=["echo"])
for _ in range({count}):
    metrics.observe(
        RequestOutcome("POST", "/v1/chat/completions", 200, 0.01, False),
        RequestRecord(model="echo", prompt_tokens=2),
    )
"""


def test_render_sums_every_process_in_multiprocess_mode(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env = {**os.environ, MULTIPROCESS_DIR_ENV: str(tmp_path)}
    workers = [
        subprocess.Popen([sys.executable, "-c", _WORKER.format(count=count)], env=env)
        for count in (3, 4)
    ]
    assert [worker.wait(timeout=60) for worker in workers] == [0, 0]
    monkeypatch.setenv(MULTIPROCESS_DIR_ENV, str(tmp_path))
    metrics = GatewayMetrics(known_models=["echo"])
    requests = "llm_gateway_requests_total"
    assert _value(metrics, requests, route=CHAT, method="POST", status="200") == 7
    assert _value(metrics, "llm_gateway_tokens_total", model="echo", kind="prompt") == 14


def test_per_key_requests_tokens_and_cost_with_a_bounded_label() -> None:
    metrics = GatewayMetrics(known_models=["gpt-4o"])
    record = RequestRecord(key_id="team-a", model="gpt-4o", prompt_tokens=10,
                           completion_tokens=4, cost_usd=Money.usd("0.25"))  # fmt: skip
    metrics.observe(_served(), record)
    metrics.observe(_served(429), RequestRecord(key_id="team-a", model="gpt-4o"))
    metrics.observe(_served(), RequestRecord(key_id="team-b", model="gpt-4o", prompt_tokens=1))
    assert _value(metrics, "llm_gateway_key_requests_total", key_id="team-a") == 2
    assert _value(metrics, "llm_gateway_key_tokens_total", key_id="team-a", kind="prompt") == 10
    assert _value(metrics, "llm_gateway_key_tokens_total", key_id="team-a", kind="completion") == 4
    assert _value(metrics, "llm_gateway_key_cost_usd_total", key_id="team-a") == 0.25
    assert _value(metrics, "llm_gateway_key_requests_total", key_id="team-b") == 1


def test_key_labels_stop_at_their_bound() -> None:
    labels = KeyLabels(max_keys=2)
    assert [labels.label(k) for k in ("a", "b", "c", "a")] == ["a", "b", "other", "a"]


def test_time_to_first_token_is_observed_for_streams_only() -> None:
    metrics = GatewayMetrics(known_models=["gpt-4o"])
    stream = RequestOutcome("POST", CHAT, 200, 1.0, aborted=False, first_byte_seconds=0.12)
    metrics.observe(stream, RequestRecord(model="gpt-4o", stream=True))
    json_answer = RequestOutcome("POST", CHAT, 200, 0.5, aborted=False, first_byte_seconds=0.5)
    metrics.observe(json_answer, RequestRecord(model="gpt-4o"))
    ttft = "llm_gateway_time_to_first_token_seconds"
    assert _value(metrics, f"{ttft}_count", model="gpt-4o") == 1
    assert _value(metrics, f"{ttft}_sum", model="gpt-4o") == 0.12


def test_requests_in_flight_go_up_and_down() -> None:
    metrics = GatewayMetrics()
    metrics.request_started()
    metrics.request_started()
    assert _value(metrics, "llm_gateway_requests_in_flight") == 2
    metrics.request_finished()
    assert _value(metrics, "llm_gateway_requests_in_flight") == 1
