"""How a JSON route reads its body (README "Security", untrusted input): the media type and its charset in any
case, quoted or not; a base64 body API Gateway marked so must be strict base64; a text body must be UTF-8.
Each refusal is a 4xx with its own message."""

from __future__ import annotations

import pytest
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from offline_push.api.json_body import raw_body, require_json_content_type
from offline_push.errors import InvalidRequest, UnsupportedMediaType
from tests.support.events import http_event

PATH = "/v1/apps/1400000001"


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "Application/JSON",
        "application/json; charset=utf-8",
        'application/json; charset="UTF-8"',
        "application/json ; Charset = utf-8",
    ],
)
def test_json_with_no_charset_or_utf_8_in_any_case_or_quotes_is_accepted(content_type: str) -> None:
    event = APIGatewayProxyEventV2(http_event("PUT", PATH, headers={"Content-Type": content_type}, body="{}"))
    require_json_content_type(event)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Content-Type": "text/plain"},
        {"Content-Type": "application/json; charset=latin-1"},
        {"Content-Type": 'application/json; charset="utf-16"'},
    ],
)
def test_other_media_types_or_charsets_or_none_are_415(headers: dict[str, str]) -> None:
    event = APIGatewayProxyEventV2(http_event("PUT", PATH, headers=headers, body="{}"))
    with pytest.raises(UnsupportedMediaType) as refused:
        require_json_content_type(event)
    assert str(refused.value) == "send the body as Content-Type: application/json (optionally; charset=utf-8)"


@pytest.mark.parametrize("body", ["e30=!", "e3 0=", "e30"], ids=["symbol", "space", "unpadded"])
def test_a_body_marked_base64_that_is_not_strict_base64_is_refused(body: str) -> None:
    event = http_event("PUT", PATH, body=body)
    event["isBase64Encoded"] = True
    with pytest.raises(InvalidRequest) as refused:
        raw_body(APIGatewayProxyEventV2(event))
    assert str(refused.value) == "request body is not valid base64 although marked so"


def test_a_text_body_with_a_lone_surrogate_is_refused_as_not_utf_8() -> None:
    event = APIGatewayProxyEventV2(http_event("PUT", PATH, body='{"name": "\ud800"}'))
    with pytest.raises(InvalidRequest) as refused:
        raw_body(event)
    assert str(refused.value) == "the request body is not valid UTF-8"
