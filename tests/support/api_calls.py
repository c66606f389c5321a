"""Call a function's lambda_handler with an HTTP API event and read the answer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from tests.support.events import LambdaContext, http_event, response_json

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


@dataclass(frozen=True)
class Answer:
    status: HTTPStatus
    body: Any
    headers: dict[str, str]
    raw_body: str


def call(
    handler: Handler,
    method: str,
    path: str,
    *,
    bearer: str | None = None,
    headers: dict[str, str] | None = None,
    json_body: Any = None,
    body: str | bytes | None = None,
    query: dict[str, str] | None = None,
    admin: bool = False,
) -> Answer:
    all_headers = dict(headers or {})
    if bearer is not None:
        all_headers["Authorization"] = f"Bearer {bearer}"
    event = http_event(
        method, path, headers=all_headers, json_body=json_body, body=body, query=query, admin=admin
    )
    response = handler(event, LambdaContext())
    return Answer(
        status=HTTPStatus(response["statusCode"]),
        body=response_json(response),
        headers={name.lower(): value for name, value in (response.get("headers") or {}).items()},
        raw_body=str(response.get("body") or ""),
    )
