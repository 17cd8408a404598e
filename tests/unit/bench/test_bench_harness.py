"""The benchmark's own arithmetic and parsing: a wrong figure here would mislead every run."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest
import redis

from bench import __main__ as bench_main
from bench import (
    admission_cost,
    first_byte,
    hop_floor,
    idle_gaps,
    instructions,
    latency_ratio,
    processes,
    report,
    runner,
    slow_run,
)
from bench.paced_stream import Pace, Pacer, content_event
from bench.payloads import openai_body, raw_post
from bench.probe import ProbeError
from bench.slow_streams import Tally, _Stream, percentiles_ms
from gateway_core.clock import SystemClock


def _ok(name: str, rps: float, added_p50: float, cpu: float, rss: float, stream: bool) -> dict:
    return {
        "name": name, "status": "ok", "stream": stream,
        "throughput": {"requests_per_s": rps},
        "added_ms": {"p50": added_p50, "p99": 2 * added_p50, "first_byte_p50": added_p50},
        "cpu_s_per_1k_requests": cpu, "peak_rss_mb": {"max_process": rss},
    }


def _portkey_and_ours(portkey_json_p50: float, our_json_p50: float) -> list[dict]:
    """One run's Portkey scenarios and ours with the controls off."""
    return [
        _ok("portkey-json", 1000, portkey_json_p50, 1.0, 200, False),
        _ok("portkey-stream", 700, 20.0, 1.4, 220, True),
        _ok("openai-json", 2500, our_json_p50, 0.4, 80, False),
        _ok("openai-stream", 1400, 1.0, 0.7, 90, True),
    ]


def test_every_figure_is_a_ratio_to_portkeys_from_the_same_run() -> None:
    results = [
        *_portkey_and_ours(2.0, 0.5),
        {"name": "litellm-json", "status": "pending", "stream": False, "reason": "no npm"},
    ]
    rows = report.anchor_comparison(results)
    ours = next(r for r in rows if r["target"] == "this gateway, controls off")
    assert ours["vs_portkey"]["json_rps"] == pytest.approx(2.5)
    assert ours["vs_portkey"]["stream_rps"] == pytest.approx(2.0)
    assert ours["vs_portkey"]["json_added_p50_ms"] == pytest.approx(0.25)
    assert ours["vs_portkey"]["peak_rss_mb"] == pytest.approx(90 / 220)
    text = report.anchor_table(rows)
    assert "2,500 (2.50x)" in text
    assert "litellm-json pending" in text


def test_the_ratio_table_carries_the_side_by_side_latencies_beside_the_sequential_ones() -> None:
    results = _portkey_and_ours(1.0, 0.6)
    side_by_side = {
        "json": {"added": {"openai-json": {"p50": 0.5, "p99": 1.0},
                           "portkey-json": {"p50": 1.25, "p99": 8.0}}},
        "stream": {"status": "failed", "reason": "TimeoutError"},
    }  # fmt: skip
    rows = report.anchor_comparison(results, side_by_side)
    ours = next(r for r in rows if r["target"] == "this gateway, controls off")
    assert ours["vs_portkey"]["json_added_p50_ms"] == pytest.approx(0.6)  # sequential, kept
    assert ours["vs_portkey"]["json_added_p50_side_ms"] == pytest.approx(0.4)
    assert ours["vs_portkey"]["json_added_p99_side_ms"] == pytest.approx(0.125)
    assert "stream_added_first_byte_side_ms" not in ours["figures"]  # its measure failed
    text = report.anchor_table(rows)
    assert "+0.60 (0.60x); +0.50 (0.40x)" in text
    assert "sequential; side by side" in text
    assert "; +" not in report.anchor_table(report.anchor_comparison(results))


