"""Device token normalisation: every form Apple's token reaches a server in, one stored form."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offline_push.errors import InvalidDeviceToken
from offline_push.models.registration import MAX_TOKEN_BYTES, MIN_TOKEN_BYTES, normalize_device_token

TOKEN = "740f4707bebcf74f9b7c25d48e3358945f6aa01da5ddb387462c7eaf61bb78ad"


@pytest.mark.parametrize(
    "sent",
    [
        pytest.param(TOKEN, id="lower-case hex"),
        pytest.param(TOKEN.upper(), id="upper-case hex"),
        pytest.param(
            "<740f4707 bebcf74f 9b7c25d4 8e335894 5f6aa01d a5ddb387 462c7eaf 61bb78ad>", id="NSData <...>"
        ),
        pytest.param("740f4707 bebcf74f 9b7c25d4 8e335894 5f6aa01d a5ddb387 462c7eaf 61bb78ad", id="grouped"),
        pytest.param(f"\t{TOKEN} \n", id="surrounding whitespace"),
    ],
)
def test_accepted_forms_normalise_to_lower_case_hex(sent: str) -> None:
    assert normalize_device_token(sent) == TOKEN


@pytest.mark.parametrize(
    ("sent", "message"),
    [
        pytest.param("", "token is empty", id="empty"),
        pytest.param("<>", "token is empty", id="empty brackets"),
        pytest.param(
            "0x" + TOKEN,
            "token must be hexadecimal (0-9, a-f), as Apple's device token bytes in hex",
            id="0x prefix",
        ),
        pytest.param(
            TOKEN[:-1] + "g",
            "token must be hexadecimal (0-9, a-f), as Apple's device token bytes in hex",
            id="non-hex",
        ),
        pytest.param(
            "dGhpcyBpcyBiYXNlNjQ=",
            "token must be hexadecimal (0-9, a-f), as Apple's device token bytes in hex",
            id="base64",
        ),
        pytest.param(
            TOKEN[:-1],
            "token has an odd number of hex digits: a device token is whole bytes",
            id="odd length",
        ),
        pytest.param(
            "ab" * (MIN_TOKEN_BYTES - 1),
            "token is 15 bytes; APNs device tokens are 16 to 100 bytes (32 to 200 hex digits)",
            id="too short",
        ),
        pytest.param(
            "ab" * (MAX_TOKEN_BYTES + 1),
            "token is 101 bytes; APNs device tokens are 16 to 100 bytes (32 to 200 hex digits)",
            id="too long",
        ),
        pytest.param(
            "{length = 32, bytes = 0x740f4707 bebcf74f 9b7c25d4 8e335894 ... 462c7eaf 61bb78ad }",
            "token is NSData's description ({length = ..., bytes = ...}), which iOS 13 and later truncate: "
            "send the hex of the token's bytes",
            id="iOS 13 NSData description",
        ),
    ],
)
def test_rejected_forms_say_what_is_wrong(sent: str, message: str) -> None:
    with pytest.raises(InvalidDeviceToken) as raised:
        normalize_device_token(sent)

    assert (raised.value.code, raised.value.message) == ("InvalidDeviceToken", message)


token_bytes = st.binary(min_size=MIN_TOKEN_BYTES, max_size=MAX_TOKEN_BYTES)


@settings(max_examples=200)
@given(raw=token_bytes, upper=st.booleans(), bracketed=st.booleans(), group=st.sampled_from([0, 4, 8]))
def test_every_rendering_of_a_token_normalises_to_its_bytes_in_hex(
    raw: bytes, upper: bool, bracketed: bool, group: int
) -> None:
    text = raw.hex().upper() if upper else raw.hex()
    if group:
        text = " ".join(text[i : i + group] for i in range(0, len(text), group))
    if bracketed:
        text = f"<{text}>"

    assert normalize_device_token(text) == raw.hex()


@settings(max_examples=300)
@given(sent=st.text(max_size=300))
def test_any_input_is_either_refused_or_a_storable_token(sent: str) -> None:
    try:
        token = normalize_device_token(sent)
    except InvalidDeviceToken as refused:
        message = refused.message
    else:
        assert token == token.lower()
        assert MIN_TOKEN_BYTES <= len(bytes.fromhex(token)) <= MAX_TOKEN_BYTES
        return
    # A refusal never repeats what was sent
    assert len(sent.strip()) < 8 or sent.strip() not in message
