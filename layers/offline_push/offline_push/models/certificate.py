"""Metadata of an uploaded APNs credential, as stored in the certificates table."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from offline_push.models.credential import ApnsEnvironment, PushKind


class CredentialType(StrEnum):
    P12 = "p12"  # certificate-based: .p12 with the push certificate and its private key, password-protected
    P8 = "p8"  # token-based: .p8 signing key of a team, with key id and team id


class CertificateRecord(BaseModel):
    """One credential of one app, addressed by (sdkAppId, businessId).

    ``version`` grows by one on every rotation: caches of loaded credentials and APNs connections key on it.
    ``object_key`` (the S3 object holding the file) and ``encrypted_password`` (KMS ciphertext) are internal
    and never part of an answer: :meth:`public_view` is what callers see.
    """

    model_config = ConfigDict(frozen=True)

    sdk_app_id: int
    business_id: int
    name: str
    type: CredentialType
    bundle_id: str
    environment: ApnsEnvironment
    expires_at: dt.datetime | None = None
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int = 1
    object_key: str
    key_id: str | None = None
    team_id: str | None = None
    encrypted_password: bytes | None = Field(default=None, repr=False)
    # What the credential can push: alerts (topic <bundle>), VoIP calls (<bundle>.voip), or both.
    push_kinds: tuple[PushKind, ...] = (PushKind.ALERT,)

    def serves(self, kind: PushKind) -> bool:
        return kind in self.push_kinds

    def public_view(self) -> dict[str, Any]:
        view: dict[str, Any] = {
            "businessId": self.business_id,
            "sdkAppId": self.sdk_app_id,
            "name": self.name,
            "type": self.type.value,
            "bundleId": self.bundle_id,
            "environment": self.environment.value,
            "pushKinds": [kind.value for kind in self.push_kinds],
            "expiresAt": _iso(self.expires_at) if self.expires_at else None,
            "createdAt": _iso(self.created_at),
            "updatedAt": _iso(self.updated_at),
        }
        if self.type is CredentialType.P8:
            view["keyId"] = self.key_id
            view["teamId"] = self.team_id
        return view


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class NewCredential:
    """A credential that passed every certificate rule, secret parts included: what the repository stores.

    ``content`` is the .p12 or .p8 file, ``password`` the p12's password; ``repr`` hides both.
    """

    type: CredentialType
    name: str
    environment: ApnsEnvironment
    bundle_id: str
    content: bytes = field(repr=False)
    password: str | None = field(default=None, repr=False)
    expires_at: dt.datetime | None = None
    key_id: str | None = None
    team_id: str | None = None
    push_kinds: tuple[PushKind, ...] = (PushKind.ALERT,)


def ordered_push_kinds(kinds: frozenset[PushKind] | set[PushKind]) -> tuple[PushKind, ...]:
    """Push kinds in their one written order (alert before voip), as records and answers list them."""
    return tuple(kind for kind in PushKind if kind in kinds)
