"""The service's OpenAPI 3.1 contract: built from the request schemas and one table of routes."""

from gateway_http.openapi.document import OPERATIONS, Operation, build_openapi

__all__ = ["OPERATIONS", "Operation", "build_openapi"]
