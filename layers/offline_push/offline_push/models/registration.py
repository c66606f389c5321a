"""Device registrations: the devices (APNs device tokens) a user of an app has registered, and their badge.

A registration is what the seed's ``setAPNS`` reports after IM login: the certificate the app ships with
(``businessId``) and the token Apple gave the device. The dispatcher reads every registration of a user, sends
with the certificate the registration names, and removes the registration when APNs says the token is dead.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict

from offline_push.errors import InvalidDeviceToken, InvalidRequest
from offline_push.models.credential import ApnsEnvironment, PushKind

# Apple issues tokens of variable length and asks servers not to hard-code 32 bytes. The legacy binary
# interface carried up to 100 bytes; nothing shorter than a 128-bit identifier has ever been issued. Outside
# these bounds a "token" is a mistake (a user id, a truncated log line), not a device.
MIN_TOKEN_BYTES = 16
MAX_TOKEN_BYTES = 100

# A userId is a DynamoDB key part; Tencent caps UserIDs at 32 bytes, this leaves room without allowing abuse.
MAX_USER_ID_BYTES = 128

_HEX = re.compile(r"[0-9a-f]+")
_NSDATA_DESCRIPTION = re.compile(r"^\{\s*length\s*=")


def normalize_device_token(raw: str) -> str:
    """The lower-case hex form of a device token, from any form an iOS app commonly sends.

    Accepted: hex of any even length within bounds, any case, and NSData's old ``description`` form
    (``<740f4707 bebcf74f ...>``, iOS 12 and earlier). Rejected with a message naming the problem: anything
    else, including iOS 13's ``{length = 32, bytes = 0x740f4707 ... }`` description, which is truncated.
    Messages never repeat the token.
    """
    text = raw.strip()
    if _NSDATA_DESCRIPTION.match(text):
        raise InvalidDeviceToken(
            "token is NSData's description ({length = ..., bytes = ...}), which iOS 13 and later truncate: "
            "send the hex of the token's bytes"
        )
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1]
    # The <...> form separates groups of 8 digits with spaces; some apps keep the spaces without brackets.
    text = text.replace(" ", "").lower()
    if not text:
        raise InvalidDeviceToken("token is empty")
    if not _HEX.fullmatch(text):
        raise InvalidDeviceToken("token must be hexadecimal (0-9, a-f), as Apple's device token bytes in hex")
    if len(text) % 2:
        raise InvalidDeviceToken("token has an odd number of hex digits: a device token is whole bytes")
    size = len(text) // 2
    if not MIN_TOKEN_BYTES <= size <= MAX_TOKEN_BYTES:
        raise InvalidDeviceToken(
            f"token is {size} bytes; APNs device tokens are {MIN_TOKEN_BYTES} to {MAX_TOKEN_BYTES} bytes "
            f"({MIN_TOKEN_BYTES * 2} to {MAX_TOKEN_BYTES * 2} hex digits)"
        )
    return text


def validate_user_id(user_id: str) -> str:
    """A userId as it is stored: non-empty, at most :data:`MAX_USER_ID_BYTES`, no control characters."""
    if not user_id:
        raise InvalidRequest("userId is empty")
    try:
        encoded = user_id.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidRequest("userId is not Unicode text (it has a lone surrogate)") from None
    if len(encoded) > MAX_USER_ID_BYTES:
        raise InvalidRequest(f"userId is longer than {MAX_USER_ID_BYTES} bytes")
    if any(ord(character) < 0x20 or ord(character) == 0x7F for character in user_id):
        raise InvalidRequest("userId contains control characters")
    return user_id


def is_storable_user_id(user_id: str) -> bool:
    try:
        validate_user_id(user_id)
    except InvalidRequest:
        return False
    return True


def token_hint(token: str) -> str:
    """Enough of a token to tell devices apart in logs, not enough to address one."""
    return f"{token[:8]}…({len(token) // 2}B)"


class DeviceRegistration(BaseModel):
    """One device of a user: where to push (token), with which certificate (business_id) and APNs host.

    ``registered_at`` is the last time the app reported this token (millisecond precision): APNs' 410 answer
    carries the time Apple learnt the token was dead, and a registration newer than that must survive.
    ``push_kind``: an APNs token from setAPNS (``alert``) or a PushKit token from setVOIP (``voip``), which
    only call invitations are pushed to.
    """

    model_config = ConfigDict(frozen=True)

    token: str
    business_id: int
    environment: ApnsEnvironment
    registered_at: dt.datetime
    push_kind: PushKind = PushKind.ALERT

    def public_view(self) -> dict[str, Any]:
        return {
            "token": self.token,
            "businessId": self.business_id,
            "environment": self.environment.value,
            "pushKind": self.push_kind.value,
            "registeredAt": iso_millis(self.registered_at),
        }


@dataclass(frozen=True, slots=True)
class TokenClaim:
    """The outcome of claiming a device token: who held it before, and this claim's number (DynamoDB numbers
    the claims of a token one after the other, so the latest claim is known whatever the clocks say)."""

    previous: str | None
    number: int


class UserRegistrations(BaseModel):
    """Everything the dispatcher needs about one receiver: their devices (newest first) and badge counter."""

    model_config = ConfigDict(frozen=True)

    sdk_app_id: int
    user_id: str
    devices: tuple[DeviceRegistration, ...] = ()
    badge: int = 0
    # Optimistic-concurrency version of the device set (0: never written). Badge updates do not change it.
    version: int = 0

    def device(self, token: str) -> DeviceRegistration | None:
        return next((device for device in self.devices if device.token == token), None)


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def to_epoch_millis(moment: dt.datetime) -> int:
    """Exact milliseconds since the epoch (no float rounding): APNs' 410 timestamp uses this unit."""
    return (moment - _EPOCH) // dt.timedelta(milliseconds=1)


def from_epoch_millis(millis: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(milliseconds=millis)


def truncate_to_millis(moment: dt.datetime) -> dt.datetime:
    return from_epoch_millis(to_epoch_millis(moment))


def iso_millis(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
