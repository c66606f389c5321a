"""Credential files in S3 (SSE-KMS) and p12 passwords sealed with KMS.

Every upload gets a key of its own, ``credentials/<sdkAppId>/<random>.<p12|p8>``, never reused and never
overwritten: a rotation writes its new file beside the old one and the metadata switches from one to the
other in a single conditional write, so a reader always finds the file its metadata names.

The password is encrypted with the data key under an encryption context naming the app and the file's key:
the ciphertext opens only for that file, and CloudTrail shows which file each decryption was for.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from offline_push.errors import StorageError
from offline_push.models.certificate import CredentialType

if TYPE_CHECKING:
    from mypy_boto3_kms.client import KMSClient
    from mypy_boto3_s3.client import S3Client

OBJECT_PREFIX = "credentials"
PASSWORD_PURPOSE = "p12-password"  # noqa: S105 - a label, not a password


class CredentialFiles:
    def __init__(
        self,
        bucket: str,
        kms_key_id: str,
        *,
        s3: S3Client | None = None,
        kms: KMSClient | None = None,
    ) -> None:
        self.bucket = bucket
        self.kms_key_id = kms_key_id
        self._s3 = s3
        self._kms = kms

    @property
    def s3(self) -> S3Client:
        if self._s3 is None:
            self._s3 = boto3.client("s3")
        return self._s3

    @property
    def kms(self) -> KMSClient:
        if self._kms is None:
            self._kms = boto3.client("kms")
        return self._kms

    @staticmethod
    def new_object_key(sdk_app_id: int, credential_type: CredentialType) -> str:
        return f"{OBJECT_PREFIX}/{sdk_app_id}/{uuid.uuid4().hex}.{credential_type.value}"

    def put(self, object_key: str, content: bytes) -> None:
        try:
            self.s3.put_object(
                Bucket=self.bucket,
                Key=object_key,
                Body=content,
                ContentType="application/octet-stream",
                ServerSideEncryption="aws:kms",
                SSEKMSKeyId=self.kms_key_id,
                BucketKeyEnabled=True,
            )
        except (ClientError, BotoCoreError) as exc:
            raise StorageError("the credential file could not be stored") from exc

    def get(self, object_key: str) -> bytes:
        try:
            answer = self.s3.get_object(Bucket=self.bucket, Key=object_key)
            return answer["Body"].read()
        except (ClientError, BotoCoreError) as exc:
            raise StorageError("the credential file could not be read") from exc

    def delete(self, object_key: str) -> None:
        """Delete a file; deleting one that is already gone succeeds (S3 semantics), so retries are safe."""
        try:
            self.s3.delete_object(Bucket=self.bucket, Key=object_key)
        except (ClientError, BotoCoreError) as exc:
            raise StorageError("the credential file could not be deleted") from exc

    @staticmethod
    def _context(sdk_app_id: int, object_key: str) -> dict[str, str]:
        return {"purpose": PASSWORD_PURPOSE, "sdkAppId": str(sdk_app_id), "objectKey": object_key}

    def seal_password(self, password: str, *, sdk_app_id: int, object_key: str) -> bytes:
        try:
            answer = self.kms.encrypt(
                KeyId=self.kms_key_id,
                Plaintext=password.encode("utf-8"),
                EncryptionContext=self._context(sdk_app_id, object_key),
            )
        except (ClientError, BotoCoreError) as exc:
            raise StorageError("the password could not be encrypted") from exc
        return bytes(answer["CiphertextBlob"])

    def open_password(self, ciphertext: bytes, *, sdk_app_id: int, object_key: str) -> str:
        try:
            answer = self.kms.decrypt(
                KeyId=self.kms_key_id,
                CiphertextBlob=ciphertext,
                EncryptionContext=self._context(sdk_app_id, object_key),
            )
        except (ClientError, BotoCoreError) as exc:
            raise StorageError("the password could not be decrypted") from exc
        return bytes(answer["Plaintext"]).decode("utf-8")
