"""The key that authenticates an app's users, in Secrets Manager: one secret per app.

The secret is named ``<prefix><sdkAppId>/user-auth`` (the prefix is the stack's, so IAM can grant exactly the
stack's secrets), encrypted with the stack's KMS key, and holds ``{"algorithm": ..., "key": ...}``. Nothing
read from or written to it reaches a log or an exception message.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from offline_push.errors import StorageError
from offline_push.models.app import UserAuthAlgorithm, UserAuthKey

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager.client import SecretsManagerClient


class UserAuthKeyStore:
    def __init__(
        self, prefix: str, *, kms_key_id: str | None = None, client: SecretsManagerClient | None = None
    ) -> None:
        self.prefix = prefix
        self.kms_key_id = kms_key_id
        self._client = client

    @property
    def client(self) -> SecretsManagerClient:
        if self._client is None:
            self._client = boto3.client("secretsmanager")
        return self._client

    def secret_name(self, sdk_app_id: int) -> str:
        return f"{self.prefix}{sdk_app_id}/user-auth"

    def put(self, sdk_app_id: int, key: UserAuthKey) -> None:
        """Create the app's secret, or store a new version of it (the previous one stays as AWSPREVIOUS)."""
        name = self.secret_name(sdk_app_id)
        value = json.dumps({"algorithm": key.algorithm.value, "key": key.material})
        try:
            try:
                description = f"offline-push: key verifying user tokens of app {sdk_app_id}"
                if self.kms_key_id:
                    self.client.create_secret(
                        Name=name, Description=description, SecretString=value, KmsKeyId=self.kms_key_id
                    )
                else:
                    self.client.create_secret(Name=name, Description=description, SecretString=value)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ResourceExistsException":
                    raise
                self.client.put_secret_value(SecretId=name, SecretString=value)
        except (ClientError, BotoCoreError) as exc:
            raise StorageError("the app's user-auth key could not be stored") from exc

    def get(self, sdk_app_id: int) -> UserAuthKey | None:
        """The app's current key; None if the app has none."""
        try:
            answer = self.client.get_secret_value(SecretId=self.secret_name(sdk_app_id))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return None
            raise StorageError("the app's user-auth key could not be read") from exc
        except BotoCoreError as exc:
            raise StorageError("the app's user-auth key could not be read") from exc
        try:
            document = json.loads(answer["SecretString"])
            return UserAuthKey(algorithm=UserAuthAlgorithm(document["algorithm"]), material=document["key"])
        except (KeyError, ValueError, TypeError):
            # Say which secret, never what is in it.
            raise StorageError(f"secret {self.secret_name(sdk_app_id)} is not a user-auth key") from None
