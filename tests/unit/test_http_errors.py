"""Every function's resolver answers errors in one JSON shape, whatever raised them."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

import pytest
from pydantic import BaseModel

from offline_push.api.http import create_resolver
from offline_push.errors import CertificateNotFound
from tests.support.events import LambdaContext, http_event, response_json

app = create_resolver()


class Body(BaseModel):
    unread: int


@app.get("/product-error")
def product_error() -> None:
    raise CertificateNotFound("no certificate 7 in app 1400000001")


@app.get("/bug")
def bug() -> None:
    raise RuntimeError("secret-looking detail p12-password=hunter2")


@app.post("/validated")
def validated(body: Body) -> dict[str, Any]:
    return {"unread": body.unread}


def _call(method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
    answer = app.resolve(http_event(method, path, **kwargs), LambdaContext())  # type: ignore[arg-type]
    return answer["statusCode"], response_json(answer)


def test_a_product_error_answers_its_status_and_code() -> None:
    assert _call("GET", "/product-error") == (
        HTTPStatus.NOT_FOUND,
        {"code": "CertificateNotFound", "message": "no certificate 7 in app 1400000001"},
    )


def test_an_unexpected_exception_answers_500_in_the_same_shape_without_its_text(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR):
        status, body = _call("GET", "/bug")

    assert (status, body) == (
        HTTPStatus.INTERNAL_SERVER_ERROR,
        {"code": "InternalError", "message": "internal error; see the logs"},
    )


def test_a_validation_error_names_the_field_without_echoing_the_value() -> None:
    status, body = _call("POST", "/validated", json_body={"unread": "many-secret-value"})

    assert status == HTTPStatus.BAD_REQUEST
    assert body["code"] == "InvalidRequest"
    assert body["message"].startswith("unread: ")
    assert "many-secret-value" not in body["message"]


def test_an_unknown_route_answers_404_in_the_same_shape() -> None:
    assert _call("GET", "/nowhere") == (
        HTTPStatus.NOT_FOUND,
        {"code": "RouteNotFound", "message": "no such route"},
    )
