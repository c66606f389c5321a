"""One place that maps the product's exceptions to HTTP answers: ``{"code": ..., "message": ...}``.

Every function behind the HTTP API builds its resolver with :func:`create_resolver`, so every error, from
request validation to a storage outage, has the same shape and none of them echoes the caller's input (which
may hold a password or a token) back.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from offline_push.errors import OfflinePushError

logger = Logger(child=True)


def json_response(status: HTTPStatus, body: Any, headers: dict[str, str] | None = None) -> Response[str]:
    return Response(
        status_code=status.value,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        headers=headers,
    )


def error_response(status: HTTPStatus, code: str, message: str) -> Response[str]:
    return json_response(status, {"code": code, "message": message})


def describe_validation_errors(errors: list[Any]) -> str:
    """Name each field and what is wrong with it, without the submitted value."""
    parts = []
    for error in errors:
        location = [str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path")]
        field = ".".join(location) or "request"
        parts.append(f"{field}: {error.get('msg', 'invalid value')}")
    return "; ".join(parts) or "invalid request"


def create_resolver(*, enable_validation: bool = True) -> APIGatewayHttpResolver:
    app = APIGatewayHttpResolver(enable_validation=enable_validation)

    @app.exception_handler(OfflinePushError)
    def _product_error(exc: OfflinePushError) -> Response[str]:
        if exc.status >= HTTPStatus.INTERNAL_SERVER_ERROR:
            logger.error("request failed", extra={"code": exc.code, "error": exc.message})
        else:
            logger.info("request rejected", extra={"code": exc.code, "error": exc.message})
        return error_response(exc.status, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    def _validation_error(exc: RequestValidationError) -> Response[str]:
        message = describe_validation_errors(list(exc.errors()))
        logger.info("request rejected", extra={"code": "InvalidRequest", "error": message})
        return error_response(HTTPStatus.BAD_REQUEST, "InvalidRequest", message)

    @app.not_found
    def _no_route(exc: Exception) -> Response[str]:
        return error_response(HTTPStatus.NOT_FOUND, "RouteNotFound", "no such route")

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response[str]:
        # A bug or an unforeseen failure: the traceback goes to the log, the caller gets the same JSON shape
        # as every other error and nothing of the exception's text (which could carry request data).
        logger.exception("unexpected error")
        return error_response(
            HTTPStatus.INTERNAL_SERVER_ERROR, "InternalError", "internal error; see the logs"
        )

    return app
