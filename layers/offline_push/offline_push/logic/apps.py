"""App settings: what an operator may set, and the cached view every function reads.

:class:`AppAdministration` is the admin side (validate, store the key in Secrets Manager and the rest in the
apps table). :class:`AppDirectory` is the read side used on every request and push: settings and user-auth
keys cached per warm container for a short time, so a change reaches every container within a minute and a
storm of requests costs no more than one read per app per minute.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from offline_push.errors import AppNotFound, InvalidRequest
from offline_push.models.app import (
    AppSettings,
    KickPolicy,
    PlaceholderLanguage,
    UserAuthAlgorithm,
    UserAuthInfo,
    UserAuthKey,
    VerificationKey,
)
from offline_push.untrusted import contain_panics

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

# RFC 7518 section 3.2: an HS256 key must be at least as long as the hash (32 bytes).
MIN_HMAC_SECRET_BYTES = 32
MAX_KEY_MATERIAL_BYTES = 8192
MIN_RSA_BITS = 2048

SETTINGS_TTL_SECONDS = 60.0
# Shorter for "no such app": a newly configured app should not wait a full minute to be usable.
MISSING_TTL_SECONDS = 10.0


class SettingsStore(Protocol):
    def get(self, sdk_app_id: int, *, consistent: bool = False) -> AppSettings | None: ...

    def save(
        self,
        sdk_app_id: int,
        *,
        kick_policy: KickPolicy,
        placeholder_language: PlaceholderLanguage,
        user_auth: UserAuthInfo | None,
        now: dt.datetime,
    ) -> AppSettings: ...


class AppCatalog(Protocol):
    """The apps' settings records, all of them (the console's app list)."""

    def list_all(self) -> list[AppSettings]: ...


class CertificateCounts(Protocol):
    def certificate_counts(self) -> dict[int, int]: ...


class KeyStore(Protocol):
    def put(self, sdk_app_id: int, key: UserAuthKey) -> None: ...

    def get(self, sdk_app_id: int) -> UserAuthKey | None: ...


@dataclass(frozen=True, slots=True)
class CheckedKey:
    """Key material that passed :func:`check_user_auth_key`, in canonical form, with its public facts."""

    key: UserAuthKey
    verification: bytes | RSAPublicKey | EllipticCurvePublicKey
    public_key_sha256: str | None


def check_user_auth_key(algorithm: UserAuthAlgorithm, material: str) -> CheckedKey:
    """Validate key material for ``algorithm``. Messages say what is wrong, never what was sent."""
    try:
        encoded = material.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidRequest("userAuth key material is not Unicode text (it has a lone surrogate)") from None
    if len(encoded) > MAX_KEY_MATERIAL_BYTES:
        raise InvalidRequest(f"userAuth key material is longer than {MAX_KEY_MATERIAL_BYTES} bytes")
    if algorithm is UserAuthAlgorithm.HS256:
        secret = encoded
        if len(secret) < MIN_HMAC_SECRET_BYTES:
            raise InvalidRequest(
                f"userAuth.secret must be at least {MIN_HMAC_SECRET_BYTES} bytes for HS256 (RFC 7518 3.2)"
            )
        return CheckedKey(UserAuthKey(algorithm, material), secret, None)
    # cryptography only for a public key: an HS256 secret, and every request that sets no key, go without it.
    from cryptography.exceptions import UnsupportedAlgorithm  # noqa: PLC0415
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, EllipticCurvePublicKey  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey  # noqa: PLC0415

    not_a_public_key = InvalidRequest(
        "userAuth.publicKey must be a PEM public key (-----BEGIN PUBLIC KEY-----); never send a private key"
    )
    try:
        with contain_panics(lambda: not_a_public_key):
            public_key = serialization.load_pem_public_key(encoded)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise not_a_public_key from None
    if algorithm is UserAuthAlgorithm.RS256:
        if not isinstance(public_key, RSAPublicKey):
            raise InvalidRequest("userAuth.publicKey must be an RSA key for RS256")
        if public_key.key_size < MIN_RSA_BITS:
            raise InvalidRequest(f"userAuth.publicKey must be at least {MIN_RSA_BITS} bits for RS256")
        verification: RSAPublicKey | EllipticCurvePublicKey = public_key
    else:
        if not isinstance(public_key, EllipticCurvePublicKey) or not isinstance(public_key.curve, SECP256R1):
            raise InvalidRequest("userAuth.publicKey must be an EC P-256 key for ES256")
        verification = public_key
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    pem = public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return CheckedKey(
        UserAuthKey(algorithm, pem.decode("ascii")), verification, hashlib.sha256(der).hexdigest()
    )


def verification_key(sdk_app_id: int, key: UserAuthKey) -> VerificationKey:
    checked = check_user_auth_key(key.algorithm, key.material)
    return VerificationKey(sdk_app_id=sdk_app_id, algorithm=key.algorithm, key=checked.verification)


class AppAdministration:
    """The admin API's rules for app settings."""

    def __init__(
        self,
        settings: SettingsStore,
        keys: KeyStore,
        *,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.settings = settings
        self.keys = keys
        self.clock = clock

    def configure(
        self,
        sdk_app_id: int,
        *,
        kick_policy: KickPolicy,
        placeholder_language: PlaceholderLanguage,
        user_auth: UserAuthKey | None,
    ) -> AppSettings:
        """Create or replace the app's settings. ``user_auth`` None keeps the key already set (if any).

        The key is validated before anything is written, and written to Secrets Manager before the
        settings record names it, so the record never describes a key that is not there.
        """
        now = self.clock()
        info: UserAuthInfo | None = None
        if user_auth is not None:
            checked = check_user_auth_key(user_auth.algorithm, user_auth.material)
            self.keys.put(sdk_app_id, checked.key)
            info = UserAuthInfo(
                algorithm=user_auth.algorithm, updated_at=now, public_key_sha256=checked.public_key_sha256
            )
        return self.settings.save(
            sdk_app_id,
            kick_policy=kick_policy,
            placeholder_language=placeholder_language,
            user_auth=info,
            now=now,
        )

    def describe(self, sdk_app_id: int) -> AppSettings:
        settings = self.settings.get(sdk_app_id, consistent=True)
        if settings is None:
            raise AppNotFound(f"app {sdk_app_id} has no settings")
        return settings


def list_apps(catalog: AppCatalog, certificates: CertificateCounts) -> list[dict[str, Any]]:
    """Every app this stack knows: configured (settings saved) or holding certificates, by sdkAppId.

    Each entry: ``sdkAppId``, ``certificates`` (how many), ``configured``, and the settings' public facts
    (``kickPolicy``, ``placeholderLanguage``, ``userAuth`` algorithm) when configured; never a key."""
    settings = {app.sdk_app_id: app for app in catalog.list_all()}
    counts = certificates.certificate_counts()
    apps = []
    for sdk_app_id in sorted(settings.keys() | counts.keys()):
        app = settings.get(sdk_app_id)
        apps.append(
            {
                "sdkAppId": sdk_app_id,
                "certificates": counts.get(sdk_app_id, 0),
                "configured": app is not None,
                "kickPolicy": app.kick_policy.value if app else None,
                "placeholderLanguage": app.placeholder_language.value if app else None,
                "userAuth": app.user_auth.algorithm.value if app and app.user_auth else None,
            }
        )
    return apps


@dataclass(slots=True)
class _Cached[T]:
    value: T
    expires: float


class AppDirectory:
    """Cached per-app settings and user-auth keys, for the functions' hot paths (one per warm container)."""

    def __init__(
        self,
        settings: SettingsStore,
        keys: KeyStore,
        *,
        ttl_seconds: float = SETTINGS_TTL_SECONDS,
        missing_ttl_seconds: float = MISSING_TTL_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings_store = settings
        self._keys = keys
        self.ttl_seconds = ttl_seconds
        self.missing_ttl_seconds = missing_ttl_seconds
        self._monotonic = monotonic
        self._settings: dict[int, _Cached[AppSettings | None]] = {}
        self._verification: dict[int, _Cached[VerificationKey | None]] = {}

    def _expiry(self, found: bool) -> float:
        return self._monotonic() + (self.ttl_seconds if found else self.missing_ttl_seconds)

    def settings(self, sdk_app_id: int) -> AppSettings | None:
        cached = self._settings.get(sdk_app_id)
        if cached is None or cached.expires <= self._monotonic():
            value = self._settings_store.get(sdk_app_id)
            cached = _Cached(value, self._expiry(value is not None))
            self._settings[sdk_app_id] = cached
        return cached.value

    def kick_policy(self, sdk_app_id: int) -> KickPolicy:
        settings = self.settings(sdk_app_id)
        return settings.kick_policy if settings else KickPolicy.SINGLE

    def placeholder_language(self, sdk_app_id: int) -> PlaceholderLanguage:
        settings = self.settings(sdk_app_id)
        return settings.placeholder_language if settings else PlaceholderLanguage.ZH

    def verification_key(self, sdk_app_id: int) -> VerificationKey | None:
        """The key that verifies the app's user tokens; None if the app has none (its users cannot log in).

        The settings record is read first (cached), so tokens naming unknown apps never reach Secrets
        Manager. A key whose algorithm disagrees with the record is not used: the record is what the operator
        sees, and a half-finished change must fail closed.
        """
        cached = self._verification.get(sdk_app_id)
        if cached is not None and cached.expires > self._monotonic():
            return cached.value
        value: VerificationKey | None = None
        settings = self.settings(sdk_app_id)
        if settings is not None and settings.user_auth is not None:
            stored = self._keys.get(sdk_app_id)
            if stored is not None and stored.algorithm is settings.user_auth.algorithm:
                value = verification_key(sdk_app_id, stored)
        self._verification[sdk_app_id] = _Cached(value, self._expiry(value is not None))
        return value