def test_an_anchor_slower_than_the_paced_rate_still_reports_its_throughput_and_cpu() -> None:
    direct = {"name": "direct-openai-stream", "status": "ok", "stream": True,
              "throughput": {"requests_per_s": 60000, "latency_ms": {"p50": 0.5, "p90": 0.6, "p99": 0.8}},
              "paced": {"latency_ms": {"p50": 0.1, "p99": 1.0}, "first_byte_ms": {"p50": 0.1}}}  # fmt: skip
    litellm = {"name": "litellm-stream", "status": "ok", "stream": True,
               "baseline": "direct-openai-stream", "paced": None,
               "throughput": {"requests_per_s": 30, "latency_ms": {"p50": 900, "p90": 1200, "p99": 1500}},
               "cpu_s_per_1k_requests": 29.0, "requests_per_cpu_s": 34, "cores_busy": 0.9,
               "peak_rss_mb": {"max_process": 400}}  # fmt: skip
    results = [direct, litellm, _ok("portkey-stream", 600, 20.0, 1.5, 200, True)]
    report.add_derived(results)
    assert "added_ms" not in litellm and litellm["throughput_vs_direct"] == pytest.approx(0.0005)
    assert "litellm-stream" in report.table([direct, litellm], 100)
    rows = report.anchor_comparison(results)
    litellm_row = next(r for r in rows if r["target"].startswith("LiteLLM"))
    assert litellm_row["figures"]["stream_rps"] == 30
    assert litellm_row["figures"]["stream_cpu_ms"] == 29.0


def test_a_chunk_stamp_cut_across_two_reads_is_still_counted() -> None:
    async def scenario() -> Tally:
        tally = Tally()
        stream = _Stream(b"", tally, measuring=[True], stop=[False])
        event = content_event(time.monotonic_ns())
        cut = event.index(b"tok@") + 6
        stream.on_body(event[:cut])
        stream.on_body(event[cut:] + event)
        return tally

    tally = asyncio.run(scenario())
    assert tally.chunks == 2
    assert all(0 <= delay < 1e9 for delay in tally.delays_ns)
    # The stream's first chunk, then one between chunks.
    assert len(tally.first_delays_ns) == len(tally.later_delays_ns) == 1


def test_percentiles_are_nearest_rank_in_milliseconds() -> None:
    values = [i * 1_000_000 for i in range(1, 101)]  # 1..100 ms
    figures = percentiles_ms(values)
    assert figures["p50"] == 51.0
    assert figures["p99"] == 100.0
    assert figures["max"] == 100.0


class _Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written: list[tuple[float, bytes]] = []

    def write(self, data: bytes) -> None:
        self.written.append((time.monotonic(), data))

    def is_closing(self) -> bool:
        return False


def test_a_paced_stream_writes_each_chunk_on_its_own_at_the_interval() -> None:
    async def scenario() -> _Transport:
        pacer = Pacer(Pace(chunks=5, interval_s=0.01, first_token_s=0.02))
        transport = _Transport()
        pacer.start(transport)
        for _ in range(200):  # up to 2 s: a loaded machine's loop runs late; wait for the end
            if transport.written[-1][1].endswith(b"0\r\n\r\n"):
                break
            await asyncio.sleep(0.01)
        return transport

    transport = asyncio.run(scenario())
    content = [(t, data) for t, data in transport.written if b"tok@" in data]
    assert len(content) == 5
    # The first-token delay and four intervals of 10 ms before the last chunk (late ticks
    # may bunch chunks, but never bring the last one early).
    assert content[-1][0] - transport.written[0][0] >= 0.055
    assert len({data for _, data in content}) == 5  # each chunk its own write
    assert content[0][0] - transport.written[0][0] >= 0.015  # the first-token delay
    assert transport.written[-1][1].endswith(b"data: [DONE]\n\n\r\n0\r\n\r\n")


async def _first_chunk_delays(transports: list[_Transport], wait_s: float = 2.0) -> list[float]:
    """Each stream's first chunk's time after its head, waiting (a loaded machine's loop
    runs late) until every stream has one."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        firsts = [next((t for t, data in transport.written if b"tok@" in data), None)
                  for transport in transports]
        if all(first is not None for first in firsts):
            return [first - transport.written[0][0]
                    for first, transport in zip(firsts, transports, strict=True) if first]
        await asyncio.sleep(0.005)
    raise AssertionError("a paced stream wrote no chunk in time")


def test_each_paced_stream_starts_its_first_token_delay_after_its_own_request() -> None:
    """As from a real upstream, whatever slots the streams before it took: handed out in
    turn, the slots added up to an interval to the delay and bunched streams' ends."""

    async def scenario() -> list[float]:
        pacer = Pacer(Pace(chunks=1, interval_s=0.2, first_token_s=0.02))
        transports = []
        for _ in range(4):
            transport = _Transport()
            pacer.start(transport)
            transports.append(transport)
            await asyncio.sleep(0.011)
        return await _first_chunk_delays(transports)

    delays = asyncio.run(scenario())
    # 20 ms, give or take a 1 ms slot and a late timer (a loaded machine's); had the slots
    # been handed out in turn, each stream's would have come about 180 ms after its request.
    assert all(0.018 <= delay < 0.1 for delay in delays), delays


