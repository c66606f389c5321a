"""The API Gateway emulator's rules, without a server: routing, path decoding, body encoding, answers."""

from __future__ import annotations

import base64
import json
from http import HTTPStatus
from pathlib import Path
from typing import Any

import pytest

from local.api_gateway import (
    IMPLICIT_API_ID,
    BadRequestPath,
    MalformedIntegrationResponse,
    Route,
    RouteTable,
    UnsupportedTemplateFeature,
    decode_path,
    gateway_error,
    http_apis,
    integration_response,
    is_text_body,
)
from local.lambda_runtime import FunctionDefinition, InvocationResult, function_definitions
from local.template import load_template

SUPPORT = Path(__file__).resolve().parents[1] / "support" / "local_stack"

# The example of API Gateway's developer guide ("Routing API requests", HTTP APIs).
GUIDE_ROUTES = RouteTable(
    Route(key, "EchoFunction")
    for key in ("GET /pets/dog/1", "GET /pets/dog/{id}", "GET /pets/{proxy+}", "ANY /{proxy+}", "$default")
)


@pytest.mark.parametrize(
    ("method", "path", "route_key", "parameters"),
    [
        ("GET", "/pets/dog/1", "GET /pets/dog/1", {}),
        ("GET", "/pets/dog/2", "GET /pets/dog/{id}", {"id": "2"}),
        ("GET", "/pets/cat/1", "GET /pets/{proxy+}", {"proxy": "cat/1"}),
        ("POST", "/pets/dog/1", "ANY /{proxy+}", {"proxy": "pets/dog/1"}),
        ("GET", "/test/5", "ANY /{proxy+}", {"proxy": "test/5"}),
        ("GET", "/", "$default", {}),
    ],
)
def test_routes_are_chosen_as_in_api_gateways_own_example(
    method: str, path: str, route_key: str, parameters: dict[str, str]
) -> None:
    # Given the developer guide's routes; When a request arrives
    matched = GUIDE_ROUTES.match(method, path)

    # Then the route the guide names takes it, with its path parameters
    assert matched is not None
    assert (matched.route.route_key, matched.path_parameters) == (route_key, parameters)


@pytest.mark.parametrize(
    ("routes", "method", "path", "route_key"),
    [
        # an exact method beats ANY on the same path
        (("ANY /pets/{id}", "GET /pets/{id}"), "GET", "/pets/7", "GET /pets/{id}"),
        (("ANY /pets/{id}", "GET /pets/{id}"), "DELETE", "/pets/7", "ANY /pets/{id}"),
        # a literal segment beats a variable, at the first segment where they differ
        (("GET /{a}/dog", "GET /pets/{b}"), "GET", "/pets/dog", "GET /pets/{b}"),
        (("GET /pets/{id}", "GET /pets/new"), "GET", "/pets/new", "GET /pets/new"),
        # any full match beats a greedy one, even with fewer literals
        (("GET /pets/dog/{proxy+}", "GET /{a}/{b}/{c}"), "GET", "/pets/dog/1", "GET /{a}/{b}/{c}"),
        # between greedy routes, the longer literal prefix wins
        (("ANY /{proxy+}", "ANY /pets/{proxy+}"), "PUT", "/pets/a/b", "ANY /pets/{proxy+}"),
        # the root path is a route of its own
        (("GET /", "GET /{proxy+}"), "GET", "/", "GET /"),
    ],
)
def test_the_most_specific_route_wins(
    routes: tuple[str, ...], method: str, path: str, route_key: str
) -> None:
    # Given routes that all match; When the table picks one
    matched = RouteTable(Route(key, "F") for key in routes).match(method, path)

    # Then it is the most specific
    assert matched is not None
    assert matched.route.route_key == route_key


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/pets"),  # a greedy variable needs at least one segment
        ("GET", "/pets/"),  # nor does an empty one do
        ("GET", "/pets/dog/1/"),  # a trailing slash is another path
        ("POST", "/pets/dog/1"),  # no POST route, no ANY
        ("GET", "/Pets/dog/1"),  # paths are case-sensitive
        ("GET", "/pets//1"),  # an empty segment is no value of a variable
    ],
)
def test_requests_no_route_takes_are_unmatched(method: str, path: str) -> None:
    # Given routes without $default
    table = RouteTable(
        Route(key, "F") for key in ("GET /pets/dog/1", "GET /pets/{proxy+}", "GET /pets/{a}/1")
    )

    # When / Then nothing matches
    assert table.match(method, path) is None


