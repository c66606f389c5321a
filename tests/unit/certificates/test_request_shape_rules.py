"""Limits on the shape of a request (README "Security", untrusted input): a multipart form of at most 16
parts, and a query string whose unknown fields are named (up to five, each cut to 40 characters) beside
the fields the route takes."""

from __future__ import annotations

from typing import Any

import pytest

from offline_push.api.http import check_query
from offline_push.api.multipart import MAX_PARTS, parse_form_data
from offline_push.errors import InvalidRequest

CONTENT_TYPE = "multipart/form-data; boundary=b0undary"


def form(fields: int) -> bytes:
    parts = [
        f'--b0undary\r\nContent-Disposition: form-data; name="f{i}"\r\n\r\nv{i}\r\n'.encode()
        for i in range(fields)
    ]
    return b"".join(parts) + b"--b0undary--\r\n"


def test_a_form_of_16_parts_is_read_and_a_17th_is_refused() -> None:
    assert MAX_PARTS == 16
    assert [part.text() for part in parse_form_data(form(16), CONTENT_TYPE).values()] == [
        f"v{i}" for i in range(16)
    ]
    with pytest.raises(InvalidRequest) as refused:
        parse_form_data(form(17), CONTENT_TYPE)
    assert refused.value.message == "multipart/form-data has more than 16 parts"


def event(raw: str) -> dict[str, Any]:
    return {"rawQueryString": raw}


def test_unknown_query_fields_are_named_five_at_most_each_cut_to_40_characters() -> None:
    long_name = "x" * 41
    with pytest.raises(InvalidRequest) as refused:
        check_query(event(f"a=1&b=2&c=3&d=4&e=5&{long_name}=6"), {"limit", "cursor"})
    assert refused.value.message == (
        "unknown query parameter(s) 'a', 'b', 'c', 'd', 'e'; this route takes: cursor, limit"
    )
    with pytest.raises(InvalidRequest) as refused:
        check_query(event(f"{long_name}=1"), set())
    assert refused.value.message == f"unknown query parameter(s) {'x' * 40!r}; this route takes: none"


@pytest.mark.parametrize("raw", ["a=1&&b=2", "a=%ff", "a"])
def test_a_malformed_query_string_is_refused_as_such(raw: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        check_query(event(raw), {"a", "b"})
    assert refused.value.message == "the query string is malformed"


def test_fields_only_in_the_parsed_parameters_are_checked_too() -> None:
    with pytest.raises(InvalidRequest) as refused:
        check_query({"queryStringParameters": {"token": "t"}}, {"limit"})
    assert refused.value.message == "unknown query parameter(s) 'token'; this route takes: limit"