def test_a_paced_stream_started_while_the_ticks_run_late_is_not_a_turn_late() -> None:
    """A loaded mock runs its ticks late and then in a burst; a stream's slot counted from
    the tick's time, not the loop's, is not passed early in that burst (and the stream's first
    chunk an interval late)."""

    async def scenario() -> list[float]:
        pacer = Pacer(Pace(chunks=1, interval_s=0.2, first_token_s=0.02))
        keep_ticking = _Transport()
        pacer.start(keep_ticking)
        await asyncio.sleep(0.005)
        time.sleep(0.05)  # noqa: ASYNC251 - on purpose: the loop blocked, the ticks 50 ms behind
        transport = _Transport()
        pacer.start(transport)
        return await _first_chunk_delays([transport])

    (delay,) = asyncio.run(scenario())
    # Its 20 ms (the late ticks catch up at once); counted from the loop's time, the burst
    # of late ticks passed its slot before it was due and it waited the 200 ms interval more.
    assert 0.018 <= delay < 0.1, delay


def test_the_hop_floor_proxy_copies_both_ways_what_arrives_before_its_upstream_is_up() -> None:
    """``bench.hop_floor``'s proxy: the floor it measures is only honest if it relays every
    byte, both ways, including what the client sent before the upstream connection opened."""

    async def scenario() -> bytes:
        async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while data := await reader.read(1024):
                writer.write(data.upper())
            writer.close()

        upstream = await asyncio.start_server(echo, "127.0.0.1", 0)
        upstream_port = upstream.sockets[0].getsockname()[1]
        proxy_port = processes.free_port()
        proxy = asyncio.create_task(hop_floor._serve_proxy(proxy_port, upstream_port))
        for _ in range(100):
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", proxy_port)
                break
            except OSError:
                await asyncio.sleep(0.01)
        writer.write(b"first")  # at once: the proxy is still connecting upstream
        first = await reader.readexactly(5)
        writer.write(b" second")
        second = await reader.readexactly(7)
        writer.close()
        proxy.cancel()
        upstream.close()
        return first + second

    assert asyncio.run(asyncio.wait_for(scenario(), 5)) == b"FIRST SECOND"


