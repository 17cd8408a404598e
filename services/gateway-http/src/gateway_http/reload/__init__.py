"""Configuration files reloaded without a restart: on change (polled) and on SIGHUP."""

from gateway_http.reload.watcher import ConfigReloader, FileSignature, WatchedFile, signature

__all__ = ["ConfigReloader", "FileSignature", "WatchedFile", "signature"]
