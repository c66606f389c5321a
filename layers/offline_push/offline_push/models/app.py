"""Per-app settings (one record per sdkAppId) and the key that authenticates the app's users.

The settings record is plain metadata (kick policy, placeholder language, which user-auth algorithm is set).
The key material itself lives only in Secrets Manager and in memory: :class:`UserAuthKey` hides it from
``repr``, so neither a log line nor a traceback can show it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from offline_push.errors import InvalidRequest
from offline_push.models.registration import iso_millis

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

# An sdkAppId in canonical decimal form (Tencent's are 10 digits, 1400000000 and up): no sign, no leading
# zero, within a signed 64-bit integer.
_SDK_APP_ID = re.compile(r"[1-9][0-9]{0,18}")
MAX_SDK_APP_ID = 2**63 - 1


def parse_sdk_app_id(raw: str) -> int:
    """The sdkAppId of a path or a token's audience; :class:`InvalidRequest` unless canonical decimal."""
    if not _SDK_APP_ID.fullmatch(raw) or int(raw) > MAX_SDK_APP_ID:
        raise InvalidRequest("sdkAppId must be a positive decimal integer (like 1400000001)")
    return int(raw)


class KickPolicy(StrEnum):
    """What a new device registration does to the user's other devices."""

    SINGLE = "single"  # the new device replaces the others: they are kicked and receive nothing (default)
    MULTI = "multi"  # devices add up: every device the user is logged in on receives pushes


class PlaceholderLanguage(StrEnum):
    """Language of the placeholders ([语音] / [Voice] ...) the dispatcher shows for non-text elements."""

    ZH = "zh"
    EN = "en"


class UserAuthAlgorithm(StrEnum):
    HS256 = "HS256"  # shared secret, like Tencent's UserSig secret key: the app's server signs user tokens
    RS256 = "RS256"  # the app's server signs with its private key; we hold only the public key
    ES256 = "ES256"


@dataclass(frozen=True, slots=True)
class UserAuthKey:
    """The key material as stored in Secrets Manager: an HMAC secret or a PEM public key."""

    algorithm: UserAuthAlgorithm
    material: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """A :class:`UserAuthKey` ready to verify JWTs: the secret's bytes, or the loaded public key."""

    sdk_app_id: int
    algorithm: UserAuthAlgorithm
    key: bytes | RSAPublicKey | EllipticCurvePublicKey = field(repr=False)


class UserAuthInfo(BaseModel):
    """What the settings record says about the user-auth key: never the key, only facts about it."""

    model_config = ConfigDict(frozen=True)

    algorithm: UserAuthAlgorithm
    updated_at: dt.datetime
    # SHA-256 of the public key's DER SubjectPublicKeyInfo, so an operator can tell which key is set. None
    # for HS256: a hash of a low-entropy secret would help someone guess it.
    public_key_sha256: str | None = None

    def public_view(self) -> dict[str, Any]:
        view: dict[str, Any] = {"algorithm": self.algorithm.value, "updatedAt": iso_millis(self.updated_at)}
        if self.public_key_sha256:
            view["publicKeySha256"] = self.public_key_sha256
        return view


class AppSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    sdk_app_id: int
    kick_policy: KickPolicy = KickPolicy.SINGLE
    placeholder_language: PlaceholderLanguage = PlaceholderLanguage.ZH
    user_auth: UserAuthInfo | None = None
    created_at: dt.datetime
    updated_at: dt.datetime

    def public_view(self) -> dict[str, Any]:
        return {
            "sdkAppId": self.sdk_app_id,
            "kickPolicy": self.kick_policy.value,
            "placeholderLanguage": self.placeholder_language.value,
            "userAuth": self.user_auth.public_view() if self.user_auth else None,
            "createdAt": iso_millis(self.created_at),
            "updatedAt": iso_millis(self.updated_at),
        }
