"""Derived figures (added latency, ratios), the printed table, and the JSON file."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from pathlib import Path

_COLUMNS = (
    ("scenario", 23), ("req/s", 8), ("p50", 6), ("p90", 6), ("p99", 6), ("@rate p50", 9),
    ("p99", 6), ("1st byte", 8), ("+p50", 6), ("+p99", 6), ("+1st", 6), ("CPU s/1k", 8),
    ("req/CPU-s", 9), ("busy", 4), ("RSS MB", 6),
)


def add_derived(results: list[dict]) -> None:
    """Added latency (gateway minus its direct baseline, same paced rate) and throughput ratio.

    The added p99 is the difference of the two p99s, not the p99 of per-request differences
    (requests are not paired).
    """
    by_name = {r["name"]: r for r in results}
    for result in results:
        base = by_name.get(result.get("baseline") or "")
        if result["status"] != "ok" or base is None or base["status"] != "ok":
            continue
        mine, theirs = result["paced"], base["paced"]
        if mine is None:  # an anchor slower than the paced rate: no latency measured
            result["throughput_vs_direct"] = (
                result["throughput"]["requests_per_s"] / base["throughput"]["requests_per_s"]
            )
            continue
        result["added_ms"] = {
            "p50": mine["latency_ms"]["p50"] - theirs["latency_ms"]["p50"],
            "p99": mine["latency_ms"]["p99"] - theirs["latency_ms"]["p99"],
            "first_byte_p50": mine["first_byte_ms"]["p50"] - theirs["first_byte_ms"]["p50"],
        }
        result["throughput_vs_direct"] = (
            result["throughput"]["requests_per_s"] / base["throughput"]["requests_per_s"]
        )


def _cells(result: dict) -> list[str]:
    if result["status"] != "ok":
        return [result["name"], result["status"].upper()]
    load, paced = result["throughput"], result["paced"]
    added = result.get("added_ms", {})
    if paced is None:
        paced_cells = ["-", "-", "-"]
    else:
        paced_cells = [
            f"{paced['latency_ms']['p50']:.2f}", f"{paced['latency_ms']['p99']:.2f}",
            f"{paced['first_byte_ms']['p50']:.2f}" if result["stream"] else "-",
        ]
    cells = [
        result["name"], f"{load['requests_per_s']:.0f}",
        *(f"{load['latency_ms'][q]:.2f}" for q in ("p50", "p90", "p99")),
        *paced_cells,
        *(f"{added[k]:+.2f}" if k in added else "-" for k in ("p50", "p99")),
        f"{added['first_byte_p50']:+.2f}" if added and result["stream"] else "-",
        *_cpu_cells(result),
    ]
    return cells


def _cpu_cells(result: dict) -> list[str]:
    if "cpu_s_per_1k_requests" not in result:
        return ["-"] * 4
    return [
        f"{result['cpu_s_per_1k_requests']:.2f}", f"{result['requests_per_cpu_s'] or 0:.0f}",
        f"{result['cores_busy']:.2f}", f"{result['peak_rss_mb']['max_process']:.0f}",
    ]


def table(results: list[dict], rate: float) -> str:
    lines = [
        f"latency in ms; p50/p90/p99 under wrk load; '@rate' = paced at {rate:g} req/s; "
        "'+' = added vs the direct baseline at the same rate;\nreq/CPU-s = requests per CPU "
        "second of the gateway; busy = cores the gateway used under load; RSS = peak of the "
        "largest process",
        "  ".join(name.rjust(width) for name, width in _COLUMNS),
    ]
    for result in results:
        # A row that was not measured has only its name and status.
        cells = zip(_cells(result), _COLUMNS, strict=False)
        lines.append("  ".join(cell.rjust(width) for cell, (_, width) in cells))
    notes = [f"  {r['name']}: {r['status']}: {r['reason']}" for r in results if r.get("reason")]
    return "\n".join(lines + notes)


def machine() -> dict:
    cpu_model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu_model, "cores": os.cpu_count(), "kernel": platform.release(),
        "python": platform.python_version(), "commit": _git_commit(),
        "load_average_1m_at_start": os.getloadavg()[0],
    }


def _git_commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True, check=False, cwd=Path(__file__).resolve().parent)
    return done.stdout.strip()


def write_json(path: Path, document: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")


# ---------------------------------------------------------------- the anchors' table

_ROWS = (
    # (label, JSON scenario, stream scenario)
    ("Portkey gateway, no controls", "portkey-json", "portkey-stream"),
    ("this gateway, controls off", "openai-json", "openai-stream"),
    ("this gateway, every control on", "realistic-json", "realistic-stream"),
    ("LiteLLM proxy, no controls", "litellm-json", "litellm-stream"),
)


def _figures(json_result: dict | None, stream_result: dict | None) -> dict:
    """The comparable figures of one target, from its JSON and stream scenarios."""
    figures: dict = {}
    if json_result and json_result["status"] == "ok":
        added = json_result.get("added_ms", {})
        figures.update(
            json_rps=json_result["throughput"]["requests_per_s"],
            json_added_p50_ms=added.get("p50"), json_added_p99_ms=added.get("p99"),
            json_cpu_ms=json_result.get("cpu_s_per_1k_requests"),
            peak_rss_mb=json_result.get("peak_rss_mb", {}).get("max_process"),
        )
    if stream_result and stream_result["status"] == "ok":
        added = stream_result.get("added_ms", {})
        figures.update(
            stream_rps=stream_result["throughput"]["requests_per_s"],
            stream_added_first_byte_ms=added.get("first_byte_p50"),
            stream_cpu_ms=stream_result.get("cpu_s_per_1k_requests"),
        )
        rss = stream_result.get("peak_rss_mb", {}).get("max_process")
        if rss is not None:
            figures["peak_rss_mb"] = max(rss, figures.get("peak_rss_mb") or 0)
    return figures


_SIDE_BY_SIDE = (
    ("json", "p50", "json_added_p50_side_ms"),
    ("json", "p99", "json_added_p99_side_ms"),
    ("stream", "p50", "stream_added_first_byte_side_ms"),
)
"""The run's closing side-by-side measure (``bench.latency_ratio``): kind, percentile, figure."""


