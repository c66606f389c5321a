"""Requests and answers of the deliveries API (admin): path values, page size, and the page cursor.

The cursor is DynamoDB's key of the last item shown, as opaque URL-safe base64 JSON. It holds no device token
(the keys carry a digest of it), and one naming another user or app than the path is refused.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any
from urllib.parse import unquote

from offline_push.errors import InvalidRequest
from offline_push.models.registration import validate_user_id
from offline_push.untrusted import load_json

DEFAULT_PAGE = 20
MAX_PAGE = 100
MAX_MSG_KEY = 256
_CURSOR_KEYS = frozenset({"pk", "sk", "user", "at"})
_LIMIT = re.compile(r"[0-9]{1,3}")
# A cursor this API writes is a few hundred characters.
MAX_CURSOR_CHARS = 2048


def parse_user_id(raw: str) -> str:
    return validate_user_id(unquote(raw))


def parse_msg_key(raw: str) -> str:
    msg_key = unquote(raw)
    if not 0 < len(msg_key) <= MAX_MSG_KEY:
        raise InvalidRequest(f"msgKey must be 1 to {MAX_MSG_KEY} characters")
    return msg_key


def parse_limit(raw: str | None) -> int:
    # ASCII digits only: str.isdigit() is also true of "²" and "①", which int() refuses.
    if raw is None:
        return DEFAULT_PAGE
    if not _LIMIT.fullmatch(raw) or not 1 <= int(raw) <= MAX_PAGE:
        raise InvalidRequest(f"limit must be a whole number from 1 to {MAX_PAGE}")
    return int(raw)


def encode_cursor(last_key: dict[str, Any] | None) -> str | None:
    if last_key is None:
        return None
    text = json.dumps(last_key, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(raw: str | None, *, user_partition: str) -> dict[str, Any] | None:
    """The key a page starts after; :class:`InvalidRequest` unless it is one this API gave for this user."""
    if raw is None or raw == "":
        return None
    refused = InvalidRequest("cursor is not one this API returned for this user")
    if len(raw) > MAX_CURSOR_CHARS:
        raise refused
    try:
        document = load_json(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)), max_depth=2)
    except (ValueError, binascii.Error):
        raise refused from None
    if not isinstance(document, dict) or set(document) != _CURSOR_KEYS:
        raise refused
    if not all(isinstance(value, dict) and len(value) == 1 for value in document.values()):
        raise refused
    if document["user"] != {"S": user_partition} or "N" not in document["at"]:
        raise refused
    if not all("S" in document[name] for name in ("pk", "sk")):
        raise refused
    return document
