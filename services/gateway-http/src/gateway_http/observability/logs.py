"""Every log line of the process as one JSON object per line on stdout, written off the
request path, with secrets scrubbed.

``logging_config(level)`` is a ``logging.config.dictConfig`` dict: the CLI applies it and
hands it to uvicorn (``log_config=``), which applies it again in each worker it spawns, so
uvicorn's, Litestar's and the gateway's stdlib loggers all reach the one ``JsonLinesHandler``.
Its ``emit`` only puts a tuple on a queue; a thread encodes the lines (msgspec), scrubs them
and writes them. The per-request line (``REQUEST_LOGGER``) carries its fields in the record's
``FIELDS_ATTRIBUTE`` and is always on at INFO: it is the access log, not a diagnostic.

Lines look like ``{"ts": "...Z", "level": "info", "logger": "...", "pid": 7, "message": ...}``
plus the request fields. Stdlib, not structlog: one queue put is all a request pays.
"""

from __future__ import annotations

import logging
import logging.config
import os
import queue
import re
import sys
import threading
import time
import traceback
from datetime import UTC, datetime
from multiprocessing import util as multiprocessing_util
from typing import IO, Any

import msgspec

REQUEST_LOGGER = "gateway_http.requests"
FIELDS_ATTRIBUTE = "gateway_fields"
"""``log.info("request", extra={FIELDS_ATTRIBUTE: {...}})``: fields merged into the line."""

