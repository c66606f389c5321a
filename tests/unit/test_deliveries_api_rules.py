"""The deliveries API's request rules (README "Deliveries API"): the message key's and page size's bounds, and
a cursor that reads back only as the key this API gave for this user."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from offline_push.api.deliveries import (
    decode_cursor,
    encode_cursor,
    parse_limit,
    parse_msg_key,
    parse_user_id,
)
from offline_push.errors import InvalidRequest

LAST = {"pk": {"S": "m#1#03#k"}, "sk": {"S": "d#abc#vinson"}, "user": {"S": "1#vinson"}, "at": {"N": "12"}}


def _cursor(document: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode().rstrip("=")


def test_a_message_key_is_url_decoded_and_1_to_256_characters() -> None:
    assert parse_msg_key("story%205") == "story 5"
    assert parse_msg_key("k") == "k"
    assert parse_msg_key("%20") == " "
    assert parse_msg_key("k" * 256) == "k" * 256
    for raw in ("", "k" * 257):
        with pytest.raises(InvalidRequest) as refused:
            parse_msg_key(raw)
        assert refused.value.message == "msgKey must be 1 to 256 characters"


def test_a_user_id_is_url_decoded() -> None:
    assert parse_user_id("vin%20son") == "vin son"


@pytest.mark.parametrize(("raw", "limit"), [("1", 1), ("100", 100), ("007", 7)])
def test_a_page_size_is_1_to_100_in_ascii_digits(raw: str, limit: int) -> None:
    assert parse_limit(raw) == limit


@pytest.mark.parametrize("raw", ["0", "101", "1000", "²", "", "+5"])
def test_other_page_sizes_are_refused_saying_the_bounds(raw: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        parse_limit(raw)
    assert refused.value.message == "limit must be a whole number from 1 to 100"


def test_a_cursor_is_the_last_key_as_compact_sorted_json_in_unpadded_url_safe_base64() -> None:
    cursor = encode_cursor(LAST)

    assert cursor == (
        "eyJhdCI6eyJOIjoiMTIifSwicGsiOnsiUyI6Im0jMSMwMyNrIn0sInNrIjp7IlMiOiJkI2FiYyN2aW5zb24ifSwidXNlciI6eyJTIjoiMSN2"
        "aW5zb24ifX0"
    )
    assert decode_cursor(cursor, user_partition="1#vinson") == LAST
    assert decode_cursor("", user_partition="1#vinson") is None


@pytest.mark.parametrize(
    "cursor",
    [
        "!!!not base64",
        _cursor([LAST]),  # not an object
        _cursor({**LAST, "extra": {"S": "x"}}),  # other keys
        _cursor({k: v for k, v in LAST.items() if k != "at"}),
        _cursor({**LAST, "pk": "m#1#03#k"}),  # a value that is not a typed attribute
        _cursor({**LAST, "pk": {"S": "m#1#03#k", "N": "1"}}),  # two types
        _cursor({**LAST, "user": {"S": "1#mum"}}),  # another user's
        _cursor({**LAST, "at": {"S": "12"}}),  # a time that is not a number
        _cursor({**LAST, "pk": {"N": "1"}}),  # a key that is not a string
        _cursor({**LAST, "sk": {"N": "1"}}),
        _cursor({**LAST, "pk": {"S": {"S": "deep"}}}),  # nested deeper than a key
        "A" * 2049,  # longer than any cursor this API writes
    ],
)
def test_a_cursor_this_api_did_not_give_for_this_user_is_refused(cursor: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        decode_cursor(cursor, user_partition="1#vinson")
    assert refused.value.message == "cursor is not one this API returned for this user"


def test_a_cursor_of_up_to_2048_characters_is_read() -> None:
    padded = {**LAST, "sk": {"S": "d#abc#" + "v" * 1400}}
    cursor = encode_cursor(padded)
    assert cursor is not None
    cursor = cursor + "=" * (2048 - len(cursor))  # padding is allowed back
    assert len(cursor) == 2048

    assert decode_cursor(cursor, user_partition="1#vinson") == padded