@pytest.mark.parametrize(
    ("sent", "routed"),
    # Live HTTP API captures (hotsock/voker, vokerhttp/testdata/ingress-paths.json).
    [
        ("/capture/plain", "/capture/plain"),
        ("/capture/space%20value", "/capture/space value"),
        ("/capture/question%3Fvalue", "/capture/question"),
        ("/capture/hash%23value", "/capture/hash#value"),
        ("/capture/slash%2Fvalue", "/capture/slash/value"),
        ("/capture/unicode-%CE%BB-%E4%B8%96%E7%95%8C", "/capture/unicode-λ-世界"),
        ("/capture/literal%252Fvalue", "/capture/literal/value"),
        ("/capture/literal%253Fvalue", "/capture/literal?value"),
        ("/capture/literal%2525value", "/capture/literal%value"),
    ],
)
def test_paths_are_decoded_as_http_apis_decode_them(sent: str, routed: str) -> None:
    assert decode_path(sent) == routed


@pytest.mark.parametrize("sent", ["/capture/percent%25done", "/bad%zzescape", "/not-utf8-%ff"])
def test_paths_http_apis_reject_are_refused(sent: str) -> None:
    with pytest.raises(BadRequestPath):
        decode_path(sent)


@pytest.mark.parametrize(
    ("content_type", "text"),
    [
        ("application/json", True),
        ("application/json; charset=utf-8", True),
        ("text/plain", True),
        ("TEXT/CSV", True),
        ("application/xml", True),
        ("application/javascript", True),
        (None, False),
        ("application/x-www-form-urlencoded", False),
        ("multipart/form-data; boundary=x", False),
        ("application/octet-stream", False),
        ("application/x-pkcs12", False),
        ("image/png", False),
    ],
)
def test_only_text_content_types_reach_the_function_unencoded(content_type: str | None, text: bool) -> None:
    assert is_text_body(content_type) is text


def _answer(payload: Any) -> InvocationResult:
    return InvocationResult("request", payload=payload, raw_payload=json.dumps(payload).encode())


@pytest.mark.parametrize(
    ("payload", "body"),
    [
        ({"message": "hello"}, b'{"message": "hello"}'),
        ("Hello from Lambda!", b'"Hello from Lambda!"'),
        ([1, 2], b"[1, 2]"),
        (None, b"null"),
    ],
)
def test_an_answer_without_status_code_is_a_json_200(payload: Any, body: bytes) -> None:
    # When the function's answer has no statusCode
    response = integration_response(_answer(payload), "rid=")

    # Then API Gateway sends it as it is, as JSON, with a 200
    assert (response.status, response.headers, response.body) == (
        HTTPStatus.OK,
        [("content-type", "application/json"), ("apigw-requestid", "rid=")],
        body,
    )


def test_a_structured_answer_becomes_status_headers_cookies_and_body() -> None:
    # Given an answer with every field of payload format 2.0 (and 1.0's multiValueHeaders)
    payload = {
        "statusCode": 201,
        "headers": {"Content-Type": "text/csv", "X-Count": 2, "X-Ok": True},
        "multiValueHeaders": {"X-Ignored": ["a", "b"]},
        "cookies": ["session=abc; HttpOnly", "theme=dark"],
        "body": "a,b\n",
        "isBase64Encoded": False,
    }

    # When API Gateway reads it
    response = integration_response(_answer(payload), "rid=")

    # Then each cookie is a set-cookie header, values are strings, and multiValueHeaders is ignored
    assert (response.status, response.headers, response.body) == (
        HTTPStatus.CREATED,
        [
            ("content-type", "text/csv"),
            ("x-count", "2"),
            ("x-ok", "true"),
            ("set-cookie", "session=abc; HttpOnly"),
            ("set-cookie", "theme=dark"),
            ("apigw-requestid", "rid="),
        ],
        b"a,b\n",
    )


def test_a_base64_answer_is_decoded_and_a_missing_content_type_is_text_plain() -> None:
    payload = {
        "statusCode": 200,
        "body": base64.b64encode(b"\x00\xffbinary").decode(),
        "isBase64Encoded": True,
    }

    response = integration_response(_answer(payload), "rid=")

    assert (response.status, response.headers, response.body) == (
        HTTPStatus.OK,
        [("content-type", "text/plain; charset=utf-8"), ("apigw-requestid", "rid=")],
        b"\x00\xffbinary",
    )


