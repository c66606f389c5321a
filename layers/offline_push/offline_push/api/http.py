"""One place that maps the product's exceptions to HTTP answers: ``{"code": ..., "message": ...}``.

Every function behind the HTTP API builds its resolver with :func:`create_resolver`, so every error, from
request validation to a storage outage, has the same shape and none of them echoes the caller's input (which
may hold a password or a token) back.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from offline_push.errors import InvalidRequest, OfflinePushError

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


# More query fields than any route takes, and far fewer than a parser should be made to split.
MAX_QUERY_FIELDS = 8


def check_query(event: Mapping[str, Any], allowed: Collection[str]) -> None:
    """:class:`InvalidRequest` unless the query string is well-formed and names only ``allowed`` fields, each
    once. A misspelt or unexpected field is refused, not ignored: ``DELETE .../apns?Token=...`` must not be
    read as "log out of every device". Values are checked by the route; none is ever repeated here."""
    raw = event.get("rawQueryString") or ""
    names: list[str] = []
    if raw:
        try:
            fields = parse_qsl(
                raw,
                keep_blank_values=True,
                strict_parsing=True,
                errors="strict",
                max_num_fields=MAX_QUERY_FIELDS,
            )
        except ValueError:
            raise InvalidRequest("the query string is malformed") from None
        names = [name for name, _value in fields]
    parameters = event.get("queryStringParameters") or {}
    if not isinstance(parameters, Mapping):
        raise InvalidRequest("the query string is malformed")
    names += [str(name) for name in parameters if name not in names]
    if len(names) != len(set(names)):
        raise InvalidRequest("a query parameter is given more than once")
    unknown = sorted({name for name in names if name not in allowed})
    if unknown:
        shown = ", ".join(repr(name[:40]) for name in unknown[:5])
        expected = ", ".join(sorted(allowed)) if allowed else "none"
        raise InvalidRequest(f"unknown query parameter(s) {shown}; this route takes: {expected}")


def create_resolver(
    *, enable_validation: bool = True, query_parameters: Mapping[str, Collection[str]] | None = None
) -> APIGatewayHttpResolver:
    """The resolver of a function behind the HTTP API. ``query_parameters``: the query fields each route
    takes, keyed ``"METHOD /path/<param>"`` as the route is declared; a route not listed takes none."""
    app = APIGatewayHttpResolver(enable_validation=enable_validation)
    accepted = {key: frozenset(names) for key, names in (query_parameters or {}).items()}

    def _query_guard(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
        route = app.context.get("_route")
        key = f"{route.method} {route.path}" if route is not None else ""
        check_query(app.current_event.raw_event, accepted.get(key, frozenset()))
        return next_middleware(app)

    app.use(middlewares=[_query_guard])

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