def _side_figures(side_by_side: dict, json_name: str, stream_name: str) -> dict:
    """A target's added latency in the side-by-side measure, where it took part."""
    figures = {}
    for kind, percentile, key in _SIDE_BY_SIDE:
        name = json_name if kind == "json" else stream_name
        # A failed measure carries its reason and no "added".
        added = side_by_side.get(kind, {}).get("added", {}).get(name)
        if added is not None and added.get(percentile) is not None:
            figures[key] = added[percentile]
    return figures


def anchor_comparison(results: list[dict], side_by_side: dict | None = None) -> list[dict]:
    """One row per target with its figures and each figure's ratio to Portkey's, same run;
    ``side_by_side``: the run's closing side-by-side measure, whose added latencies join the
    sequential ones (``*_side_ms``)."""
    by_name = {r["name"]: r for r in results}
    rows = []
    for label, json_name, stream_name in _ROWS:
        if json_name not in by_name and stream_name not in by_name:
            continue
        figures = _figures(by_name.get(json_name), by_name.get(stream_name))
        figures.update(_side_figures(side_by_side or {}, json_name, stream_name))
        statuses = {n: by_name[n]["status"] for n in (json_name, stream_name) if n in by_name}
        rows.append({"target": label, "scenarios": statuses, "figures": figures})
    portkey = rows[0]["figures"] if rows and rows[0]["target"].startswith("Portkey") else {}
    for row in rows:
        row["vs_portkey"] = {
            key: value / portkey[key]
            for key, value in row["figures"].items()
            if value is not None and portkey.get(key)
        }
    return rows


def _cell(row: dict, key: str, fmt: str) -> str:
    value = row["figures"].get(key)
    if value is None:
        return "-"
    ratio = row["vs_portkey"].get(key)
    text = format(value, fmt)
    return f"{text} ({ratio:.2f}x)" if ratio is not None and not row["target"].startswith(
        "Portkey") else text


def _latency_cell(row: dict, key: str) -> str:
    """A sequential added latency, then (where the run measured it) the side-by-side one."""
    cell = _cell(row, f"{key}_ms", "+.2f")
    if f"{key}_side_ms" in row["figures"]:
        cell += f"; {_cell(row, f'{key}_side_ms', '+.2f')}"
    return cell


def anchor_table(rows: list[dict]) -> str:
    """The issue's table: every figure with its ratio to Portkey measured in this run. The
    added latencies read sequentially (each target's paced probe after its own load), then,
    after a ";", side by side (``bench.latency_ratio``: the targets in turn, in one window)."""
    if not rows:
        return ""
    header = ("| target | JSON req/s | stream req/s | added p50 (JSON) | added p99 (JSON) "
              "| stream first byte added | CPU ms per JSON / stream request | peak RSS MB |")
    lines = [header, "|" + "---|" * 8]
    for row in rows:
        cpu = f"{_cell(row, 'json_cpu_ms', '.2f')} / {_cell(row, 'stream_cpu_ms', '.2f')}"
        lines.append(" | ".join([
            f"| {row['target']}", _cell(row, "json_rps", ",.0f"), _cell(row, "stream_rps", ",.0f"),
            _latency_cell(row, "json_added_p50"), _latency_cell(row, "json_added_p99"),
            _latency_cell(row, "stream_added_first_byte"), cpu,
            _cell(row, "peak_rss_mb", ".0f"),
        ]) + " |")
    if any(key.endswith("_side_ms") for row in rows for key in row["figures"]):
        lines.append("added latencies: sequential; side by side (after the \";\")")
    missing = [f"{row['target']}: {name} {status}" for row in rows
               for name, status in row["scenarios"].items() if status != "ok"]
    if missing:
        lines.append("not measured: " + "; ".join(missing))
    return "\n".join(lines)