_STOP = object()
_FLUSH_TIMEOUT_SECONDS = 2.0
_BATCH_SECONDS = 0.02
_SECRET_NAMES = rb"(?:proxy-authorization|authorization|x-api-key|api[-_]?key|set-cookie|cookie)"
_REDACTED = b"[redacted]"
_REDACTIONS = (
    # A JSON field named like a secret header: the whole string value.
    (re.compile(rb'(?i)("' + _SECRET_NAMES + rb'"\s*:\s*)"(?:[^"\\]|\\.)*"'), rb'\1"[redacted]"'),
    # The same names in free text ("authorization: ...", "(b'x-api-key', b'...')"): the rest of
    # the string, since the value's own end cannot be told reliably.
    (
        re.compile(rb"(?i)\b(" + _SECRET_NAMES + rb")(\\?['\"]?\s*[:=,]\s*b?\\?['\"]?)[^\\\"\n]+"),
        rb"\1\2[redacted]",
    ),
    (re.compile(rb"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-]+"), rb"\1 [redacted]"),
    # Client keys (sk-gw-...) and the common provider key shapes (sk-..., sk-ant-...).
    (re.compile(rb"(?<![A-Za-z0-9])sk-[A-Za-z0-9_\-]{8,}"), rb"sk-[redacted]"),
    # The cloud providers' credentials, the shapes gateway_core.domain.secrets scrubs from
    # upstream errors: AWS access key ids, Google API keys, OAuth/JWT bearer tokens.
    (re.compile(rb"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), _REDACTED),
    (re.compile(rb"\bAIza[0-9A-Za-z_\-]{30,}"), _REDACTED),
    (re.compile(rb"\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"), _REDACTED),
)


_TRIGGERS = (b"authorization", b"api", b"cookie", b"bearer", b"basic", b"sk-", b"akia", b"asia",
             b"aiza", b"eyj")  # fmt: skip
"""Substrings without which no redaction can match: most lines skip the regexes (~20 us)."""


def redact(line: bytes) -> bytes:
    """Scrub header secrets and key-shaped strings from one encoded line."""
    find = line.lower().find
    for trigger in _TRIGGERS:
        if find(trigger) >= 0:  # not ``in``: Python 3.11 tries the needle as an int first
            break
    else:
        return line
    for pattern, replacement in _REDACTIONS:
        line = pattern.sub(replacement, line)
    return line


def _fallback(value: Any) -> Any:
    return str(value)


class JsonLinesHandler(logging.Handler):
    """Queues records; one daemon thread writes them as JSON lines (in order, never interleaved)."""

    def __init__(self, stream: IO[str] | None = None, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        # The lines name no thread and no process name, and the pid is the writer's own: a
        # record need not look them up (the thread, multiprocessing's process, a getpid
        # system call), 1.4 of the 3.6 us every request's line paid for its record.
        logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
        self._stream = stream or sys.stdout
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._encoder = msgspec.json.Encoder(enc_hook=_fallback)
        self._thread = threading.Thread(
            target=self._write_forever, name="json-log-writer", daemon=True
        )
        self._thread.start()
        # uvicorn's workers end with os._exit, which skips atexit (and logging.shutdown).
        multiprocessing_util.Finalize(None, self.close, exitpriority=10)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            fields = getattr(record, FIELDS_ATTRIBUTE, None)
            if fields is None:
                fields = {"message": record.getMessage()}
                if record.exc_info:
                    fields["exception"] = "".join(traceback.format_exception(*record.exc_info))
            self._queue.put((record.created, record.levelname, record.name, fields))
        except Exception:  # noqa: BLE001 - logging must never raise into the caller
            self.handleError(record)

    def _write_forever(self) -> None:
        while True:
            batch = [self._queue.get()]
            while True:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            if self._write(batch):
                return
            # Under load, let lines gather instead of waking (and taking the GIL) per line.
            time.sleep(_BATCH_SECONDS)

    def _write(self, batch: list[Any]) -> bool:
        """Writes the batch, then wakes the flushes waiting on it; True when told to stop."""
        lines, flushes, stop = [], [], False
        pid = os.getpid()  # the records' process: this thread's
        for item in batch:
            if item is _STOP:
                stop = True
            elif isinstance(item, threading.Event):
                flushes.append(item)
            else:
                created, level, logger, fields = item
                lines.append(self._line(created, level, logger, fields, pid))
        try:
            self._stream.write("".join(lines))
            self._stream.flush()
        except (OSError, ValueError):
            pass  # stdout is gone: nothing left to tell
        for flushed in flushes:
            flushed.set()
        return stop

    def _line(self, created: float, level: str, logger: str, fields: Any, pid: int) -> str:
        timestamp = datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
        head: dict[str, Any] = {
            "ts": timestamp.replace("+00:00", "Z"), "level": level.lower(), "logger": logger
        }
        head["pid"] = pid
        try:
            encoded = self._encoder.encode({**head, **fields})
        except Exception as error:  # noqa: BLE001 - the writer must outlive any bad record
            head["message"] = f"unencodable log record ({type(error).__name__})"
            encoded = self._encoder.encode(head)
        return redact(encoded).decode("utf-8", "replace") + "\n"

    def flush(self) -> None:
        """Waits (briefly) until everything queued so far is written."""
        if self._thread.is_alive():
            written = threading.Event()
            self._queue.put(written)
            written.wait(_FLUSH_TIMEOUT_SECONDS)

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(_FLUSH_TIMEOUT_SECONDS)
        super().close()


def logging_config(level: str) -> dict[str, Any]:
    """The dictConfig for the CLI and for uvicorn's ``log_config`` (picklable: plain data)."""
    uvicorn_loggers = ("uvicorn", "uvicorn.error", "uvicorn.asgi", "litestar")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {"json": {"()": f"{__name__}.JsonLinesHandler"}},
        "root": {"level": level.upper(), "handlers": ["json"]},
        "loggers": {
            # Their own handlers go; their records reach the root's JSON handler.
            **{name: {"handlers": [], "propagate": True} for name in uvicorn_loggers},
            "uvicorn.access": {"handlers": [], "propagate": False},
            REQUEST_LOGGER: {"level": "INFO"},
        },
    }


def configure_logging(level: str) -> None:
    logging.config.dictConfig(logging_config(level))
