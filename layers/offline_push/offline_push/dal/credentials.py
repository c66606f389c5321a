"""Load a stored credential by (sdkAppId, businessId) into what the APNs client needs, cached per warm
container.

The dispatcher keeps one :class:`CredentialLoader` for the life of its container::

    loader = CredentialLoader.from_environ()          # at cold start
    credential = loader.load(sdk_app_id, business_id)  # CertificateCredential | TokenCredential

How the cache learns of a rotation or a deletion: an entry is trusted for ``revalidate_after`` seconds
(``CREDENTIAL_REVALIDATE_SECONDS``, default 0: not beyond the load that read it). After that the next
``load`` reads the metadata item (one GetItem) and compares its ``version`` with the cached one: unchanged,
the entry is trusted again; changed (a rotation), the file is fetched from S3, the password decrypted with
KMS and the key parsed again. The dispatcher loads each credential once per invocation, so with the default
a warm dispatcher checks each certificate it uses once per invocation (one read per certificate and batch,
never per notification): a rotation is used, and a deleted certificate raises
:class:`~offline_push.errors.CertificateNotFound`, from the first invocation that starts after it. The
file is re-read only when it changed. :meth:`CredentialLoader.invalidate` forces the check on the next load
(e.g. when APNs rejects a certificate or a provider token). If the metadata cannot be read during a
revalidation, the cached credential keeps being used and the check is retried on the next load.

Every credential carries ``cache_key = "<sdkAppId>/<businessId>/v<version>"``: a rotated credential has a new
key, so connection pools keyed on it open new connections with the new certificate.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Self

from aws_lambda_powertools import Logger

from offline_push.dal.certificate_repository import CertificateRepository, CertificateStorageSettings
from offline_push.errors import CertificateNotFound, CredentialUnusable, OfflinePushError, StorageError
from offline_push.models.certificate import CertificateRecord, CredentialType
from offline_push.models.credential import ApnsCredential, CertificateCredential, TokenCredential
from offline_push.push_credentials import load_p8_key, open_p12


@cache
def _logger() -> Logger:
    # Made on first use rather than at import: the service name comes from the running function's environment.
    return Logger(child=True)


# Check the metadata on every load: once per certificate and invocation (see the module's notes).
DEFAULT_REVALIDATE_SECONDS = 0.0


class CredentialLoaderSettings(CertificateStorageSettings):
    credential_revalidate_seconds: float = DEFAULT_REVALIDATE_SECONDS


def credential_cache_key(record: CertificateRecord) -> str:
    return f"{record.sdk_app_id}/{record.business_id}/v{record.version}"


def build_credential(record: CertificateRecord, content: bytes, password: str | None) -> ApnsCredential:
    """The APNs client's view of a stored credential."""
    try:
        if record.type is CredentialType.P12:
            certificate, private_key = open_p12(content, password or "")
            return CertificateCredential(
                topic=record.bundle_id,
                environment=record.environment,
                certificate=certificate,
                private_key=private_key,
                push_kinds=frozenset(record.push_kinds),
                cache_key=credential_cache_key(record),
            )
        if record.key_id is None or record.team_id is None:
            raise CredentialUnusable("the stored .p8 key has no key ID or team ID")
        return TokenCredential(
            topic=record.bundle_id,
            environment=record.environment,
            key_id=record.key_id,
            team_id=record.team_id,
            signing_key=load_p8_key(content),
            push_kinds=frozenset(record.push_kinds),
            cache_key=credential_cache_key(record),
        )
    except OfflinePushError as exc:
        raise CredentialUnusable(
            f"certificate {record.business_id} of app {record.sdk_app_id} cannot be used: {exc.message}"
        ) from None


@dataclass(frozen=True)
class _Entry:
    credential: ApnsCredential
    version: int
    expires_at: dt.datetime | None
    checked_at: float  # monotonic seconds


class CredentialLoader:
    def __init__(
        self,
        repository: CertificateRepository,
        *,
        revalidate_after: float = DEFAULT_REVALIDATE_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.repository = repository
        self.revalidate_after = revalidate_after
        self._monotonic = monotonic
        self._clock = clock
        self._entries: dict[tuple[int, int], _Entry] = {}

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Self:
        settings = CredentialLoaderSettings.from_environ(environ)
        return cls(
            CertificateRepository.from_settings(settings),
            revalidate_after=settings.credential_revalidate_seconds,
        )

    def load(self, sdk_app_id: int, business_id: int) -> ApnsCredential:
        """The credential behind ``business_id`` of app ``sdk_app_id``.

        Raises :class:`CertificateNotFound` (no such certificate, or deleted), :class:`CredentialUnusable`
        (expired, or the stored file no longer opens) and :class:`StorageError` (AWS unavailable and nothing
        cached): each an :class:`OfflinePushError` whose code and message are a readable "why no push".
        """
        key = (sdk_app_id, business_id)
        entry = self._entries.get(key)
        now = self._monotonic()
        if entry is None or now - entry.checked_at >= self.revalidate_after:
            entry = self._revalidate(key, entry, now)
        if entry.expires_at is not None and self._clock() >= entry.expires_at:
            raise CredentialUnusable(
                f"certificate {business_id} of app {sdk_app_id} expired on "
                f"{entry.expires_at.astimezone(dt.UTC).isoformat().replace('+00:00', 'Z')}: upload a new one "
                "under the same id (PUT)"
            )
        return entry.credential

    def _revalidate(self, key: tuple[int, int], entry: _Entry | None, now: float) -> _Entry:
        try:
            record = self.repository.get(*key)
        except CertificateNotFound:
            self._entries.pop(key, None)
            raise
        except StorageError:
            if entry is None:
                raise
            _logger().warning(
                "certificate metadata unreadable; using the cached credential",
                extra={"sdkAppId": key[0], "businessId": key[1], "version": entry.version},
            )
            return entry
        if entry is not None and entry.version == record.version:
            fresh = _Entry(entry.credential, entry.version, entry.expires_at, now)
        else:
            content, password = self.repository.read_secret(record)
            fresh = _Entry(
                build_credential(record, content, password), record.version, record.expires_at, now
            )
            _logger().info(
                "credential loaded",
                extra={"sdkAppId": key[0], "businessId": key[1], "version": record.version},
            )
        self._entries[key] = fresh
        return fresh

    def invalidate(self, sdk_app_id: int, business_id: int) -> None:
        """Check the metadata again on the next load (the cached credential is kept if it is unchanged)."""
        entry = self._entries.get((sdk_app_id, business_id))
        if entry is not None:
            self._entries[(sdk_app_id, business_id)] = _Entry(
                entry.credential, entry.version, entry.expires_at, float("-inf")
            )

    def clear(self) -> None:
        self._entries.clear()
