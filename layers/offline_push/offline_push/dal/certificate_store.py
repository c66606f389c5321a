"""Certificate metadata in DynamoDB (the certificates table).

Item shape, keyed by ``sdkAppId`` (S, the app's decimal id) and ``businessId`` (N):
``name``, ``type`` (p12|p8), ``bundleId``, ``environment``, ``expiresAt``/``createdAt``/``updatedAt``
(ISO-8601 UTC), ``version`` (N), ``objectKey`` (S3 key of the file), ``encryptedPassword`` (B, KMS
ciphertext; p12 only), ``keyId``/``teamId`` (p8 only). The item with ``businessId`` 0 is the app's
allocation counter (``lastBusinessId``), never a certificate.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from offline_push.errors import CertificateNotFound, StorageError
from offline_push.models.certificate import CertificateRecord, CredentialType
from offline_push.models.credential import ApnsEnvironment

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

COUNTER_BUSINESS_ID = 0


def record_from_item(item: dict[str, Any]) -> CertificateRecord:
    """A CertificateRecord from a low-level (typed) DynamoDB item."""

    def text(name: str) -> str | None:
        value = item.get(name)
        return None if value is None or "NULL" in value else str(value["S"])

    def moment(name: str) -> dt.datetime | None:
        value = text(name)
        return dt.datetime.fromisoformat(value) if value else None

    password = item.get("encryptedPassword")
    return CertificateRecord(
        sdk_app_id=int(item["sdkAppId"]["S"]),
        business_id=int(item["businessId"]["N"]),
        name=str(text("name")),
        type=CredentialType(str(text("type"))),
        bundle_id=str(text("bundleId")),
        environment=ApnsEnvironment(str(text("environment"))),
        expires_at=moment("expiresAt"),
        created_at=moment("createdAt") or dt.datetime.fromtimestamp(0, dt.UTC),
        updated_at=moment("updatedAt") or dt.datetime.fromtimestamp(0, dt.UTC),
        version=int(item.get("version", {"N": "1"})["N"]),
        object_key=str(text("objectKey")),
        key_id=text("keyId"),
        team_id=text("teamId"),
        encrypted_password=bytes(password["B"]) if password else None,
    )


class CertificateStore:
    """Reads (and, in the certificates component, writes) certificate metadata."""

    def __init__(self, table_name: str, *, client: DynamoDBClient | None = None) -> None:
        self.table_name = table_name
        self._client = client

    @property
    def client(self) -> DynamoDBClient:
        if self._client is None:
            self._client = boto3.client("dynamodb")
        return self._client

    def get(self, sdk_app_id: int, business_id: int, *, consistent: bool = True) -> CertificateRecord:
        """The certificate ``business_id`` of app ``sdk_app_id``; :class:`CertificateNotFound` if none."""
        if business_id <= COUNTER_BUSINESS_ID:
            raise CertificateNotFound(f"no certificate {business_id} in app {sdk_app_id}")
        try:
            answer = self.client.get_item(
                TableName=self.table_name,
                Key={"sdkAppId": {"S": str(sdk_app_id)}, "businessId": {"N": str(business_id)}},
                ConsistentRead=consistent,
            )
        except (ClientError, BotoCoreError) as exc:
            raise StorageError("certificate metadata could not be read") from exc
        if "Item" not in answer:
            raise CertificateNotFound(f"no certificate {business_id} in app {sdk_app_id}")
        return record_from_item(dict(answer["Item"]))
