"""The fleet's shared APNs provider tokens, in DynamoDB (the provider tokens table).

Item per signing key, keyed by ``tokenKey`` = ``<teamId>.<keyId>`` (S): ``issuedAt`` (N, the JWT's ``iat``),
``ciphertext`` (B, the JWT encrypted with KMS) and ``expiresAt`` (N, the table's TTL: an hour after
``iat``, when Apple stops accepting it).

The JWT is a bearer credential: for up to an hour it lets anyone push to every app of the team. Table
encryption at rest does not stop a principal that may read the table (an operator's read-only role, a
backup, an export) from using it, so it is stored encrypted with the data key under an encryption context
naming the key: reading it takes ``kms:Decrypt``, which only the dispatcher has. The cost is one KMS call
per token per instance and one per refresh, every ~50 minutes.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from offline_push.apns.tokens import APPLE_MAX_AGE, StoredProviderToken
from offline_push.errors import StorageError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_kms.client import KMSClient


class ProviderTokenStore:
    """Implements :class:`offline_push.apns.tokens.SharedTokenStore` with DynamoDB + KMS."""

    def __init__(
        self,
        table_name: str,
        kms_key_id: str,
        *,
        dynamodb: DynamoDBClient | None = None,
        kms: KMSClient | None = None,
    ) -> None:
        self.table_name = table_name
        self.kms_key_id = kms_key_id
        self._dynamodb = dynamodb
        self._kms = kms

    @property
    def dynamodb(self) -> DynamoDBClient:
        if self._dynamodb is None:
            self._dynamodb = boto3.client("dynamodb")
        return self._dynamodb

    @property
    def kms(self) -> KMSClient:
        if self._kms is None:
            self._kms = boto3.client("kms")
        return self._kms

    @staticmethod
    def _context(team_id: str, key_id: str) -> dict[str, str]:
        return {"purpose": "apns-provider-token", "teamId": team_id, "keyId": key_id}

    def get(self, team_id: str, key_id: str) -> StoredProviderToken | None:
        try:
            item = self.dynamodb.get_item(
                TableName=self.table_name,
                Key={"tokenKey": {"S": f"{team_id}.{key_id}"}},
                ConsistentRead=True,
            ).get("Item")
            if item is None:
                return None
            issued_at = int(item["issuedAt"]["N"])
            if time.time() - issued_at >= APPLE_MAX_AGE:
                return None  # TTL deletion lags: an expired item is as good as none
            plaintext = self.kms.decrypt(
                CiphertextBlob=item["ciphertext"]["B"],
                EncryptionContext=self._context(team_id, key_id),
                KeyId=self.kms_key_id,
            )["Plaintext"]
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"cannot read the provider token of key {key_id}") from exc
        return StoredProviderToken(plaintext.decode(), issued_at)

    def put_if_unchanged(
        self, team_id: str, key_id: str, token: StoredProviderToken, *, expected_issued_at: int | None
    ) -> bool:
        """Write ``token`` unless another writer replaced the one we saw; ``False`` if we lost the race."""
        try:
            ciphertext = self.kms.encrypt(
                KeyId=self.kms_key_id,
                Plaintext=token.token.encode(),
                EncryptionContext=self._context(team_id, key_id),
            )["CiphertextBlob"]
            if expected_issued_at is None:
                condition = "attribute_not_exists(tokenKey) OR issuedAt <= :stale"
                values = {":stale": {"N": str(int(time.time()) - APPLE_MAX_AGE)}}
            else:
                condition = "issuedAt = :seen"
                values = {":seen": {"N": str(expected_issued_at)}}
            self.dynamodb.put_item(
                TableName=self.table_name,
                Item={
                    "tokenKey": {"S": f"{team_id}.{key_id}"},
                    "issuedAt": {"N": str(token.issued_at)},
                    "ciphertext": {"B": ciphertext},
                    "expiresAt": {"N": str(token.issued_at + APPLE_MAX_AGE)},
                },
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise StorageError(f"cannot store the provider token of key {key_id}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"cannot store the provider token of key {key_id}") from exc
        return True
