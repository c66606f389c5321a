"""HPACK for header values that change with every request: plain literals, no Huffman, no indexing.

Every APNs request carries two values seen once (``:path`` with the device token, ``apns-id``). hpack's
encoder Huffman-codes them in pure Python (~9 µs each) to save ~20 bytes, and indexes them in the dynamic
table where they only evict useful entries. RFC 7541 lets an encoder send any field as a "literal header
field without indexing" with a raw string (section 6.2.2); this encoder does that for the names it is given
and leaves every other field (method, topic, push type, authorization...) to hpack, which indexes them once
per connection. The output is a valid header block for any HPACK decoder.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hpack import Encoder

# RFC 7541 appendix A: the static table's entries this module names directly.
STATIC_NAME_INDEX = {
    b":authority": 1,
    b":method": 2,
    b":path": 4,
    b":scheme": 6,
    b":status": 8,
    b"authorization": 23,
    b"content-length": 28,
    b"content-type": 31,
}
STATIC_STATUS_INDEX = {b"200": 8, b"204": 9, b"206": 10, b"304": 11, b"400": 12, b"404": 13, b"500": 14}


def encode_integer(value: int, prefix_bits: int, flags: int = 0) -> bytes:
    """RFC 7541 5.1: ``value`` with an N-bit prefix, the first byte's other bits set to ``flags``."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([flags | value])
    encoded = bytearray([flags | limit])
    value -= limit
    while value >= 128:
        encoded.append((value & 0x7F) | 0x80)
        value >>= 7
    encoded.append(value)
    return bytes(encoded)


def plain_literal(name: bytes, value: bytes) -> bytes:
    """RFC 7541 6.2.2, literal header field without indexing, raw (non-Huffman) strings."""
    index = STATIC_NAME_INDEX.get(name)
    head = encode_integer(index, 4) if index is not None else b"\x00" + encode_integer(len(name), 7) + name
    return head + encode_integer(len(value), 7) + value


class PlainValueEncoder(Encoder):
    """hpack's encoder, except that fields named in ``plain_names`` go out as plain literals."""

    def __init__(self, plain_names: Iterable[bytes]) -> None:
        super().__init__()
        self.plain_names = frozenset(plain_names)

    def encode(self, headers: Any, huffman: bool = True) -> bytes:
        if isinstance(headers, dict):
            return bytes(super().encode(headers, huffman))
        fields: list[tuple[bytes, bytes]] = [(field[0], field[1]) for field in headers]
        plain = self.plain_names
        if self.header_table.resized and fields and fields[0][0] in plain:
            # A table size update must open the block: let hpack write this one.
            return bytes(super().encode(fields, huffman))
        block = bytearray()
        run: list[tuple[bytes, bytes]] = []
        for name, value in fields:
            if name in plain:
                if run:
                    block += super().encode(run, huffman)
                    run = []
                if name == b":status" and value in STATIC_STATUS_INDEX:
                    block.append(0x80 | STATIC_STATUS_INDEX[value])
                else:
                    block += plain_literal(name, value)
            else:
                run.append((name, value))
        if run:
            block += super().encode(run, huffman)
        return bytes(block)
