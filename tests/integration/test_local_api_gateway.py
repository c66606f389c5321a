"""The local stack's API Gateway emulator over real HTTP, in front of real handlers, against moto's server.

The stack runs the test template (tests/support/local_stack/template.yaml): an echo handler that answers with
the event it received, a responder that misbehaves on request, and a store that writes to DynamoDB.
"""

from __future__ import annotations

import base64
import http.client
import json
import re
import time
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from local.api_gateway import MAX_REQUEST_BODY_BYTES, request_time
from local.stack import LocalStack
from tests.support.events import multipart_body
from tests.support.local_stack.client import Answer, send, send_head_only

TEMPLATE = Path(__file__).resolve().parents[1] / "support" / "local_stack" / "template.yaml"
ADMIN_KEY = "test-admin-key-5f0d9c"  # a local stack's admin key; reaches nothing real


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(TEMPLATE, admin_key=ADMIN_KEY, poll_queues=False) as running:
        yield running


@pytest.fixture(autouse=True)
def _stack_environment(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> None:
    """The handlers run in this process: give them the stack's environment back after the isolation
    fixture of tests/conftest.py removed AWS_ENDPOINT_URL for this test."""
    for name, value in stack.environment.items():
        monkeypatch.setenv(name, value)


def echo(stack: LocalStack, method: str, target: str, **request: Any) -> dict[str, Any]:
    answer = send(stack.api_url, method, target, **request)
    assert answer.status == HTTPStatus.OK, answer.body
    echoed: dict[str, Any] = answer.json()
    return echoed


def respond(stack: LocalStack, instructions: dict[str, Any], target: str = "/respond") -> Answer:
    body = json.dumps(instructions).encode()
    return send(stack.api_url, "POST", target, headers=[("Content-Type", "application/json")], body=body)


def port_of(stack: LocalStack) -> int:
    port = urlsplit(stack.api_url).port
    assert port is not None
    return port


def test_a_request_reaches_its_handler_as_the_event_api_gateway_sends(stack: LocalStack) -> None:
    # Given a request with path parameters, a query, repeated headers, cookies and a JSON body
    body = b'{"businessId": 1, "token": "abcd"}'
    headers = [
        ("Content-Type", "application/json"),
        ("User-Agent", "offline-push-tests/1.0"),
        ("X-Probe", "first"),
        ("X-Probe", "second"),
        ("Cookie", "session=abc123; theme=dark"),
        ("Connection", "keep-alive"),
    ]

    # When it goes through the local API
    answer = send(
        stack.api_url, "PUT", "/v1/apps/1400000001/users/vinson/apns?source=ios&tag=a&tag=b%20c",
        headers=headers, body=body,
    )  # fmt: skip

    # Then the handler received API Gateway's payload 2.0 event for it
    assert answer.status == HTTPStatus.OK
    event = answer.json()["event"]
    context = event["requestContext"]
    request_id, trace_id = context["requestId"], event["headers"]["x-amzn-trace-id"]
    assert re.fullmatch(r"[A-Za-z0-9]{15}=", request_id)
    assert re.fullmatch(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24}", trace_id)
    assert answer.header("apigw-requestid") == request_id
    assert context["time"] == request_time(context["timeEpoch"] / 1000)
    host = f"127.0.0.1:{port_of(stack)}"
    assert event == {
        "version": "2.0",
        "routeKey": "PUT /v1/apps/{sdkAppId}/users/{userId}/apns",
        "rawPath": "/v1/apps/1400000001/users/vinson/apns",
        "rawQueryString": "source=ios&tag=a&tag=b%20c",
        "cookies": ["session=abc123", "theme=dark"],
        "headers": {
            "host": host,
            "content-type": "application/json",
            "user-agent": "offline-push-tests/1.0",
            "x-probe": "first,second",
            "content-length": str(len(body)),
            "x-forwarded-for": "127.0.0.1",
            "x-forwarded-port": str(port_of(stack)),
            "x-forwarded-proto": "http",
            "x-amzn-trace-id": trace_id,
        },
        "queryStringParameters": {"source": "ios", "tag": "a,b c"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": context["apiId"],
            "domainName": host,
            "domainPrefix": "127",
            "http": {
                "method": "PUT",
                "path": "/v1/apps/1400000001/users/vinson/apns",
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "offline-push-tests/1.0",
            },
            "requestId": request_id,
            "routeKey": "PUT /v1/apps/{sdkAppId}/users/{userId}/apns",
            "stage": "$default",
            "time": context["time"],
            "timeEpoch": context["timeEpoch"],
        },
        "pathParameters": {"sdkAppId": "1400000001", "userId": "vinson"},
        "body": body.decode(),
        "isBase64Encoded": False,
    }


@pytest.mark.parametrize(
    ("method", "target", "route_key", "path_parameters"),
    [
        ("GET", "/pets/dog/1", "GET /pets/dog/1", None),
        ("GET", "/pets/dog/7", "GET /pets/dog/{id}", {"id": "7"}),
        ("GET", "/pets/cat/tom%2Fjerry", "GET /pets/{proxy+}", {"proxy": "cat/tom/jerry"}),
        ("GET", "/pets/dog/a%20b", "GET /pets/dog/{id}", {"id": "a b"}),
        ("DELETE", "/things/lamp", "ANY /things/{thingId}", {"thingId": "lamp"}),
        ("PATCH", "/things/lamp", "ANY /things/{thingId}", {"thingId": "lamp"}),
    ],
)
def test_requests_take_the_most_specific_route_with_decoded_path_parameters(
    stack: LocalStack, method: str, target: str, route_key: str, path_parameters: dict[str, str] | None
) -> None:
    event = echo(stack, method, target)["event"]

    assert (event["routeKey"], event.get("pathParameters")) == (route_key, path_parameters)


def test_query_strings_are_passed_raw_and_decoded_with_repeated_keys_comma_joined(stack: LocalStack) -> None:
    # Given a query with repeated, empty, bare, '+' and percent-encoded values
    target = "/pets/dog/1?a=1&a=2&empty=&flag&plus=a+b&encoded=a%2Bb&redirect=https%3A%2F%2Fexample.com%2Fx"

    # When it reaches the handler
    event = echo(stack, "GET", target)["event"]

    # Then rawQueryString is as sent and queryStringParameters decoded, as API Gateway does
    assert (event["rawQueryString"], event["queryStringParameters"]) == (
        target.split("?", 1)[1],
        {
            "a": "1,2",
            "empty": "",
            "flag": "",
            "plus": "a b",
            "encoded": "a+b",
            "redirect": "https://example.com/x",
        },
    )


def test_a_request_without_query_body_or_cookies_has_no_such_fields(stack: LocalStack) -> None:
    event = echo(stack, "GET", "/pets/dog/1")["event"]

    assert (event["rawQueryString"], event["isBase64Encoded"]) == ("", False)
    assert not {"queryStringParameters", "cookies", "body", "pathParameters"} & event.keys()


def _multipart() -> tuple[bytes, str]:
    return multipart_body(
        {"name": "Demo", "password": "secret"}, {"certificate": ("push.p12", b"\x30\x82\x01")}
    )


@pytest.mark.parametrize(
    ("content_type", "body", "base64_encoded"),
    [
        ("application/json", b'{"name": "\xe6\xbc\x94\xe7\xa4\xba"}', False),
        ("text/plain; charset=utf-8", b"plain text", False),
        ("application/octet-stream", b"\x00\x01\xfe\xff", True),
        (_multipart()[1], _multipart()[0], True),
        ("application/x-www-form-urlencoded", b"name=Demo&environment=development", True),
        (None, b"no content type", True),
    ],
)
def test_bodies_are_text_or_base64_by_content_type(
    stack: LocalStack, content_type: str | None, body: bytes, base64_encoded: bool
) -> None:
    # Given a body of some content type
    headers = [] if content_type is None else [("Content-Type", content_type)]

    # When it reaches the handler
    event = echo(stack, "POST", "/uploads", headers=headers, body=body)["event"]

    # Then it is base64 exactly when API Gateway would encode it, and decodes to the bytes sent
    received = base64.b64decode(event["body"]) if event["isBase64Encoded"] else event["body"].encode()
    assert (event["isBase64Encoded"], received) == (base64_encoded, body)


def test_a_chunked_body_is_buffered_and_given_a_content_length(stack: LocalStack) -> None:
    body = json.dumps({"items": list(range(2000))}).encode()

    event = echo(
        stack, "POST", "/uploads", headers=[("Content-Type", "application/json")], body=body, chunked=True
    )["event"]

    assert (event["body"], event["headers"]["content-length"]) == (body.decode(), str(len(body)))
    assert "transfer-encoding" not in event["headers"]


def test_the_handler_gets_a_lambda_context_and_environment_from_the_template(stack: LocalStack) -> None:
    # When the echo handler (MemorySize 128, Timeout 5 from Globals) runs
    echoed = echo(stack, "GET", "/pets/dog/1")

    # Then its context and variables are the ones it has on AWS, resolved against the emulated resources
    context = echoed["context"]
    assert 0 < context.pop("remaining_time_in_millis") <= 5000
    assert re.fullmatch(r"[0-9a-f-]{36}", context.pop("aws_request_id"))
    assert context == {
        "function_name": "offline-push-EchoFunction",
        "function_version": "$LATEST",
        "invoked_function_arn": "arn:aws:lambda:us-east-1:123456789012:function:offline-push-EchoFunction",
        "memory_limit_in_mb": "128",
    }
    assert echoed["environment"] == {
        "ITEMS_TABLE": "ItemsTable",
        "JOBS_QUEUE_URL": stack.aws.provisioned.refs["JobsQueue"],
        "DEPLOYMENT_NAME": "offline-push-us-east-1",
        "AWS_ENDPOINT_URL": stack.aws.endpoint_url,
        "AWS_REGION": "us-east-1",
        "LOCAL_EXTRA": None,
    }


def test_handlers_reach_the_emulated_aws_through_their_environment(stack: LocalStack) -> None:
    # Given an item stored through the API by a handler that only knows boto3 and its variables
    stored = send(
        stack.api_url, "PUT", "/items/42", headers=[("Content-Type", "application/json")], body=b'{"a":1}'
    )

    # When it is read back through the API, and straight from moto's DynamoDB
    read = send(stack.api_url, "GET", "/items/42")
    item = stack.client("dynamodb").get_item(TableName="ItemsTable", Key={"id": {"S": "42"}})["Item"]

    # Then both see what the handler wrote
    assert (stored.status, stored.body) == (HTTPStatus.NO_CONTENT, b"")
    assert (read.status, read.header("content-type"), read.body) == (
        HTTPStatus.OK,
        "application/json",
        b'{"a":1}',
    )
    assert item == {"id": {"S": "42"}, "data": {"S": '{"a":1}'}}


def test_an_answer_without_status_code_is_sent_as_json(stack: LocalStack) -> None:
    answer = respond(stack, {"answer": {"delivered": 2, "names": ["vinson"]}})

    assert (answer.status, answer.header("content-type"), answer.body) == (
        HTTPStatus.OK,
        "application/json",
        b'{"delivered": 2, "names": ["vinson"]}',
    )


def test_a_structured_answer_sets_status_cookies_and_a_binary_body(stack: LocalStack) -> None:
    # Given a handler answering a status, two cookies, a header and a base64 body
    payload = {
        "statusCode": 201,
        "headers": {"Content-Type": "application/octet-stream", "X-Certificate-Id": "7"},
        "multiValueHeaders": {"X-Lost": ["payload 1.0 only"]},
        "cookies": ["session=abc; HttpOnly", "theme=dark"],
        "body": base64.b64encode(b"\x00\x01binary\xff").decode(),
        "isBase64Encoded": True,
    }

    # When the client receives it
    answer = respond(stack, {"answer": payload})

    # Then it is the status, headers (one set-cookie per cookie) and bytes the handler meant
    assert (answer.status, answer.body) == (HTTPStatus.CREATED, b"\x00\x01binary\xff")
    assert answer.header_values("set-cookie") == ["session=abc; HttpOnly", "theme=dark"]
    assert (answer.header("content-type"), answer.header("x-certificate-id"), answer.header("x-lost")) == (
        "application/octet-stream",
        "7",
        None,
    )


def _assert_gateway_error(answer: Answer, status: HTTPStatus, message: str) -> None:
    assert (answer.status, answer.header("content-type"), answer.json()) == (
        status,
        "application/json",
        {"message": message},
    )
    assert re.fullmatch(r"[A-Za-z0-9]{15}=", answer.header("apigw-requestid") or "")


@pytest.mark.parametrize(
    ("method", "target"),
    [("GET", "/nowhere"), ("POST", "/pets/dog/1"), ("GET", "/pets"), ("GET", "/pets/dog/1/"), ("GET", "/")],
)
def test_a_request_no_route_takes_is_404_not_found(stack: LocalStack, method: str, target: str) -> None:
    _assert_gateway_error(send(stack.api_url, method, target), HTTPStatus.NOT_FOUND, "Not Found")


def test_a_path_with_an_invalid_escape_is_400(stack: LocalStack) -> None:
    _assert_gateway_error(
        send(stack.api_url, "GET", "/things/%25done"), HTTPStatus.BAD_REQUEST, "Bad Request"
    )


def test_an_unhandled_exception_is_500_internal_server_error(stack: LocalStack) -> None:
    answer = respond(stack, {"raise": "the handler failed"})

    _assert_gateway_error(answer, HTTPStatus.INTERNAL_SERVER_ERROR, "Internal Server Error")


@pytest.mark.parametrize(
    "instructions",
    [
        {"answer": {"statusCode": 200, "body": {"not": "a string"}}},
        {"answer": {"statusCode": "200"}},
        {"unencodable": True},
    ],
)
def test_an_answer_api_gateway_cannot_read_is_500(stack: LocalStack, instructions: dict[str, Any]) -> None:
    answer = respond(stack, instructions)

    _assert_gateway_error(answer, HTTPStatus.INTERNAL_SERVER_ERROR, "Internal Server Error")


def test_a_handler_past_its_timeout_is_500_and_past_the_integration_timeout_503(stack: LocalStack) -> None:
    # Given the responder's 1 s Timeout and a route whose integration gives up after 0.5 s
    # When a handler outlives each of them
    timed_out = respond(stack, {"sleep": 1.2})
    time.sleep(0.3)  # the timed-out handler keeps its sandbox until it really returns
    gave_up = respond(stack, {"sleep": 0.8}, target="/respond-within-half-a-second")
    time.sleep(0.4)

    # Then Lambda's timeout is a function error (500) and API Gateway's own timeout a 503
    _assert_gateway_error(timed_out, HTTPStatus.INTERNAL_SERVER_ERROR, "Internal Server Error")
    _assert_gateway_error(gave_up, HTTPStatus.SERVICE_UNAVAILABLE, "Service Unavailable")


def test_a_body_over_10_mb_is_refused_before_it_is_read(stack: LocalStack) -> None:
    # Given a request announcing one byte more than API Gateway's limit, and sending none of it
    head = (
        f"POST /uploads HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n"
        f"Content-Length: {MAX_REQUEST_BODY_BYTES + 1}\r\n\r\n"
    ).encode()

    # When the head reaches the API
    raw = send_head_only(stack.api_url, head)

    # Then it answers 413 at once
    status_line, _, rest = raw.partition(b"\r\n")
    assert (status_line.split(b" ")[1], rest.rsplit(b"\r\n\r\n", 1)[1]) == (
        b"413",
        b'{"message":"Request Entity Too Large"}',
    )


def test_admin_routes_need_the_admin_key(stack: LocalStack) -> None:
    for headers in ([], [("X-Admin-Key", "wrong")], [("X-Admin-Key", ADMIN_KEY + "x")]):
        answer = send(stack.api_url, "POST", "/admin/things", headers=headers, body=b"{}")
        _assert_gateway_error(answer, HTTPStatus.FORBIDDEN, "Forbidden")


def test_an_admin_request_carries_the_iam_context_and_not_the_key(stack: LocalStack) -> None:
    # When an admin route is called with the key
    event = echo(stack, "POST", "/admin/things", headers=[("X-Admin-Key", ADMIN_KEY)], body=b"{}")["event"]

    # Then the handler sees the caller as API Gateway reports a SigV4-authenticated IAM user, never the key
    assert event["requestContext"]["authorizer"] == {
        "iam": {
            "accessKey": "AKIALOCALADMIN7EXAMP",
            "accountId": "123456789012",
            "callerId": "AIDALOCALADMIN7EXAMPL",
            "cognitoIdentity": None,
            "principalOrgId": None,
            "userArn": "arn:aws:iam::123456789012:user/local-admin",
            "userId": "AIDALOCALADMIN7EXAMPL",
        }
    }
    assert ADMIN_KEY not in json.dumps(event)


def test_a_public_route_has_no_authorizer_and_never_sees_an_admin_key(stack: LocalStack) -> None:
    event = echo(stack, "GET", "/pets/dog/1", headers=[("X-Admin-Key", ADMIN_KEY)])["event"]

    assert "authorizer" not in event["requestContext"]
    assert ADMIN_KEY not in json.dumps(event)


def test_one_connection_carries_several_requests(stack: LocalStack) -> None:
    # Given one keep-alive connection
    parts = urlsplit(stack.api_url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    statuses = []
    try:
        # When three requests go over it
        for target in ("/pets/dog/1", "/nowhere", "/pets/dog/2"):
            connection.request("GET", target)
            response = connection.getresponse()
            response.read()
            statuses.append(response.status)
    finally:
        connection.close()

    # Then each is answered in turn
    assert statuses == [HTTPStatus.OK, HTTPStatus.NOT_FOUND, HTTPStatus.OK]
