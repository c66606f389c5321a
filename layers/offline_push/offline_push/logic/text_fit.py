"""Text cut to fit a byte budget inside a JSON payload: the formatter's and the VoIP payload's shortening.

A cut keeps the longest prefix that fits, between characters and never inside a cluster (an emoji sequence,
a flag, a character and its combining marks), and ends with an ellipsis. Sizes are what the text takes
inside a compact JSON string (escapes counted), in UTF-8 bytes. Lone surrogates, which UTF-8 cannot carry,
are replaced first (:func:`clean`).
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Final

ELLIPSIS: Final = "…"

_ELLIPSIS_BYTES = len(ELLIPSIS.encode())
# Cluster extension is approximated (combining marks, variation selectors, emoji modifiers, ZWJ and tag
# sequences, flags); a cluster longer than this is cut on a plain character boundary.
_MAX_CLUSTER = 64
_ZWJ = "\u200d"
_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f]').search

# The compact JSON text every payload is written in (UTF-8 characters as they are).
compact_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False).encode


def json_cost(text: str) -> int:
    """Bytes ``text`` takes inside a JSON string of the payload."""
    return len(compact_json(text).encode()) - 2


def fits(text: str, room: int) -> bool:
    return len(text) <= room and json_cost(text) <= room


def shorten(text: str, room: int, *, min_keep: int = 1) -> str | None:
    """``text`` if it fits ``room`` bytes, else its longest prefix that fits with an ellipsis, cut between
    characters and never inside a cluster; None when not even ``min_keep`` bytes and the ellipsis fit."""
    if fits(text, room):
        return text
    budget = room - _ELLIPSIS_BYTES
    if budget < min_keep or budget <= 0:
        return None
    cut = _cluster_start(text, _cut(text, budget))
    if cut == 0:
        return None
    prefix = text[:cut]
    return (prefix.rstrip() or prefix) + ELLIPSIS


def _cut(text: str, budget: int) -> int:
    """The largest ``k`` such that ``text[:k]`` takes at most ``budget`` bytes in JSON."""
    text = text[:budget]  # every character takes one byte at least
    if not _NEEDS_ESCAPE(text):
        encoded = text.encode()
        if len(encoded) <= budget:
            return len(text)
        # Bytes cut mid-character are dropped by the decoder: what is left is whole characters.
        return len(encoded[:budget].decode("utf-8", "ignore"))
    low, high = 0, len(text)  # escapes make the cost of a prefix non-local: search it
    while low < high:
        middle = (low + high + 1) // 2
        if json_cost(text[:middle]) <= budget:
            low = middle
        else:
            high = middle - 1
    return low


def _extends_cluster(char: str) -> bool:
    code = ord(char)
    return (
        char == _ZWJ
        or 0xFE00 <= code <= 0xFE0F  # variation selectors (emoji / text presentation)
        or 0x1F3FB <= code <= 0x1F3FF  # skin-tone modifiers
        or 0xE0020 <= code <= 0xE007F  # tag sequences (subdivision flags)
        or 0xE0100 <= code <= 0xE01EF  # variation selectors supplement
        or unicodedata.category(char) in ("Mn", "Me", "Mc")  # combining marks, keycaps
    )


def _is_regional_indicator(char: str) -> bool:
    return 0x1F1E6 <= ord(char) <= 0x1F1FF


def _cluster_start(text: str, cut: int) -> int:
    """Move a cut back so that it does not separate an emoji sequence or a character from its marks."""
    if cut >= len(text):
        return cut
    position = cut
    while position > 0 and cut - position < _MAX_CLUSTER:
        if _extends_cluster(text[position]) or text[position - 1] == _ZWJ:
            position -= 1
            continue
        if _is_regional_indicator(text[position]) and _is_regional_indicator(text[position - 1]):
            run = 0
            while position - 1 - run >= 0 and _is_regional_indicator(text[position - 1 - run]):
                run += 1
            if run % 2 == 1:  # text[position - 1] is the first half of a flag
                position -= 1
                continue
        break
    if position == 0 or cut - position >= _MAX_CLUSTER:
        return cut  # one cluster longer than the room: cut it, still on a character
    return position


def clean(text: str) -> str:
    """Shown text, with lone surrogates (which UTF-8 cannot carry) replaced by U+FFFD."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text
