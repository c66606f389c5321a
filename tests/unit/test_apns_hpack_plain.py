"""Plain literals for per-request header values: any HPACK decoder reads back exactly what was encoded."""

from __future__ import annotations

from hpack import Decoder
from hypothesis import given, settings
from hypothesis import strategies as st

from offline_push.apns.hpack_plain import PlainValueEncoder, encode_integer

VALUE = st.binary(min_size=0, max_size=300).map(lambda raw: raw.replace(b"\r", b"").replace(b"\n", b""))


@settings(max_examples=150)
@given(paths=st.lists(VALUE, min_size=1, max_size=4), apns_ids=st.lists(VALUE, min_size=1, max_size=4))
def test_blocks_decode_to_the_headers_given_over_one_connection(
    paths: list[bytes], apns_ids: list[bytes]
) -> None:
    # Given one encoder and one decoder, as the two ends of a connection
    encoder = PlainValueEncoder((b":path", b"apns-id"))
    decoder = Decoder()
    for path, apns_id in zip(paths, apns_ids, strict=False):
        headers = [
            (b":method", b"POST"),
            (b":scheme", b"https"),
            (b":path", b"/3/device/" + path),
            (b"apns-topic", b"com.example.chat"),
            (b"apns-id", apns_id),
            (b"authorization", b"bearer " + b"x" * 200),
        ]

        # When a request's block is encoded and decoded
        decoded = decoder.decode(encoder.encode(headers), raw=True)

        # Then the same fields come out, in the same order
        assert [(bytes(name), bytes(value)) for name, value in decoded] == headers


def test_a_table_size_change_still_opens_the_block() -> None:
    encoder = PlainValueEncoder((b":path",))
    decoder = Decoder()
    encoder.header_table_size = 256
    decoder.header_table_size = 256

    decoded = decoder.decode(encoder.encode([(b":path", b"/3/device/ab"), (b":method", b"POST")]), raw=True)

    assert [(bytes(name), bytes(value)) for name, value in decoded] == [
        (b":path", b"/3/device/ab"),
        (b":method", b"POST"),
    ]


def test_statuses_of_the_static_table_are_one_byte() -> None:
    encoder = PlainValueEncoder((b":status", b"apns-id"))

    assert encoder.encode([(b":status", b"200")]) == b"\x88"
    assert Decoder().decode(encoder.encode([(b":status", b"410"), (b"apns-id", b"x")]), raw=True) == [
        (b":status", b"410"),
        (b"apns-id", b"x"),
    ]


def test_integers_use_the_prefix_then_seven_bit_groups() -> None:
    # RFC 7541 C.1: 10 and 1337 with a 5-bit prefix, 42 with an 8-bit prefix
    assert encode_integer(10, 5) == bytes([0b01010])
    assert encode_integer(1337, 5) == bytes([0b11111, 0b10011010, 0b00001010])
    assert encode_integer(42, 8) == bytes([42])
