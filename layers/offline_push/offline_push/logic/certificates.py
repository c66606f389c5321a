"""The certificate rules: what an uploaded APNs credential must be before it is stored, and the operations
of the certificate API (create, list, get, rotate, delete).

Rules, each a distinct 4xx error (codes in :mod:`offline_push.errors`), checked before anything is stored:

- the name is plain English: letters, digits, space, ``-``, ``_``, ``.``; no brackets or other special
  characters (the seed: "use an all-English name, especially no brackets");
- the environment is ``development`` or ``production``;
- the file is at most :data:`MAX_CREDENTIAL_BYTES`;
- p12: a password is required (the seed: "without a password no push arrives"), it must open the file, the
  file must hold the certificate and its matching private key, Apple must have issued the certificate (its
  chain ends at Apple's WWDR intermediates and root, :mod:`offline_push.apple_ca`), it must be valid now,
  be an APNs push certificate (bundle ID in the subject UID), and serve the declared environment (the seed:
  "App Store builds need a production certificate"; a development certificate serves only the sandbox);
- p8: an EC P-256 private key, a 10-character key ID and team ID, a bundle ID (the topic).

Each certificate serves push kinds, recorded with it: ``alert`` (topic ``<bundle>``) and ``voip`` (PushKit,
topic ``<bundle>.voip``). A "VoIP Services" p12 serves only VoIP; a universal "Apple Push Services" p12
serves both when it lists ``<bundle>.voip``; the older single-topic push certificates only alerts. A p8 key
signs for every topic of its team: both, unless its bundleId is given as ``<bundle>.voip`` (VoIP only).

A rotation (PUT) replaces the credential behind the same ``businessId``, for the same bundle ID, the same
environment and at least the same push kinds; name and environment may be omitted and are then kept.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from offline_push.errors import (
    BundleIdMismatch,
    CertificateExpired,
    CertificateNotYetValid,
    CredentialFileMissing,
    CredentialTooLarge,
    EnvironmentChange,
    EnvironmentNotServable,
    InvalidBundleId,
    InvalidCertificateName,
    InvalidCredentialType,
    InvalidEnvironment,
    InvalidKeyId,
    InvalidRequest,
    InvalidTeamId,
    PasswordRequired,
    PushKindsNarrowed,
)
from offline_push.models.certificate import (
    CertificateRecord,
    CredentialType,
    NewCredential,
    ordered_push_kinds,
)
from offline_push.models.credential import ALL_PUSH_KINDS, VOIP_TOPIC_SUFFIX, ApnsEnvironment, PushKind

if TYPE_CHECKING:
    from offline_push.apple_ca import AppleTrust
    from offline_push.dal.certificate_repository import CertificateRepository
    from offline_push.push_credentials import PushCertificateKind

# The file checks (offline_push.push_credentials, offline_push.apple_ca) load cryptography: they are imported
# by the uploads that use them, so a list, get or delete of certificates never loads it.

MAX_CREDENTIAL_BYTES = 64 * 1024
MAX_NAME_LENGTH = 64
MAX_PASSWORD_LENGTH = 1024
MAX_BUNDLE_ID_LENGTH = 155  # Apple's limit for a bundle identifier

_NAME = re.compile(r"[A-Za-z0-9 ._-]+")
_NAME_FORBIDDEN = re.compile(r"[^A-Za-z0-9 ._-]")
_APPLE_ID = re.compile(r"[A-Z0-9]{10}")
_BUNDLE_ID = re.compile(r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class CertificateUpload:
    """An upload as the caller sent it, fields not yet checked. ``None`` means the field was absent."""

    type: str | None = None
    name: str | None = None
    environment: str | None = None
    content: bytes | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    key_id: str | None = None
    team_id: str | None = None
    bundle_id: str | None = None


# --- single rules -------------------------------------------------------------------------------------------


def check_name(name: str | None) -> str:
    if name is None or not name.strip():
        raise InvalidCertificateName("name is required")
    name = name.strip()
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidCertificateName(f"name is longer than {MAX_NAME_LENGTH} characters")
    if not _NAME.fullmatch(name):
        found = "".join(dict.fromkeys(_NAME_FORBIDDEN.findall(name)))
        raise InvalidCertificateName(
            "name may only contain English letters, digits, spaces, '-', '_' and '.' "
            f"(no brackets or other special characters); found {found!r}"
        )
    return name


def check_environment(environment: str | None) -> ApnsEnvironment:
    if environment is None or not environment.strip():
        raise InvalidEnvironment("environment is required: 'development' or 'production'")
    try:
        return ApnsEnvironment(environment.strip().lower())
    except ValueError:
        raise InvalidEnvironment("environment must be 'development' or 'production'") from None


def credential_type_of(upload: CertificateUpload) -> CredentialType:
    """The declared type; without one, ``p8`` when a key ID, team ID or bundle ID is given, else ``p12``."""
    if upload.type is not None:
        try:
            return CredentialType(upload.type.strip().lower())
        except ValueError:
            raise InvalidCredentialType("type must be 'p12' (certificate) or 'p8' (token key)") from None
    if upload.key_id is not None or upload.team_id is not None or upload.bundle_id is not None:
        return CredentialType.P8
    return CredentialType.P12


def check_content(content: bytes | None) -> bytes:
    if not content:
        raise CredentialFileMissing("file is required: the .p12 certificate or the .p8 key")
    if len(content) > MAX_CREDENTIAL_BYTES:
        raise CredentialTooLarge(
            f"file is {len(content)} bytes; the limit is {MAX_CREDENTIAL_BYTES} bytes "
            "(a push certificate or key is a few KiB)"
        )
    return content


def check_apple_id(value: str | None, what: str, error: type[InvalidRequest]) -> str:
    if value is None or not value.strip():
        raise error(f"{what} is required for a .p8 key (10 characters, from the Apple developer account)")
    normalised = value.strip().upper()
    if not _APPLE_ID.fullmatch(normalised):
        raise error(f"{what} must be exactly 10 letters or digits, as shown in the Apple developer account")
    return normalised


def check_bundle_id(bundle_id: str | None) -> str:
    if bundle_id is None or not bundle_id.strip():
        raise InvalidBundleId("bundleId is required for a .p8 key: the app's bundle ID (the APNs topic)")
    bundle_id = bundle_id.strip()
    if len(bundle_id) > MAX_BUNDLE_ID_LENGTH or not _BUNDLE_ID.fullmatch(bundle_id):
        raise InvalidBundleId(
            "bundleId must be a reverse-DNS bundle ID such as com.example.app "
            f"(letters, digits, '-', separated by '.'; at most {MAX_BUNDLE_ID_LENGTH} characters)"
        )
    return bundle_id


def check_validity(not_before: dt.datetime, not_after: dt.datetime, now: dt.datetime) -> None:
    if now < not_before:
        raise CertificateNotYetValid(f"the certificate is not valid before {_iso(not_before)}")
    if now >= not_after:
        raise CertificateExpired(
            f"the certificate expired on {_iso(not_after)}: create a new one in the Apple developer account"
        )


def check_servable(kind: PushCertificateKind, environment: ApnsEnvironment) -> None:
    from offline_push.push_credentials import PushCertificateKind  # noqa: PLC0415 - see the imports

    if kind.serves(environment):
        return
    if kind is PushCertificateKind.DEVELOPMENT:
        raise EnvironmentNotServable(
            "this is a development (sandbox) push certificate and cannot be used for production: App Store "
            "and TestFlight builds need a production or 'Apple Push Services' certificate"
        )
    raise EnvironmentNotServable(
        "this is a production-only push certificate and cannot be used for development (the APNs sandbox): "
        "use a development or 'Apple Push Services' certificate"
    )


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


# --- whole uploads ------------------------------------------------------------------------------------------


def verify_p12(
    content: bytes,
    password: str | None,
    *,
    name: str,
    environment: ApnsEnvironment,
    now: dt.datetime,
    trust: AppleTrust | None = None,
) -> NewCredential:
    """``trust``: the CAs allowed to issue the certificate; Apple's (and the test setting's) by default."""
    from offline_push.apple_ca import apple_trust  # noqa: PLC0415 - see the imports
    from offline_push.push_credentials import open_p12, push_certificate_kind, push_identity  # noqa: PLC0415

    if password is None or password == "":
        raise PasswordRequired(
            "password is required for a .p12: a certificate without a password gets no push"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidRequest(f"password is longer than {MAX_PASSWORD_LENGTH} characters")
    certificate, _key = open_p12(content, password)
    (trust or apple_trust()).check_issued(certificate, now=now)
    kind = push_certificate_kind(certificate)
    bundle_id, push_kinds = push_identity(certificate)
    check_validity(certificate.not_valid_before_utc, certificate.not_valid_after_utc, now)
    check_servable(kind, environment)
    return NewCredential(
        type=CredentialType.P12,
        name=name,
        environment=environment,
        bundle_id=bundle_id,
        content=content,
        password=password,
        expires_at=certificate.not_valid_after_utc,
        push_kinds=ordered_push_kinds(push_kinds),
    )


def verify_p8(
    upload: CertificateUpload, content: bytes, *, name: str, environment: ApnsEnvironment
) -> NewCredential:
    from offline_push.push_credentials import load_p8_key  # noqa: PLC0415 - see the imports

    load_p8_key(content)
    key_id = check_apple_id(upload.key_id, "keyId", InvalidKeyId)
    team_id = check_apple_id(upload.team_id, "teamId", InvalidTeamId)
    bundle_id = check_bundle_id(upload.bundle_id)
    push_kinds = ALL_PUSH_KINDS
    if bundle_id.endswith(VOIP_TOPIC_SUFFIX):  # a key meant for the app's PushKit topic alone
        bundle_id = check_bundle_id(bundle_id.removesuffix(VOIP_TOPIC_SUFFIX))
        push_kinds = frozenset({PushKind.VOIP})
    return NewCredential(
        type=CredentialType.P8,
        name=name,
        environment=environment,
        bundle_id=bundle_id,
        content=content,
        key_id=key_id,
        team_id=team_id,
        push_kinds=ordered_push_kinds(push_kinds),
    )


def verify_upload(
    upload: CertificateUpload,
    *,
    now: dt.datetime,
    current: CertificateRecord | None = None,
    trust: AppleTrust | None = None,
) -> NewCredential:
    """Check every rule of an upload; ``current`` is the certificate a rotation replaces (its name and
    environment are kept when the upload omits them); ``trust`` as for :func:`verify_p12`."""
    name = check_name(upload.name if upload.name is not None or current is None else current.name)
    environment = check_environment(
        upload.environment if upload.environment is not None or current is None else current.environment.value
    )
    credential_type = credential_type_of(upload)
    content = check_content(upload.content)
    if credential_type is CredentialType.P12:
        return verify_p12(content, upload.password, name=name, environment=environment, now=now, trust=trust)
    return verify_p8(upload, content, name=name, environment=environment)


def check_rotation(current: CertificateRecord, replacement: NewCredential) -> None:
    """A rotation keeps the app and the environment the devices registered with."""
    if replacement.bundle_id != current.bundle_id:
        raise BundleIdMismatch(
            f"certificate {current.business_id} is for bundle ID {current.bundle_id}; the new file is for "
            f"{replacement.bundle_id}: upload it as a new certificate instead"
        )
    if replacement.environment is not current.environment:
        raise EnvironmentChange(
            f"certificate {current.business_id} is a {current.environment.value} certificate and stays one: "
            f"devices registered under it hold {current.environment.value} tokens; upload a new certificate "
            "for the other environment"
        )
    lost = [kind.value for kind in current.push_kinds if kind not in replacement.push_kinds]
    if lost:
        raise PushKindsNarrowed(
            f"certificate {current.business_id} serves {', '.join(k.value for k in current.push_kinds)} "
            f"pushes; the new file cannot serve {', '.join(lost)}, which devices registered under it rely "
            "on: upload it as a new certificate instead"
        )


# --- the API's operations -----------------------------------------------------------------------------------


class CertificateService:
    """What the certificate API does, one method per route."""

    def __init__(
        self, repository: CertificateRepository, *, clock: Callable[[], dt.datetime] = utc_now
    ) -> None:
        self.repository = repository
        self.clock = clock

    def create(self, sdk_app_id: int, upload: CertificateUpload) -> CertificateRecord:
        now = self.clock()
        credential = verify_upload(upload, now=now)
        return self.repository.create(sdk_app_id, credential, now=now)

    def list(self, sdk_app_id: int) -> list[CertificateRecord]:
        return self.repository.list(sdk_app_id)

    def get(self, sdk_app_id: int, business_id: int) -> CertificateRecord:
        return self.repository.get(sdk_app_id, business_id)

    def rotate(self, sdk_app_id: int, business_id: int, upload: CertificateUpload) -> CertificateRecord:
        now = self.clock()
        current = self.repository.get(sdk_app_id, business_id)
        credential = verify_upload(upload, now=now, current=current)
        check_rotation(current, credential)
        return self.repository.rotate(current, credential, now=now)

    def delete(self, sdk_app_id: int, business_id: int) -> None:
        self.repository.delete(sdk_app_id, business_id, now=self.clock())
