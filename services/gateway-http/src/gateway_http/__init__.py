"""gateway-http: the Litestar service in front of gateway-core. Entry point: ``create_app``."""

from gateway_http.app import create_app

__all__ = ["create_app"]