@pytest.mark.parametrize(
    "payload",
    [
        {"statusCode": "200"},
        {"statusCode": True},
        {"statusCode": 99},
        {"statusCode": 200, "body": {"not": "a string"}},
        {"statusCode": 200, "headers": ["x"]},
        {"statusCode": 200, "headers": {"x": {"nested": 1}}},
        {"statusCode": 200, "cookies": "a=1"},
        {"statusCode": 200, "isBase64Encoded": "yes"},
        {"statusCode": 200, "body": "not base64!", "isBase64Encoded": True},
    ],
)
def test_malformed_answers_are_refused(payload: dict[str, Any]) -> None:
    # API Gateway answers these with a 500 (the gateway maps this exception to it)
    with pytest.raises(MalformedIntegrationResponse):
        integration_response(_answer(payload), "rid=")


def test_gateway_errors_have_api_gateways_shape() -> None:
    response = gateway_error(HTTPStatus.NOT_FOUND, "rid=")

    assert (response.status, response.headers, response.body) == (
        HTTPStatus.NOT_FOUND,
        [("content-type", "application/json"), ("apigw-requestid", "rid=")],
        b'{"message":"Not Found"}',
    )


def _definitions(template: dict[str, Any]) -> dict[str, FunctionDefinition]:
    return function_definitions(template, template_path=SUPPORT / "template.yaml")


def _template_with_event(
    properties: dict[str, Any], api_auth: dict[str, Any] | None = None
) -> dict[str, Any]:
    template: dict[str, Any] = {
        "Resources": {
            "EchoFunction": {
                "Type": "AWS::Serverless::Function",
                "Properties": {
                    "CodeUri": "echo/",
                    "Handler": "app.lambda_handler",
                    "Events": {"Route": {"Type": "HttpApi", "Properties": properties}},
                },
            }
        }
    }
    if api_auth is not None:
        template["Globals"] = {"HttpApi": {"Auth": api_auth}}
    return template


def test_the_test_templates_routes_are_read_with_their_authorizers_and_timeouts() -> None:
    # Given the local stack's test template
    template = load_template(SUPPORT / "template.yaml")

    # When its HTTP API is read
    apis = http_apis(template, _definitions(template))

    # Then every HttpApi event is a route of the implicit API
    api = apis[IMPLICIT_API_ID]
    assert (api.stage_name, len(apis)) == ("$default", 1)
    assert sorted(api.routes.routes, key=lambda route: route.route_key) == [
        Route("ANY /things/{thingId}", "EchoFunction"),
        Route("GET /items/{id}", "StoreFunction"),
        Route("GET /pets/dog/1", "EchoFunction"),
        Route("GET /pets/dog/{id}", "EchoFunction"),
        Route("GET /pets/{proxy+}", "EchoFunction"),
        Route("POST /admin/things", "EchoFunction", authorizer="AWS_IAM"),
        Route("POST /respond", "ResponderFunction"),
        Route("POST /respond-within-half-a-second", "ResponderFunction", timeout_ms=500),
        Route("POST /uploads", "EchoFunction"),
        Route("PUT /items/{id}", "StoreFunction"),
        Route("PUT /v1/apps/{sdkAppId}/users/{userId}/apns", "EchoFunction"),
    ]


def test_an_event_without_path_and_method_is_the_default_route_and_apis_default_authorizer_applies() -> None:
    template = _template_with_event({}, api_auth={"DefaultAuthorizer": "AWS_IAM"})

    api = http_apis(template, _definitions(template))[IMPLICIT_API_ID]

    assert api.routes.routes == (Route("$default", "EchoFunction", authorizer="AWS_IAM"),)


@pytest.mark.parametrize(
    ("properties", "api_auth", "problem"),
    [
        ({"Method": "GET", "Path": "/x", "Auth": {"Authorizer": "UserPool"}}, None, "authorizer UserPool"),
        ({"Method": "GET", "Path": "/x"}, {"DefaultAuthorizer": "OAuth2"}, "authorizer OAuth2"),
        ({"Method": "GET", "Path": "/x", "PayloadFormatVersion": "1.0"}, None, "PayloadFormatVersion 1.0"),
        ({"Method": "GET", "Path": "/{proxy+}/x"}, None, "greedy path variable must end the path"),
    ],
)
def test_what_the_emulator_cannot_do_faithfully_is_refused_up_front(
    properties: dict[str, Any], api_auth: dict[str, Any] | None, problem: str
) -> None:
    # Given a route the emulator would have to serve without its check or in another format
    template = _template_with_event(properties, api_auth)

    # When / Then reading the API fails, naming the event and the problem
    with pytest.raises(UnsupportedTemplateFeature, match=f"EchoFunction.Events.Route: .*{problem}"):
        http_apis(template, _definitions(template))


def test_a_route_declared_twice_is_refused() -> None:
    with pytest.raises(UnsupportedTemplateFeature, match="GET /x"):
        RouteTable([Route("GET /x", "A"), Route("GET /x", "B")])
