"""App settings in DynamoDB (the apps table), one item per sdkAppId.

Item shape, keyed by ``sdkAppId`` (S, the app's decimal id): ``kickPolicy`` (S: single|multi),
``placeholderLanguage`` (S: zh|en), ``userAuth`` (M: ``algorithm``, ``updatedAt``, ``publicKeySha256`` for
public keys; absent until a key is set), ``createdAt`` / ``updatedAt`` (ISO-8601 UTC). Key material is never
here: it is in Secrets Manager (:mod:`offline_push.dal.user_auth_key_store`).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from offline_push.errors import StorageError
from offline_push.models.app import (
    AppSettings,
    KickPolicy,
    PlaceholderLanguage,
    UserAuthAlgorithm,
    UserAuthInfo,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def settings_from_item(item: dict[str, Any]) -> AppSettings:
    """AppSettings from a low-level (typed) DynamoDB item."""
    user_auth: UserAuthInfo | None = None
    if "userAuth" in item:
        auth = item["userAuth"]["M"]
        user_auth = UserAuthInfo(
            algorithm=UserAuthAlgorithm(auth["algorithm"]["S"]),
            updated_at=dt.datetime.fromisoformat(auth["updatedAt"]["S"]),
            public_key_sha256=auth["publicKeySha256"]["S"] if "publicKeySha256" in auth else None,
        )
    return AppSettings(
        sdk_app_id=int(item["sdkAppId"]["S"]),
        kick_policy=KickPolicy(item.get("kickPolicy", {"S": KickPolicy.SINGLE.value})["S"]),
        placeholder_language=PlaceholderLanguage(
            item.get("placeholderLanguage", {"S": PlaceholderLanguage.ZH.value})["S"]
        ),
        user_auth=user_auth,
        created_at=dt.datetime.fromisoformat(item["createdAt"]["S"]),
        updated_at=dt.datetime.fromisoformat(item["updatedAt"]["S"]),
    )


class AppSettingsStore:
    def __init__(self, table_name: str, *, client: DynamoDBClient | None = None) -> None:
        self.table_name = table_name
        self._client = client

    @property
    def client(self) -> DynamoDBClient:
        if self._client is None:
            self._client = boto3.client("dynamodb")
        return self._client

    def get(self, sdk_app_id: int, *, consistent: bool = False) -> AppSettings | None:
        try:
            answer = self.client.get_item(
                TableName=self.table_name,
                Key={"sdkAppId": {"S": str(sdk_app_id)}},
                ConsistentRead=consistent,
            )
        except (ClientError, BotoCoreError) as exc:
            raise StorageError("app settings could not be read") from exc
        item = answer.get("Item")
        return settings_from_item(dict(item)) if item else None

    def list_all(self) -> list[AppSettings]:
        """Every app's settings, by sdkAppId (a scan: the table holds one small item per app)."""
        apps: list[AppSettings] = []
        request: dict[str, Any] = {"TableName": self.table_name}
        try:
            while True:
                page = self.client.scan(**request)
                apps += [settings_from_item(dict(item)) for item in page.get("Items", [])]
                if "LastEvaluatedKey" not in page:
                    break
                request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        except (ClientError, BotoCoreError) as exc:
            raise StorageError("app settings could not be read") from exc
        return sorted(apps, key=lambda settings: settings.sdk_app_id)

    def save(
        self,
        sdk_app_id: int,
        *,
        kick_policy: KickPolicy,
        placeholder_language: PlaceholderLanguage,
        user_auth: UserAuthInfo | None,
        now: dt.datetime,
    ) -> AppSettings:
        """Create or replace the app's settings; ``user_auth`` None keeps the key information already set
        (the key is write-only, so a client that read the settings cannot send it back)."""
        assignments = [
            "kickPolicy = :kickPolicy",
            "placeholderLanguage = :placeholderLanguage",
            "updatedAt = :now",
            "createdAt = if_not_exists(createdAt, :now)",
        ]
        values: dict[str, Any] = {
            ":kickPolicy": {"S": kick_policy.value},
            ":placeholderLanguage": {"S": placeholder_language.value},
            ":now": {"S": _iso(now)},
        }
        if user_auth is not None:
            auth: dict[str, Any] = {
                "algorithm": {"S": user_auth.algorithm.value},
                "updatedAt": {"S": _iso(user_auth.updated_at)},
            }
            if user_auth.public_key_sha256:
                auth["publicKeySha256"] = {"S": user_auth.public_key_sha256}
            assignments.append("userAuth = :userAuth")
            values[":userAuth"] = {"M": auth}
        try:
            answer = self.client.update_item(
                TableName=self.table_name,
                Key={"sdkAppId": {"S": str(sdk_app_id)}},
                UpdateExpression="SET " + ", ".join(assignments),
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except (ClientError, BotoCoreError) as exc:
            raise StorageError("app settings could not be saved") from exc
        return settings_from_item(dict(answer["Attributes"]))
