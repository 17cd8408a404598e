"""Notice that a configuration file changed, and apply it only if it is valid.

A file is known by its signature: the resolved path (a Kubernetes ConfigMap update swaps the
``..data`` symlink, so the path behind the name changes), inode, size, mtime and a SHA-256 of
its content. The content hash decides: a ``touch`` that changes nothing reloads nothing.

Applying a file is the caller's ``apply`` callable: it validates the whole file and builds the
new objects before swapping them in with one assignment, so it either succeeds whole or raises
and leaves the old configuration serving. A rejected file is logged once (not every poll)
with the validator's message, which names the file, entry and field and never a secret.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from gateway_adapters.config.validation import ConfigFileError

log = logging.getLogger("gateway_http.reload")


@dataclass(frozen=True, slots=True)
class FileSignature:
    resolved: str
    inode: int
    size: int
    mtime_ns: int
    digest: str

    @property
    def identity(self) -> tuple[str, int, int, int]:
        """Everything but the digest: what a ``stat`` tells."""
        return (self.resolved, self.inode, self.size, self.mtime_ns)


def signature(path: Path, previous: FileSignature | None = None) -> FileSignature | None:
    """The file's signature, ``None`` when it cannot be read. The content is hashed only when
    the stat differs from ``previous`` (a poll of an unchanged file reads no bytes)."""
    try:
        resolved = path.resolve()
        stat = os.stat(resolved)
        identity = (str(resolved), stat.st_ino, stat.st_size, stat.st_mtime_ns)
        if previous is not None and identity == previous.identity:
            return previous
        digest = hashlib.sha256(resolved.read_bytes()).hexdigest()
    except OSError:
        return None
    return FileSignature(*identity, digest)


@dataclass(frozen=True, slots=True)
class WatchedFile:
    name: str
    """The metric label and log name: ``providers``, ``pricing``, ..."""
    path: Path
    apply: Callable[[], None]
    """Validate the file, build the new objects, swap them in; raise when the file is bad."""


class ConfigReloader:
    def __init__(
        self,
        files: Sequence[WatchedFile],
        on_result: Callable[[str, str], None] = lambda file, result: None,
        seen: Mapping[str, FileSignature | None] | None = None,
    ) -> None:
        """``seen``: the signatures taken before start-up read the files (``baseline``), so
        that a change made while the worker was starting is not taken as already loaded."""
        self._files = tuple(files)
        self._on_result = on_result
        seen = seen or {}
        self._seen = {
            file.name: seen[file.name] if file.name in seen else signature(file.path)
            for file in self._files
        }

    def check(self) -> None:
        """Reload every file whose content changed since it was last seen."""
        for file in self._files:
            previous = self._seen[file.name]
            current = signature(file.path, previous)
            if current is None or current == previous:
                continue
            self._seen[file.name] = current
            if previous is None or current.digest != previous.digest:
                self.reload(file)

    def reload_all(self) -> None:
        """SIGHUP: reload every file, changed or not."""
        for file in self._files:
            self._seen[file.name] = signature(file.path, self._seen[file.name])
            self.reload(file)

    def reload(self, file: WatchedFile) -> bool:
        try:
            file.apply()
        except ConfigFileError as error:
            self._rejected(file, str(error))
            return False
        except (OSError, ValueError) as error:
            # Not a validator's message: its text could quote the file, so only its kind.
            self._rejected(file, type(error).__name__)
            return False
        log.info("reloaded the %s file %s", file.name, file.path)
        self._on_result(file.name, "applied")
        return True

    def _rejected(self, file: WatchedFile, reason: str) -> None:
        log.warning(
            "the %s file %s was not reloaded; the previous configuration keeps serving: %s",
            file.name, file.path, reason,
        )  # fmt: skip
        self._on_result(file.name, "rejected")

    async def poll(
        self,
        interval_seconds: float,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """Check every ``interval_seconds`` until cancelled."""
        while True:
            await sleep(interval_seconds)
            self.check()