def test_the_controls_redis_is_the_runs_own_pinned_to_the_load_core(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(processes.REDIS_URL_ENV, raising=False)
    with processes.pinned_redis(1, tmp_path) as url:
        assert os.environ[processes.REDIS_URL_ENV] == url  # what the realistic scenarios read
        port = int(url.split(":")[2].split("/")[0])
        assert port != 6379
        with redis.Redis(port=port) as client:
            assert client.ping()
        found = subprocess.check_output(["pgrep", "-f", f"redis-server.*:?{port}"])
        [pid] = [int(p) for p in found.split()]
        assert os.sched_getaffinity(pid) == {1}
    assert processes.REDIS_URL_ENV not in os.environ
    with pytest.raises(OSError):  # stopped with the run
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_a_redis_given_by_url_is_used_as_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(processes.REDIS_URL_ENV, "redis://elsewhere:6380/2")
    with processes.pinned_redis(1, tmp_path) as url:
        assert url == "redis://elsewhere:6380/2"
    assert list(tmp_path.iterdir()) == []  # nothing started


def test_instruction_counts_come_from_a_dumps_totals_not_its_header(tmp_path: Path) -> None:
    # As callgrind writes a dump taken with `callgrind_control --dump`: the header's summary
    # is 0, the totals line at the end holds the count; the exit dump counted nothing.
    (tmp_path / "callgrind.7.1").write_text(
        "# callgrind format\nevents: Ir\nsummary: 0\nfn=(1) main\n3 5\ntotals: 363308494\n"
    )
    (tmp_path / "callgrind.7").write_text("events: Ir\nsummary: 0\ntotals: 0\n")
    (tmp_path / "gateway.log").write_text("totals: 99\n")  # not a dump: not counted
    assert instructions.counted_total(tmp_path / "callgrind.7.1") == 363_308_494
    assert instructions.dumps_total(tmp_path) == 363_308_494
    (tmp_path / "no-totals").write_text("events: Ir\n")
    with pytest.raises(ValueError, match="not a callgrind dump"):
        instructions.counted_total(tmp_path / "no-totals")


def test_first_byte_compares_each_kinds_added_p50() -> None:
    direct = {"json": [0.0002, 0.0002, 0.0009], "stream": [0.0003, 0.0003, 0.0001]}
    gateway = {"json": [0.0012, 0.0013, 0.0011], "stream": [0.0014, 0.0012, 0.0015]}
    added = first_byte.added_ms(direct, gateway)
    assert added["json"] == pytest.approx(1.0)  # 1.2 - 0.2
    assert added["stream"] == pytest.approx(1.1)  # 1.4 - 0.3
    assert added["stream_minus_json"] == pytest.approx(0.1)


def test_latency_ratio_reports_added_percentiles_and_their_share_of_portkeys() -> None:
    direct = [0.0001] * 98 + [0.0002, 0.0002]
    ours = [0.0006] * 98 + [0.0012, 0.0012]
    portkey = [0.0011] * 98 + [0.0102, 0.0102]
    added = latency_ratio.added_ms(direct, {"openai-json": ours, "portkey-json": portkey})
    assert added["openai-json"] == {"p50": 0.5, "p99": 1.0, "p50_x": 0.5, "p99_x": 0.1}
    assert added["portkey-json"]["p50_x"] == 1.0
    alone = latency_ratio.added_ms(direct, {"openai-json": ours})
    assert alone == {"openai-json": {"p50": 0.5, "p99": 1.0}}  # no anchor: no ratios
    assert latency_ratio.scenario_names(stream=True)[::3] == ["direct-openai-stream", "portkey-stream"]


def test_latency_ratio_lines_name_each_target_and_its_share() -> None:
    result = {"rate": 100.0, "rounds": 4, "block": 300, "stream": True, "added": {
        "openai-stream": {"p50": 0.6, "p99": 1.2, "p50_x": 0.45, "p99_x": 0.14},
        "portkey-stream": {"p50": 1.333, "p99": 8.5, "p50_x": 1.0, "p99_x": 1.0},
    }}  # fmt: skip
    head, ours, anchor = latency_ratio.lines(result)
    assert head == "added latency of a stream first byte at 100 req/s, 4 x 300 each:"
    assert ours.split() == ["openai-stream", "p50", "+0.600", "ms,", "p99", "+1.200", "ms",
                            "(0.45x", "/", "0.14x", "Portkey's)"]  # fmt: skip
    assert "+1.333" in anchor


def test_bench_run_measures_side_by_side_only_the_kinds_whose_anchor_is_in_the_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[bool, int, int]] = []

    def measure(options: object, mock: int, stream: bool, rounds: int, block: int) -> dict:
        calls.append((stream, rounds, block))
        if stream:
            raise ProbeError("portkey-stream: 3 answers not 200")
        return {"added": {}}

    monkeypatch.setattr(latency_ratio, "measure", measure)
    args = bench_main._parser().parse_args(["run", "--side-by-side-rounds", "2"])
    both = {"openai-json", "portkey-json", "portkey-stream"}
    found = bench_main._side_by_side(args, both, None, 1)  # type: ignore[arg-type]
    assert calls == [(False, 2, 300), (True, 2, 300)]
    assert found["json"] == {"added": {}}
    assert found["stream"]["status"] == "failed" and "not 200" in found["stream"]["reason"]
    calls.clear()
    assert bench_main._side_by_side(args, {"openai-json"}, None, 1) == {}  # type: ignore[arg-type]
    off = bench_main._parser().parse_args(["run", "--side-by-side-rounds", "0"])
    assert bench_main._side_by_side(off, both, None, 1) == {}  # type: ignore[arg-type]
    assert calls == []


