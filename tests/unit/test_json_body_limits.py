"""A JSON route's body limit (README "Security", untrusted input): 64 KiB of body, counted in the bytes sent
(after base64 when API Gateway encoded them); one byte more is a 413 saying the limit."""

from __future__ import annotations

import base64

import pytest
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from offline_push.api.json_body import MAX_JSON_BODY_BYTES, raw_body
from offline_push.errors import PayloadTooLarge
from tests.support.events import http_event

LIMIT = 65_536


def event(data: bytes, *, encoded: bool) -> APIGatewayProxyEventV2:
    if encoded:
        return APIGatewayProxyEventV2(http_event("PUT", "/v1/apps/1400000001", body=data))
    return APIGatewayProxyEventV2(http_event("PUT", "/v1/apps/1400000001", body=data.decode()))


def body_of(size: int) -> bytes:
    """A JSON object of exactly ``size`` bytes."""
    return b'{"a":"' + b"x" * (size - 8) + b'"}'


@pytest.mark.parametrize("encoded", [False, True], ids=["text", "base64"])
def test_a_body_of_exactly_64_kib_is_read_whole(encoded: bool) -> None:
    assert MAX_JSON_BODY_BYTES == LIMIT
    assert raw_body(event(body_of(LIMIT), encoded=encoded)) == body_of(LIMIT)


@pytest.mark.parametrize("encoded", [False, True], ids=["text", "base64"])
def test_a_body_one_byte_over_64_kib_is_too_large_saying_the_limit(encoded: bool) -> None:
    with pytest.raises(PayloadTooLarge) as refused:
        raw_body(event(body_of(LIMIT + 1), encoded=encoded))
    assert str(refused.value) == "request body is larger than 65536 bytes"


def test_a_base64_body_is_counted_after_decoding() -> None:
    # Given a body whose base64 text (87,384 characters) is over 64 KiB but whose bytes are not
    data = body_of(LIMIT)
    assert len(base64.b64encode(data)) > LIMIT

    # Then it is read
    assert raw_body(event(data, encoded=True)) == data
