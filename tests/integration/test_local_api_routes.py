"""Route precedence over HTTP with a $default route, and an API on a named stage (tests/support/local_stack/
routes.yaml). The echo handler needs no AWS, so the API servers run here without moto."""

from __future__ import annotations

from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path

import pytest

from local.api_gateway import HttpApiServer, http_apis
from local.lambda_runtime import LocalFunction, function_definitions
from local.template import load_template
from tests.support.local_stack.client import send

TEMPLATE = Path(__file__).resolve().parents[1] / "support" / "local_stack" / "routes.yaml"


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, HttpApiServer]]:
    template = load_template(TEMPLATE)
    definitions = function_definitions(template, template_path=TEMPLATE)
    functions = {logical_id: LocalFunction(definition) for logical_id, definition in definitions.items()}
    running = {
        api_id: HttpApiServer(api, functions, admin_key="unused").start()
        for api_id, api in http_apis(template, definitions).items()
    }
    yield running
    for server in running.values():
        server.stop()
    for function in functions.values():
        function.close()


@pytest.mark.parametrize(
    ("method", "target", "route_key"),
    [
        ("GET", "/pets/dog/1", "GET /pets/dog/1"),
        ("GET", "/pets/dog/2", "GET /pets/dog/{id}"),
        ("GET", "/pets/cat/1", "GET /pets/{proxy+}"),
        ("POST", "/pets/dog/1", "ANY /{proxy+}"),
        ("GET", "/test/5", "ANY /{proxy+}"),
        ("GET", "/", "$default"),
        ("GET", "/status", "ANY /{proxy+}"),
    ],
)
def test_the_guides_example_routes_every_request_and_default_takes_the_rest(
    servers: dict[str, HttpApiServer], method: str, target: str, route_key: str
) -> None:
    answer = send(servers["ServerlessHttpApi"].url, method, target)

    assert (answer.status, answer.json()["event"]["routeKey"]) == (HTTPStatus.OK, route_key)


def test_an_api_on_a_named_stage_serves_under_the_stage_and_reports_it(
    servers: dict[str, HttpApiServer],
) -> None:
    # Given the API whose stage is v1
    staged = servers["StagedApi"]
    base = staged.url.removesuffix("/v1")

    # When its route is called under the stage, and without it
    found = send(staged.url, "GET", "/status")
    missing = send(base, "GET", "/status")

    # Then the stage prefixes the path, as on AWS, and is named in the event
    event = found.json()["event"]
    assert (staged.url.endswith("/v1"), found.status, missing.status) == (
        True,
        HTTPStatus.OK,
        HTTPStatus.NOT_FOUND,
    )
    assert (event["routeKey"], event["rawPath"], event["requestContext"]["stage"]) == (
        "GET /status",
        "/v1/status",
        "v1",
    )
