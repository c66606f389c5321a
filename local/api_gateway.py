"""An API Gateway HTTP API on 127.0.0.1 that routes to template.yaml's handlers as AWS does.

Routes come from every ``AWS::Serverless::Function``'s ``Events`` of ``Type: HttpApi`` (``Method``, ``Path``,
``Auth.Authorizer``, ``ApiId``, ``TimeoutInMillis``), so they cannot drift from the deployment. A request
is matched with API Gateway's precedence (a full match before a greedy ``{proxy+}`` match before
``$default``; literal segments before path variables; an exact method before ``ANY``), turned into a
payload format 2.0 event, and the handler's answer is turned into HTTP the way API Gateway reads it.

Behaviour reproduced, with where it comes from:

- Paths are percent-decoded twice before routing and in ``rawPath`` (``%252F`` routes as ``/``), a decoded
  ``?`` ends the path, an invalid escape is a 400; ``rawQueryString`` stays as sent. (Live HTTP API
  captures published by hotsock/voker, ``vokerhttp/testdata``.)
- Bodies are text only for ``text/*``, ``application/json``, ``application/xml`` and
  ``application/javascript``; anything else, form posts and a missing ``Content-Type`` included, arrives
  base64-encoded with ``isBase64Encoded: true`` (measured on AWS, ministackorg/ministack#766).
- A structured answer (one with ``statusCode``) uses ``statusCode``, ``headers``, ``cookies`` (one
  ``set-cookie`` each), ``body`` and ``isBase64Encoded``; ``multiValueHeaders`` is a payload 1.0 field that
  HTTP APIs ignore, so it is ignored here too, with a warning. Without ``content-type`` API Gateway sends
  ``text/plain; charset=utf-8``. Any other answer is a "simple response": 200, ``application/json``, the
  function's JSON as the body (AWS developer guide, "Lambda function response for format 2.0").
- Gateway errors have API Gateway's bodies: 404 ``Not Found``, 403 ``Forbidden``, 500 ``Internal Server
  Error`` (function error or malformed answer), 503 ``Service Unavailable`` (integration timeout, at most
  30 s), 413 for a body over 10 MB or an event over Lambda's 6 MB.

``Authorizer: AWS_IAM`` routes need SigV4 on AWS; here they need the admin key in ``X-Admin-Key`` instead,
and then get the ``requestContext.authorizer.iam`` block API Gateway adds after verifying a signature. The
key header is never passed on to the handler. JWT and Lambda authorizers are not emulated: a route using
one is refused when the server is built, rather than served without its check.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import re
import secrets
import socket
import string
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl

from local.lambda_runtime import (
    FunctionDefinition,
    InvocationDeadlineExceeded,
    InvocationRejected,
    InvocationResult,
    LocalFunction,
)
from local.provision import ACCOUNT_ID

logger = logging.getLogger("local.api")

IMPLICIT_API_ID = "ServerlessHttpApi"  # the logical id SAM gives the API it creates for HttpApi events
DEFAULT_STAGE = "$default"
MAX_REQUEST_BODY_BYTES = 10 * 1024 * 1024
MAX_INTEGRATION_TIMEOUT_MS = 30_000
ADMIN_KEY_HEADER = "x-admin-key"
ADMIN_KEY_ENVIRONMENT_VARIABLE = "OFFLINE_PUSH_ADMIN_KEY"

_TEXT_MEDIA_TYPES = frozenset({"application/json", "application/xml", "application/javascript"})
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"}
)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_INVALID_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


class UnsupportedTemplateFeature(ValueError):
    """template.yaml asks API Gateway for something this emulator does not do (and will not fake)."""


# --- routes ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    route_key: str  # "GET /pets/{id}", "ANY /{proxy+}" or "$default"
    function_id: str
    authorizer: str = "NONE"  # "NONE" or "AWS_IAM"
    timeout_ms: int = MAX_INTEGRATION_TIMEOUT_MS

    @property
    def is_default(self) -> bool:
        return self.route_key == "$default"

    @property
    def method(self) -> str:
        return "" if self.is_default else self.route_key.split(" ", 1)[0]

    @property
    def segments(self) -> tuple[str, ...]:
        path = "" if self.is_default else self.route_key.split(" ", 1)[1]
        return tuple(path.strip("/").split("/")) if path.strip("/") else ()

    @property
    def is_greedy(self) -> bool:
        return bool(self.segments) and self.segments[-1].endswith("+}")

    @cached_property
    def _pattern(self) -> tuple[re.Pattern[str], tuple[str, ...]]:
        parts, names = [], []
        for segment in self.segments:
            if segment.endswith("+}"):
                parts.append("([^/]+(?:/[^/]+)*)")  # one or more whole segments
                names.append(segment[1:-2])
            elif segment.startswith("{"):
                parts.append("([^/]+)")
                names.append(segment[1:-1])
            else:
                parts.append(re.escape(segment))
        return re.compile("/" + "/".join(parts)), tuple(names)

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """The path parameters if this route takes the request, else None ($default takes everything)."""
        if self.is_default:
            return {}
        pattern, names = self._pattern
        found = pattern.fullmatch(path) if self.method in ("ANY", method) else None
        return None if found is None else dict(zip(names, found.groups(), strict=True))

    def precedence(self) -> tuple[int, tuple[int, ...], int]:
        """Higher wins: full match > greedy > $default; then literal segments over variables, left to right
        (a longer literal prefix before a greedy variable is more specific); then a method over ANY."""
        tier = 0 if self.is_default else 1 if self.is_greedy else 2
        fixed = self.segments[:-1] if self.is_greedy else self.segments
        literals = tuple(0 if segment.startswith("{") else 1 for segment in fixed)
        return tier, literals, 0 if self.method in ("ANY", "") else 1


@dataclass(frozen=True)
class RouteMatch:
    route: Route
    path_parameters: dict[str, str]


class RouteTable:
    def __init__(self, routes: Iterable[Route]) -> None:
        self.routes = tuple(routes)
        keys = [route.route_key for route in self.routes]
        duplicates = sorted({key for key in keys if keys.count(key) > 1})
        if duplicates:
            raise UnsupportedTemplateFeature(f"routes declared more than once: {', '.join(duplicates)}")

    def match(self, method: str, path: str) -> RouteMatch | None:
        candidates = [
            (route, parameters)
            for route in self.routes
            if (parameters := route.match(method.upper(), path)) is not None
        ]
        if not candidates:
            return None
        route, parameters = max(candidates, key=lambda candidate: candidate[0].precedence())
        return RouteMatch(route, parameters)


@dataclass(frozen=True)
class HttpApiDefinition:
    logical_id: str
    stage_name: str
    routes: RouteTable

    @property
    def api_id(self) -> str:
        """A stable 10-character id in API Gateway's alphabet, derived from the logical id."""
        digest = int.from_bytes(self.logical_id.encode(), "big") % (36**10)
        alphabet = string.digits + string.ascii_lowercase
        return "".join(alphabet[(digest // 36**i) % 36] for i in range(10))


def http_apis(
    template: dict[str, Any], functions: Mapping[str, FunctionDefinition]
) -> dict[str, HttpApiDefinition]:
    """Every HTTP API the template's functions are routed from, by the API's logical id."""
    global_api: dict[str, Any] = template.get("Globals", {}).get("HttpApi", {})
    explicit = {
        logical_id: {**global_api, **body.get("Properties", {})}
        for logical_id, body in template["Resources"].items()
        if body.get("Type") == "AWS::Serverless::HttpApi"
    }
    routes: dict[str, list[Route]] = {}
    for function in functions.values():
        for event_name, event in function.events_of_type("HttpApi").items():
            properties: dict[str, Any] = event.get("Properties") or {}
            api_ref = properties.get("ApiId")
            api_id = api_ref["Ref"] if isinstance(api_ref, dict) else IMPLICIT_API_ID
            api_properties = explicit.get(api_id, global_api)
            where = f"{function.logical_id}.Events.{event_name}"
            route = _route(where, function.logical_id, properties, api_properties)
            routes.setdefault(api_id, []).append(route)
    apis = {}
    for api_id, api_routes in routes.items():
        api_properties = explicit.get(api_id, global_api)
        for unsupported in ("CorsConfiguration", "Domain"):
            if unsupported in api_properties:
                logger.warning("%s: %s is not emulated by the local API", api_id, unsupported)
        stage = str(api_properties.get("StageName", DEFAULT_STAGE))
        apis[api_id] = HttpApiDefinition(api_id, stage, RouteTable(api_routes))
    return apis


def _route(where: str, function_id: str, properties: dict[str, Any], api: dict[str, Any]) -> Route:
    version = str(properties.get("PayloadFormatVersion", api.get("PayloadFormatVersion", "2.0")))
    if version != "2.0":
        raise UnsupportedTemplateFeature(f"{where}: PayloadFormatVersion {version} (only 2.0 is emulated)")
    method, path = properties.get("Method"), properties.get("Path")
    if method is None and path is None:
        route_key = "$default"  # SAM: an HttpApi event without Path and Method is the API's $default route
    else:
        route_key = f"{str(method or 'ANY').upper()} {path or '/'}"
        if "+}" in str(path).rstrip("/")[:-2]:
            raise UnsupportedTemplateFeature(f"{where}: a greedy path variable must end the path ({path})")
    auth = properties.get("Auth") or {}
    authorizer = str(auth.get("Authorizer") or api.get("Auth", {}).get("DefaultAuthorizer") or "NONE")
    if authorizer not in ("NONE", "AWS_IAM"):
        raise UnsupportedTemplateFeature(
            f"{where}: authorizer {authorizer} is not emulated (only AWS_IAM, checked with the admin key)"
        )
    timeout_ms = int(properties.get("TimeoutInMillis", MAX_INTEGRATION_TIMEOUT_MS))
    return Route(route_key, function_id, authorizer, min(timeout_ms, MAX_INTEGRATION_TIMEOUT_MS))


# --- requests and events --------------------------------------------------------------------------------


@dataclass(frozen=True)
class IncomingRequest:
    """An HTTP request as it reached the gateway."""

    method: str
    target: str  # the request-target as sent: path and query, still percent-encoded
    headers: list[tuple[str, str]]
    body: bytes = b""
    source_ip: str = "127.0.0.1"
    protocol: str = "HTTP/1.1"
    port: int = 443

    def header(self, name: str) -> str | None:
        values = [value for key, value in self.headers if key.lower() == name]
        return ",".join(values) if values else None


@dataclass(frozen=True)
class GatewayResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""

    def header(self, name: str) -> str | None:
        values = [value for key, value in self.headers if key.lower() == name]
        return ",".join(values) if values else None


class BadRequestPath(ValueError):
    pass


def _strict_unquote(text: str) -> str:
    if _INVALID_ESCAPE.search(text):
        raise BadRequestPath(text)
    try:
        return re.sub(
            r"(?:%[0-9A-Fa-f]{2})+", lambda m: bytes.fromhex(m.group(0).replace("%", "")).decode(), text
        )
    except UnicodeDecodeError:
        raise BadRequestPath(text) from None


def decode_path(raw_path: str) -> str:
    """The path as an HTTP API routes and reports it (``rawPath``): decoded twice; a '?' from the first
    decoding ends it (``%3F``), one from the second stays (``%253F``)."""
    return _strict_unquote(_strict_unquote(raw_path).split("?", 1)[0])


def is_text_body(content_type: str | None) -> bool:
    if not content_type:
        return False
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type.startswith("text/") or media_type in _TEXT_MEDIA_TYPES


def new_request_id() -> str:
    """An id shaped like API Gateway's (``ATfSmjLgPHcESJw=``), also sent back as ``apigw-requestid``."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(15)) + "="


def request_time(epoch_seconds: float) -> str:
    moment = time.gmtime(epoch_seconds)
    return f"{moment.tm_mday:02d}/{_MONTHS[moment.tm_mon - 1]}/{time.strftime('%Y:%H:%M:%S', moment)} +0000"


@dataclass(frozen=True)
class AdminIdentity:
    """The IAM principal admin-key requests are attributed to, as API Gateway reports a SigV4 caller."""

    user_name: str = "local-admin"
    user_id: str = "AIDALOCALADMIN7EXAMPL"
    access_key_id: str = "AKIALOCALADMIN7EXAMP"

    def iam_context(self, account_id: str = ACCOUNT_ID) -> dict[str, Any]:
        return {
            "accessKey": self.access_key_id,
            "accountId": account_id,
            "callerId": self.user_id,
            "cognitoIdentity": None,
            "principalOrgId": None,
            "userArn": f"arn:aws:iam::{account_id}:user/{self.user_name}",
            "userId": self.user_id,
        }


def build_event(
    request: IncomingRequest,
    matched: RouteMatch,
    *,
    api: HttpApiDefinition,
    raw_path: str,
    request_id: str,
    received_at: float,
    authorizer: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The payload format 2.0 event API Gateway sends for ``request``."""
    raw_query = request.target.split("?", 1)[1].split("#", 1)[0] if "?" in request.target else ""
    headers, cookies = _event_headers(request, received_at)
    domain = headers.get("host", f"{api.api_id}.execute-api.localhost")
    route_key = matched.route.route_key
    context: dict[str, Any] = {
        "accountId": ACCOUNT_ID,
        "apiId": api.api_id,
        "domainName": domain,
        "domainPrefix": domain.split(".", 1)[0],
        "http": {
            "method": request.method.upper(),
            "path": raw_path,
            "protocol": request.protocol,
            "sourceIp": request.source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": request_id,
        "routeKey": route_key,
        "stage": api.stage_name,
        "time": request_time(received_at),
        "timeEpoch": int(received_at * 1000),
    }
    if authorizer is not None:
        context["authorizer"] = authorizer
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    query: dict[str, str] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        query[key] = f"{query[key]},{value}" if key in query else value
    if query:
        event["queryStringParameters"] = query
    event["requestContext"] = context
    if matched.path_parameters:
        event["pathParameters"] = matched.path_parameters
    event.update(_event_body(request.body, headers.get("content-type")))
    return event


def _event_headers(request: IncomingRequest, received_at: float) -> tuple[dict[str, str], list[str]]:
    """Lower-cased headers, repeated ones comma-joined; cookies apart; the headers API Gateway adds."""
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.headers:
        key = name.lower()
        if key == "cookie":
            cookies += [cookie.strip() for cookie in value.split(";") if cookie.strip()]
        elif key not in _HOP_BY_HOP and key != ADMIN_KEY_HEADER:
            headers[key] = f"{headers[key]},{value}" if key in headers else value
    if request.body and "content-length" not in headers:
        headers["content-length"] = str(len(request.body))  # API Gateway buffers a chunked body
    forwarded = headers.get("x-forwarded-for")
    headers["x-forwarded-for"] = f"{forwarded}, {request.source_ip}" if forwarded else request.source_ip
    headers["x-forwarded-port"] = str(request.port)
    headers["x-forwarded-proto"] = "http"
    headers["x-amzn-trace-id"] = f"Root=1-{int(received_at):08x}-{secrets.token_hex(12)}"
    return headers, cookies


def _event_body(body: bytes, content_type: str | None) -> dict[str, Any]:
    if not body:
        return {"isBase64Encoded": False}
    if is_text_body(content_type):
        return {"body": body.decode("utf-8", errors="replace"), "isBase64Encoded": False}
    return {"body": base64.b64encode(body).decode("ascii"), "isBase64Encoded": True}


# --- answers --------------------------------------------------------------------------------------------


class _GatewayError(Exception):
    def __init__(self, status: HTTPStatus) -> None:
        super().__init__(status.phrase)
        self.status = status


class MalformedIntegrationResponse(ValueError):
    """The function answered something API Gateway cannot turn into HTTP (it answers 500)."""


# API Gateway's own wording (not Python's reason phrases: 413 is "Content Too Large" there since 3.13).
_GATEWAY_MESSAGES = {
    HTTPStatus.BAD_REQUEST: "Bad Request",
    HTTPStatus.FORBIDDEN: "Forbidden",
    HTTPStatus.NOT_FOUND: "Not Found",
    HTTPStatus.REQUEST_ENTITY_TOO_LARGE: "Request Entity Too Large",
    HTTPStatus.INTERNAL_SERVER_ERROR: "Internal Server Error",
    HTTPStatus.SERVICE_UNAVAILABLE: "Service Unavailable",
}


def gateway_error(status: HTTPStatus, request_id: str) -> GatewayResponse:
    message = _GATEWAY_MESSAGES.get(status, status.phrase)
    body = json.dumps({"message": message}, separators=(",", ":")).encode()
    return GatewayResponse(
        status.value, [("content-type", "application/json"), ("apigw-requestid", request_id)], body
    )


def _header_value(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise MalformedIntegrationResponse(f"header {name!r} has a {type(value).__name__} value")


def integration_response(result: InvocationResult, request_id: str) -> GatewayResponse:
    """Turn a successful invocation's answer into HTTP, as API Gateway does with payload format 2.0."""
    payload = result.payload
    if not (isinstance(payload, dict) and "statusCode" in payload):
        headers = [("content-type", "application/json"), ("apigw-requestid", request_id)]
        return GatewayResponse(HTTPStatus.OK.value, headers, result.raw_payload)
    status = payload["statusCode"]
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise MalformedIntegrationResponse(f"statusCode {status!r} is not an HTTP status")
    raw_headers = payload.get("headers") or {}
    if not isinstance(raw_headers, dict):
        raise MalformedIntegrationResponse("headers is not an object")
    headers = [
        (str(name).lower(), _header_value(name, value))
        for name, value in raw_headers.items()
        if str(name).lower() not in _HOP_BY_HOP and str(name).lower() != "content-length"
    ]
    if payload.get("multiValueHeaders"):
        logger.warning(
            "multiValueHeaders ignored: HTTP APIs (payload format 2.0) read only headers and cookies"
        )
    cookies = payload.get("cookies") or []
    if not isinstance(cookies, list) or not all(isinstance(cookie, str) for cookie in cookies):
        raise MalformedIntegrationResponse("cookies is not a list of strings")
    headers += [("set-cookie", cookie) for cookie in cookies]
    if not any(name == "content-type" for name, _ in headers):
        headers.append(("content-type", "text/plain; charset=utf-8"))
    headers.append(("apigw-requestid", request_id))
    body = payload.get("body")
    if body is not None and not isinstance(body, str):
        raise MalformedIntegrationResponse(f"body is a {type(body).__name__}, not a string")
    is_base64 = payload.get("isBase64Encoded", False)
    if not isinstance(is_base64, bool):
        raise MalformedIntegrationResponse("isBase64Encoded is not a boolean")
    if is_base64:
        try:
            content = base64.b64decode(body or "", validate=True)
        except (binascii.Error, ValueError):
            raise MalformedIntegrationResponse("isBase64Encoded is true but body is not base64") from None
    else:
        content = (body or "").encode()
    return GatewayResponse(status, headers, content)


# --- the gateway ----------------------------------------------------------------------------------------


# Pages the local stack serves beside the template's routes (the console): ``(method, path)`` -> an answer, or
# None when the path is not one of them.
PageServer = Callable[[str, str], GatewayResponse | None]


@dataclass
class HttpApiGateway:
    """API Gateway's request path, without sockets: route, authorize, build the event, invoke, answer."""

    api: HttpApiDefinition
    functions: Mapping[str, LocalFunction]
    admin_key: str
    admin: AdminIdentity = field(default_factory=AdminIdentity)
    pages: PageServer | None = None

    def handle(self, request: IncomingRequest) -> GatewayResponse:
        request_id = new_request_id()
        received_at = time.time()
        started = time.monotonic()
        response, route_key = self._handle(request, request_id, received_at)
        logger.info(
            "%s %s -> %d (%s, %s, %.1f ms)",
            request.method,
            request.target.split("?", 1)[0],
            response.status,
            route_key,
            request_id,
            (time.monotonic() - started) * 1000.0,
        )
        return response

    def _handle(
        self, request: IncomingRequest, request_id: str, received_at: float
    ) -> tuple[GatewayResponse, str]:
        route_key = "-"
        try:
            if len(request.body) > MAX_REQUEST_BODY_BYTES:
                raise _GatewayError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
            raw_path = self._raw_path(request)
            page = self.pages(request.method, raw_path) if self.pages is not None else None
            if page is not None:
                return page, "page"
            matched = self._route(request.method, raw_path)
            route_key = matched.route.route_key
            authorizer = self._authorize(request, matched.route)
            event = build_event(
                request,
                matched,
                api=self.api,
                raw_path=raw_path,
                request_id=request_id,
                received_at=received_at,
                authorizer=authorizer,
            )
            result = self._invoke(matched.route, event)
            try:
                return integration_response(result, request_id), route_key
            except MalformedIntegrationResponse as exc:
                logger.error("%s: malformed Lambda proxy response: %s", matched.route.function_id, exc)
                raise _GatewayError(HTTPStatus.INTERNAL_SERVER_ERROR) from None
        except _GatewayError as exc:
            return gateway_error(exc.status, request_id), route_key

    @staticmethod
    def _raw_path(request: IncomingRequest) -> str:
        try:
            return decode_path(request.target.split("?", 1)[0].split("#", 1)[0] or "/")
        except BadRequestPath:
            raise _GatewayError(HTTPStatus.BAD_REQUEST) from None

    def _route(self, method: str, raw_path: str) -> RouteMatch:
        route_path = self._strip_stage(raw_path)
        matched = None if route_path is None else self.api.routes.match(method, route_path)
        if matched is None:
            raise _GatewayError(HTTPStatus.NOT_FOUND)
        return matched

    def _authorize(self, request: IncomingRequest, route: Route) -> dict[str, Any] | None:
        if route.authorizer != "AWS_IAM":
            return None
        presented = request.header(ADMIN_KEY_HEADER)
        if presented is None or not hmac.compare_digest(presented.encode(), self.admin_key.encode()):
            raise _GatewayError(HTTPStatus.FORBIDDEN)
        return {"iam": self.admin.iam_context()}

    def _invoke(self, route: Route, event: dict[str, Any]) -> InvocationResult:
        function = self.functions[route.function_id]
        try:
            result = function.invoke(event, deadline=time.monotonic() + route.timeout_ms / 1000.0)
        except InvocationDeadlineExceeded:
            raise _GatewayError(HTTPStatus.SERVICE_UNAVAILABLE) from None
        except InvocationRejected as exc:
            logger.warning("%s: Lambda rejected the invocation: %s", function.name, exc)
            too_large = exc.error_type == "RequestEntityTooLargeException"
            status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE if too_large else HTTPStatus.INTERNAL_SERVER_ERROR
            raise _GatewayError(status) from None
        if not result.ok:
            raise _GatewayError(HTTPStatus.INTERNAL_SERVER_ERROR)
        return result

    def _strip_stage(self, path: str) -> str | None:
        if self.api.stage_name == DEFAULT_STAGE:
            return path
        prefix = f"/{self.api.stage_name}"
        if path == prefix or path.startswith(prefix + "/"):
            return path[len(prefix) :] or "/"
        return None


class _GatewayHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    gateway: HttpApiGateway


class _GatewayRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _GatewayHTTPServer
    timeout = 60  # seconds an idle keep-alive connection is kept

    def setup(self) -> None:
        super().setup()
        # Headers and body leave in separate writes: without this, Nagle's algorithm and the client's delayed
        # ACK hold every response back ~40 ms.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send_response(self, code: int, message: str | None = None) -> None:
        # API Gateway sends a date but no server header.
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("date", self.date_time_string())

    def _serve(self) -> None:
        body = self._read_body()
        if body is None:
            response = gateway_error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, new_request_id())
            self.close_connection = True
        else:
            request = IncomingRequest(
                method=self.command,
                target=self.path,
                headers=list(self.headers.items()),
                body=body,
                source_ip=self.client_address[0],
                protocol=self.request_version,
                port=self.server.server_address[1],
            )
            response = self.server.gateway.handle(request)
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("content-length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

    def _read_body(self) -> bytes | None:
        """The request body, or None when it is over API Gateway's 10 MB (then it is not read at all)."""
        if "chunked" in (self.headers.get("transfer-encoding") or "").lower():
            chunks = []
            size = 0
            while (length := int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)) > 0:
                size += length
                if size > MAX_REQUEST_BODY_BYTES:
                    return None
                chunks.append(self.rfile.read(length))
                self.rfile.readline()
            while self.rfile.readline().strip():  # trailers
                pass
            return b"".join(chunks)
        length = int(self.headers.get("content-length") or 0)
        if length > MAX_REQUEST_BODY_BYTES:
            return None
        return self.rfile.read(length) if length else b""

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug(format, *args)


class HttpApiServer:
    """One HTTP API of the template, served on ``host:port`` (port 0: a free one)."""

    def __init__(
        self,
        api: HttpApiDefinition,
        functions: Mapping[str, LocalFunction],
        *,
        admin_key: str,
        host: str = "127.0.0.1",
        port: int = 0,
        admin: AdminIdentity | None = None,
        pages: PageServer | None = None,
    ) -> None:
        self.gateway = HttpApiGateway(api, functions, admin_key, admin or AdminIdentity(), pages)
        self._address = (host, port)
        self._server: _GatewayHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the API server is not started")
        host, port = self._server.server_address[:2]
        stage = self.gateway.api.stage_name
        return f"http://{host!s}:{port}" + ("" if stage == DEFAULT_STAGE else f"/{stage}")

    def start(self) -> Self:
        server = _GatewayHTTPServer(self._address, _GatewayRequestHandler)
        server.gateway = self.gateway
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="local-http-api", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
