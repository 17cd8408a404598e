"""The reload watcher over real temporary files: a changed content reloads once, an unchanged
or touched file reloads nothing, a bad file is refused once and logged, a symlink swap (how a
Kubernetes ConfigMap updates) is noticed, SIGHUP reloads all; and ``Live`` swaps whole."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path

import pytest

from gateway_adapters.config.validation import ConfigFileError
from gateway_core.live import Live
from gateway_http.reload.watcher import ConfigReloader, WatchedFile, signature


class Applied:
    """A file's apply: parses JSON, refuses ``{"bad": ...}`` like a validator would."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.values: list[dict] = []

    def __call__(self) -> None:
        value = json.loads(self.path.read_text())
        if "bad" in value:
            raise ConfigFileError(f"{self.path}: entry 'bad': field 'value' is not allowed")
        self.values.append(value)


def _reloader(path: Path) -> tuple[ConfigReloader, Applied, list[tuple[str, str]]]:
    applied = Applied(path)
    results: list[tuple[str, str]] = []
    watched = WatchedFile("sample", path, applied)
    return ConfigReloader([watched], lambda *result: results.append(result)), applied, results


def _write(path: Path, value: dict) -> None:
    staged = path.with_name(path.name + ".new")
    staged.write_text(json.dumps(value))
    staged.replace(path)


def test_a_changed_file_is_applied_once(tmp_path: Path) -> None:
    path = tmp_path / "sample.json"
    _write(path, {"v": 1})
    reloader, applied, results = _reloader(path)
    reloader.check()
    assert applied.values == []
    _write(path, {"v": 2})
    reloader.check()
    reloader.check()
    assert applied.values == [{"v": 2}]
    assert results == [("sample", "applied")]


def test_a_touched_file_with_the_same_content_is_not_reloaded(tmp_path: Path) -> None:
    path = tmp_path / "sample.json"
    _write(path, {"v": 1})
    reloader, applied, _ = _reloader(path)
    _write(path, {"v": 1})  # a new inode and mtime, the same bytes
    os.utime(path, ns=(1, 1))
    reloader.check()
    assert applied.values == []


def test_a_bad_file_is_refused_once_with_a_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "sample.json"
    _write(path, {"v": 1})
    reloader, applied, results = _reloader(path)
    _write(path, {"bad": True})
    with caplog.at_level(logging.WARNING, "gateway_http.reload"):
        reloader.check()
        reloader.check()
    assert applied.values == []
    assert results == [("sample", "rejected")]
    assert len(caplog.records) == 1
    assert "entry 'bad'" in caplog.records[0].getMessage()
    _write(path, {"v": 3})
    reloader.check()
    assert applied.values == [{"v": 3}]


def test_an_unparsable_file_is_refused_without_quoting_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "sample.json"
    _write(path, {"v": 1})
    reloader, _, results = _reloader(path)
    path.write_text('{"api_key": "sk-secret-value"')
    with caplog.at_level(logging.WARNING, "gateway_http.reload"):
        reloader.check()
    assert results == [("sample", "rejected")]
    assert "sk-secret-value" not in caplog.text
    assert "JSONDecodeError" in caplog.text


def test_a_configmap_symlink_swap_is_noticed(tmp_path: Path) -> None:
    """A ConfigMap volume: ``file -> ..data/file``, ``..data -> ..<timestamp>``; an update
    writes a new timestamped directory and swaps ``..data``."""
    first, second = tmp_path / "..2026_01", tmp_path / "..2026_02"
    for directory, version in ((first, 1), (second, 2)):
        directory.mkdir()
        (directory / "sample.json").write_text(json.dumps({"v": version}))
    (tmp_path / "..data").symlink_to(first.name)
    path = tmp_path / "sample.json"
    path.symlink_to("..data/sample.json")
    reloader, applied, _ = _reloader(path)
    (tmp_path / "..data_tmp").symlink_to(second.name)
    (tmp_path / "..data_tmp").replace(tmp_path / "..data")
    reloader.check()
    assert applied.values == [{"v": 2}]


def test_sighup_reloads_every_file_even_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "sample.json"
    _write(path, {"v": 1})
    reloader, applied, _ = _reloader(path)
    reloader.reload_all()
    assert applied.values == [{"v": 1}]


def test_a_missing_file_keeps_the_old_configuration(tmp_path: Path) -> None:
    path = tmp_path / "sample.json"
    _write(path, {"v": 1})
    reloader, applied, _ = _reloader(path)
    path.unlink()
    reloader.check()
    assert applied.values == []
    _write(path, {"v": 2})
    reloader.check()
    assert applied.values == [{"v": 2}]


def test_the_signature_reads_no_bytes_while_the_stat_is_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "sample.json"
    _write(path, {"v": 1})
    first = signature(path)
    assert first is not None
    assert signature(path, first) is first


def test_polling_checks_at_each_interval(tmp_path: Path) -> None:
    path = tmp_path / "sample.json"
    _write(path, {"v": 1})
    reloader, applied, _ = _reloader(path)
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        if len(slept) == 2:
            _write(path, {"v": 2})
        if len(slept) == 4:
            raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(reloader.poll(2.0, sleep=sleep))
    assert slept == [2.0, 2.0, 2.0, 2.0]
    assert applied.values == [{"v": 2}]


def test_live_swaps_the_whole_value_and_returns_the_old_one() -> None:
    live = Live({"routes": 1})
    held = live.current  # what a running request holds
    assert live.swap({"routes": 2}) is held
    assert live.current == {"routes": 2}
    assert held == {"routes": 1}


def test_a_change_made_during_start_up_is_reloaded(tmp_path: Path) -> None:
    """The baseline is taken before start-up reads the file; a change after it is new."""
    path = tmp_path / "sample.json"
    _write(path, {"v": 1})
    before_start_up = {"sample": signature(path)}
    _write(path, {"v": 2})  # while the worker was starting
    applied = Applied(path)
    reloader = ConfigReloader([WatchedFile("sample", path, applied)], seen=before_start_up)
    reloader.check()
    assert applied.values == [{"v": 2}]