def test_idle_gaps_reads_an_answers_length_and_refuses_a_stream() -> None:
    head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nContent-Length: 593"
    assert idle_gaps._content_length(head) == 593
    with pytest.raises(SystemExit):
        idle_gaps._content_length(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked")


class _FastClock(SystemClock):
    """A millisecond passes at every reading: leases expire within a few hundred admissions."""

    def __init__(self) -> None:
        self._now = 1_000.0

    def monotonic(self) -> float:
        self._now += 0.001
        return self._now

    def now(self) -> float:
        return self.monotonic()


def test_admission_cost_times_admissions_admitted_from_a_lease() -> None:
    # Several leases' lives (0.6 s each): each is renewed ahead, as between a server's requests.
    per_run, local = asyncio.run(
        admission_cost.time_admissions(admissions=1000, runs=2, warmup=50, clock=_FastClock())
    )
    assert len(per_run) == 2
    assert all(us > 0 for us in per_run)
    assert local > 0.95
    rate_limiter, key = admission_cost.limiter()
    assert rate_limiter.limits_for(key) == admission_cost._LIMITS


def test_the_mock_paces_streams_when_given_the_pace_arguments(tmp_path: Path) -> None:
    """``bench.instructions --pace-chunks`` counts a slow stream only if the mock it starts
    really paces: each content chunk a write of its own, then the end."""
    options = runner.Options(
        duration_s=1, warmup_s=0, connections=1, rate=1, paced_count=1,
        gateway_cores=(0,), load_core=0, log_dir=tmp_path,
    )  # fmt: skip
    paced = ("--pace-chunks", "3", "--pace-interval-ms", "5", "--pace-first-token-ms", "5")
    with runner.mock_upstream(options, paced) as port:
        request = raw_post("127.0.0.1", port, "/v1/chat/completions", openai_body("m", True))
        with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
            connection.sendall(request)
            answer = b""
            while not answer.endswith(b"0\r\n\r\n"):
                answer += connection.recv(65536)
    assert answer.count(b"tok@") == 3
    assert b"data: [DONE]" in answer


def test_instructions_refuse_to_pace_a_json_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        instructions.main(["--scenario", "openai-json", "--pace-chunks", "2"])
    assert exit_.value.code == 2
    assert "choose a stream scenario" in capsys.readouterr().err


def test_slow_streams_report_the_delay_added_between_chunks_and_to_the_first_apart() -> None:
    def delays(p50: float, p99: float) -> dict:
        return {"p50": p50, "p90": p99, "p99": p99, "max": p99}

    def target(base: float, first: float) -> dict:
        return {
            "status": "ok", "chunks_per_s": 9000.0, "chunks": 45000,
            "chunk_delay_ms": delays(base, base * 4),
            "first_chunk_delay_ms": delays(first, first * 2),
            "later_chunk_delay_ms": delays(base, base * 3),
        }  # fmt: skip

    direct = target(0.2, 0.2)
    ours = {**target(0.3, 0.6), "cpu_us_per_chunk": 25.0, "rss_kb_per_stream": 40.0}
    portkey = {**target(50.0, 60.0), "cpu_us_per_chunk": 50.0, "rss_kb_per_stream": 200.0}
    results = {"direct": direct, "gateway": ours, "portkey": portkey}
    slow_run._derive(results)
    assert ours["added_delay_ms"] == pytest.approx({"p50": 0.1, "p99": 0.4})
    assert ours["added_later_delay_ms"] == pytest.approx({"p50": 0.1, "p99": 0.3})
    assert ours["added_first_delay_ms"] == pytest.approx({"p50": 0.4, "p99": 0.8})
    assert ours["vs_portkey"]["cpu_us_per_chunk"] == pytest.approx(0.5)
    load = {"streams": 1000, "chunks": 50, "interval_ms": 100, "first_token_ms": 200,
            "window_s": 5}  # fmt: skip
    row = next(line for line in slow_run.table({"load": load, "targets": results}).splitlines()
               if line.startswith("| gateway"))  # fmt: skip
    assert "| +0.10 / +0.40 | +0.10 / +0.30 | +0.40 / +0.80 | 0.50x, 0.20x |" in row
