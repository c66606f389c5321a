"""Certificates as a whole: metadata (DynamoDB), file (S3, SSE-KMS) and sealed password (KMS), written in an
order that leaves nothing half-written when a step fails.

- Create: seal the password, write the file under a fresh key, then one DynamoDB transaction allocates the
  businessId and writes the metadata. Until that transaction commits the file is referenced by nothing and
  is deleted again if it fails; once it commits, the metadata names a file that exists. Metadata without its
  file never exists, and a failed create leaves neither metadata nor counter change.
- Rotate: the new file is written under a new key, then the metadata switches to it in one conditional
  update (on the version that was read: two rotations cannot both win). The old file's key is kept in the
  item's ``staleObjectKeys`` until the old file is deleted, so a failure to delete it is repaired by the next
  rotation or delete instead of leaving an untracked file.
- Delete: mark the item deleted (readers stop seeing it), delete every file it names, then the item. If a file
  cannot be deleted the request fails with 503, the item stays marked, and repeating the delete finishes it.

The one window left is a create or rotate whose metadata write fails *and* whose cleanup of the new,
unreferenced file fails too: that is logged as an error naming the object key.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from functools import cache
from typing import Self

from aws_lambda_powertools import Logger

from offline_push.dal.certificate_store import CertificateStore
from offline_push.dal.credential_files import CredentialFiles
from offline_push.errors import StorageError
from offline_push.models.certificate import CertificateRecord, CredentialType, NewCredential
from offline_push.settings import EnvSettings


@cache
def _logger() -> Logger:
    # Made on first use rather than at import: the service name comes from the running function's environment.
    return Logger(child=True)


class CertificateStorageSettings(EnvSettings):
    """Where certificates live: template.yaml sets these with ``!Ref``."""

    certificates_table: str
    certificate_bucket: str
    kms_key_id: str


class CertificateRepository:
    def __init__(self, store: CertificateStore, files: CredentialFiles) -> None:
        self.store = store
        self.files = files

    @classmethod
    def from_settings(cls, settings: CertificateStorageSettings) -> Self:
        return cls(
            CertificateStore(settings.certificates_table),
            CredentialFiles(settings.certificate_bucket, settings.kms_key_id),
        )

    # --- reads ----------------------------------------------------------------------------------------------

    def get(self, sdk_app_id: int, business_id: int) -> CertificateRecord:
        return self.store.get(sdk_app_id, business_id)

    def list(self, sdk_app_id: int) -> list[CertificateRecord]:
        return self.store.list(sdk_app_id)

    def read_secret(self, record: CertificateRecord) -> tuple[bytes, str | None]:
        """The stored file and, for a p12, its password. Only the credential loader calls this."""
        content = self.files.get(record.object_key)
        password = None
        if record.encrypted_password is not None:
            password = self.files.open_password(
                record.encrypted_password, sdk_app_id=record.sdk_app_id, object_key=record.object_key
            )
        return content, password

    # --- writes ---------------------------------------------------------------------------------------------

    def _store_file(self, sdk_app_id: int, credential: NewCredential) -> tuple[str, bytes | None]:
        """Seal the password and write the file under a fresh key; nothing references it yet."""
        object_key = self.files.new_object_key(sdk_app_id, credential.type)
        sealed = None
        if credential.type is CredentialType.P12:
            if credential.password is None:
                raise ValueError("a p12 credential carries its password")
            sealed = self.files.seal_password(
                credential.password, sdk_app_id=sdk_app_id, object_key=object_key
            )
        self.files.put(object_key, credential.content)
        return object_key, sealed

    def _discard(self, object_key: str) -> None:
        """Delete a file no metadata references (its metadata write failed)."""
        try:
            self.files.delete(object_key)
        except StorageError:
            _logger().error(
                "credential file left behind: delete it by hand",
                extra={"bucket": self.files.bucket, "objectKey": object_key},
            )

    @staticmethod
    def _record(
        sdk_app_id: int,
        business_id: int,
        credential: NewCredential,
        *,
        object_key: str,
        sealed_password: bytes | None,
        version: int,
        created_at: dt.datetime,
        updated_at: dt.datetime,
    ) -> CertificateRecord:
        return CertificateRecord(
            sdk_app_id=sdk_app_id,
            business_id=business_id,
            name=credential.name,
            type=credential.type,
            bundle_id=credential.bundle_id,
            environment=credential.environment,
            expires_at=credential.expires_at,
            created_at=created_at,
            updated_at=updated_at,
            version=version,
            object_key=object_key,
            key_id=credential.key_id,
            team_id=credential.team_id,
            encrypted_password=sealed_password,
            push_kinds=credential.push_kinds,
        )

    def create(self, sdk_app_id: int, credential: NewCredential, *, now: dt.datetime) -> CertificateRecord:
        """Store a new certificate under the app's next businessId."""
        object_key, sealed = self._store_file(sdk_app_id, credential)
        try:
            return self.store.insert_with_new_id(
                sdk_app_id,
                lambda business_id: self._record(
                    sdk_app_id,
                    business_id,
                    credential,
                    object_key=object_key,
                    sealed_password=sealed,
                    version=1,
                    created_at=now,
                    updated_at=now,
                ),
            )
        except Exception:
            self._discard(object_key)
            raise

    def rotate(
        self, current: CertificateRecord, credential: NewCredential, *, now: dt.datetime
    ) -> CertificateRecord:
        """Replace the credential of ``current`` (as read: a concurrent change makes this fail)."""
        object_key, sealed = self._store_file(current.sdk_app_id, credential)
        replacement = self._record(
            current.sdk_app_id,
            current.business_id,
            credential,
            object_key=object_key,
            sealed_password=sealed,
            version=current.version + 1,
            created_at=current.created_at,
            updated_at=now,
        )
        try:
            stale = self.store.replace(current, replacement)
        except Exception:
            self._discard(object_key)
            raise
        self._delete_stale(current.sdk_app_id, current.business_id, stale - {object_key})
        return replacement

    def _delete_stale(self, sdk_app_id: int, business_id: int, object_keys: Iterable[str]) -> None:
        """Delete replaced files. A failure is not the caller's: the rotation stands, and the key stays in
        ``staleObjectKeys`` for the next rotation or delete to finish."""
        deleted: set[str] = set()
        for object_key in sorted(object_keys):
            try:
                self.files.delete(object_key)
            except StorageError:
                _logger().warning(
                    "replaced credential file not deleted yet; the next rotation or delete retries",
                    extra={"sdkAppId": sdk_app_id, "businessId": business_id, "objectKey": object_key},
                )
            else:
                deleted.add(object_key)
        try:
            self.store.forget_stale(sdk_app_id, business_id, frozenset(deleted))
        except StorageError:
            _logger().warning(
                "stale file keys not cleared; deleting an absent file later is harmless",
                extra={"sdkAppId": sdk_app_id, "businessId": business_id},
            )

    def delete(self, sdk_app_id: int, business_id: int, *, now: dt.datetime) -> None:
        """Delete the certificate and every file it has. Safe to repeat after a failure."""
        object_keys = self.store.mark_deleted(sdk_app_id, business_id, now)
        for object_key in sorted(object_keys):
            self.files.delete(object_key)
        self.store.remove(sdk_app_id, business_id)
