"""Certificate metadata in DynamoDB (the certificates table).

Item shape, keyed by ``sdkAppId`` (S, the app's decimal id) and ``businessId`` (N):
``name``, ``type`` (p12|p8), ``bundleId``, ``environment``, ``pushKinds`` (SS: ``alert``, ``voip``; absent
on items written before VoIP: alert for a p12, both for a p8), ``expiresAt``/``createdAt``/``updatedAt``
(ISO-8601 UTC), ``version`` (N), ``objectKey`` (S3 key of the file), ``encryptedPassword`` (B, KMS
ciphertext; p12 only), ``keyId``/``teamId`` (p8 only), ``staleObjectKeys`` (SS: files of replaced versions
not yet deleted from S3), ``deletedAt`` (S: a delete is in progress; the certificate no longer exists for
readers). The item with ``businessId`` 0 is the app's allocation counter (``lastBusinessId``), never a
certificate.

Allocation: a new certificate is written in one transaction with the counter moving from ``n`` to ``n + 1``
(conditional on it still being ``n``), so an id is taken exactly when its certificate exists, two uploads
can never get the same id, and since the counter only grows, a deleted id is never handed out again.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from offline_push.errors import CertificateNotFound, ConcurrentModification, StorageError
from offline_push.models.certificate import CertificateRecord, CredentialType, ordered_push_kinds
from offline_push.models.credential import ALL_PUSH_KINDS, ApnsEnvironment, PushKind

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, UpdateTypeDef

COUNTER_BUSINESS_ID = 0
# Allocation retries when another upload to the same app took the id first. Uploads are rare admin actions;
# ten rounds with jittered backoff absorb a burst of concurrent uploads to one app.
ALLOCATION_ATTEMPTS = 10

# Attributes a rotation may set or clear: everything describing the credential, nothing of its identity.
_CREDENTIAL_ATTRIBUTES = (
    "name",
    "type",
    "bundleId",
    "environment",
    "pushKinds",
    "expiresAt",
    "updatedAt",
    "objectKey",
    "encryptedPassword",
    "keyId",
    "teamId",
)


def record_from_item(item: dict[str, Any]) -> CertificateRecord:
    """A CertificateRecord from a low-level (typed) DynamoDB item."""

    def text(name: str) -> str | None:
        value = item.get(name)
        return None if value is None or "NULL" in value else str(value["S"])

    def moment(name: str) -> dt.datetime | None:
        value = text(name)
        return dt.datetime.fromisoformat(value) if value else None

    password = item.get("encryptedPassword")
    credential_type = CredentialType(str(text("type")))
    stored_kinds = item.get("pushKinds", {}).get("SS")
    if stored_kinds:
        kinds = frozenset(PushKind(kind) for kind in stored_kinds)
    else:
        kinds = ALL_PUSH_KINDS if credential_type is CredentialType.P8 else frozenset({PushKind.ALERT})
    return CertificateRecord(
        sdk_app_id=int(item["sdkAppId"]["S"]),
        business_id=int(item["businessId"]["N"]),
        name=str(text("name")),
        type=credential_type,
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
        push_kinds=ordered_push_kinds(kinds),
    )


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat()


def item_from_record(record: CertificateRecord) -> dict[str, AttributeValueTypeDef]:
    """The DynamoDB item of a certificate (the inverse of :func:`record_from_item`)."""
    item: dict[str, AttributeValueTypeDef] = {
        "sdkAppId": {"S": str(record.sdk_app_id)},
        "businessId": {"N": str(record.business_id)},
        "name": {"S": record.name},
        "type": {"S": record.type.value},
        "bundleId": {"S": record.bundle_id},
        "environment": {"S": record.environment.value},
        "pushKinds": {"SS": [kind.value for kind in record.push_kinds]},
        "createdAt": {"S": _iso(record.created_at)},
        "updatedAt": {"S": _iso(record.updated_at)},
        "version": {"N": str(record.version)},
        "objectKey": {"S": record.object_key},
    }
    if record.expires_at is not None:
        item["expiresAt"] = {"S": _iso(record.expires_at)}
    if record.encrypted_password is not None:
        item["encryptedPassword"] = {"B": record.encrypted_password}
    if record.key_id is not None:
        item["keyId"] = {"S": record.key_id}
    if record.team_id is not None:
        item["teamId"] = {"S": record.team_id}
    return item


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _cancellation_codes(exc: ClientError) -> list[str]:
    reasons = exc.response.get("CancellationReasons") or []
    return [str(reason.get("Code", "")) for reason in reasons]


class CertificateStore:
    """Reads and writes certificate metadata. Files and passwords are the repository's business."""

    def __init__(
        self,
        table_name: str,
        *,
        client: DynamoDBClient | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.table_name = table_name
        self._client = client
        self._sleep = sleep

    @property
    def client(self) -> DynamoDBClient:
        if self._client is None:
            self._client = boto3.client("dynamodb")
        return self._client

    def _key(self, sdk_app_id: int, business_id: int) -> dict[str, AttributeValueTypeDef]:
        return {"sdkAppId": {"S": str(sdk_app_id)}, "businessId": {"N": str(business_id)}}

    # --- reads ----------------------------------------------------------------------------------------------

    def get(self, sdk_app_id: int, business_id: int, *, consistent: bool = True) -> CertificateRecord:
        """The certificate ``business_id`` of app ``sdk_app_id``; :class:`CertificateNotFound` if none."""
        if business_id <= COUNTER_BUSINESS_ID:
            raise CertificateNotFound(f"no certificate {business_id} in app {sdk_app_id}")
        try:
            answer = self.client.get_item(
                TableName=self.table_name,
                Key=self._key(sdk_app_id, business_id),
                ConsistentRead=consistent,
            )
        except (ClientError, BotoCoreError) as exc:
            raise StorageError("certificate metadata could not be read") from exc
        item = answer.get("Item")
        if item is None or "deletedAt" in item:
            raise CertificateNotFound(f"no certificate {business_id} in app {sdk_app_id}")
        return record_from_item(dict(item))

    def list(self, sdk_app_id: int) -> list[CertificateRecord]:
        """Every certificate of the app, by businessId."""
        records: list[CertificateRecord] = []
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "sdkAppId = :app AND businessId > :counter",
            "FilterExpression": "attribute_not_exists(deletedAt)",
            "ExpressionAttributeValues": {
                ":app": {"S": str(sdk_app_id)},
                ":counter": {"N": str(COUNTER_BUSINESS_ID)},
            },
            "ConsistentRead": True,
        }
        try:
            while True:
                page = self.client.query(**request)
                records += [record_from_item(dict(item)) for item in page.get("Items", [])]
                if "LastEvaluatedKey" not in page:
                    return records
                request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        except (ClientError, BotoCoreError) as exc:
            raise StorageError("certificate metadata could not be read") from exc

    def certificate_counts(self) -> dict[int, int]:
        """How many certificates each app has, for every app that ever had one (0 once all are deleted).

        A scan of keys only: the table holds a few items per app, and this serves the console's app list."""
        counts: dict[int, int] = {}
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "ProjectionExpression": "sdkAppId, businessId, deletedAt",
        }
        try:
            while True:
                page = self.client.scan(**request)
                for item in page.get("Items", []):
                    app = int(item["sdkAppId"]["S"])
                    is_certificate = int(item["businessId"]["N"]) > COUNTER_BUSINESS_ID
                    counts[app] = counts.get(app, 0) + int(is_certificate and "deletedAt" not in item)
                if "LastEvaluatedKey" not in page:
                    return counts
                request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        except (ClientError, BotoCoreError) as exc:
            raise StorageError("certificate metadata could not be read") from exc

    def last_business_id(self, sdk_app_id: int) -> int:
        """The highest businessId ever allocated in the app (0 if none)."""
        try:
            answer = self.client.get_item(
                TableName=self.table_name,
                Key=self._key(sdk_app_id, COUNTER_BUSINESS_ID),
                ConsistentRead=True,
            )
        except (ClientError, BotoCoreError) as exc:
            raise StorageError("certificate metadata could not be read") from exc
        item = answer.get("Item") or {}
        return int(item["lastBusinessId"]["N"]) if "lastBusinessId" in item else 0

    # --- writes ---------------------------------------------------------------------------------------------

    def insert_with_new_id(
        self, sdk_app_id: int, build: Callable[[int], CertificateRecord]
    ) -> CertificateRecord:
        """Allocate the app's next businessId and write ``build(business_id)`` under it, atomically."""
        for attempt in range(ALLOCATION_ATTEMPTS):
            last = self.last_business_id(sdk_app_id)
            record = build(last + 1)
            if record.sdk_app_id != sdk_app_id or record.business_id != last + 1:
                raise ValueError("build() must return a record with the allocated ids")
            counter_values: dict[str, AttributeValueTypeDef] = {":next": {"N": str(last + 1)}}
            if last == 0:
                counter_condition = "attribute_not_exists(lastBusinessId)"
            else:
                counter_condition = "lastBusinessId = :last"
                counter_values[":last"] = {"N": str(last)}
            counter_update: UpdateTypeDef = {
                "TableName": self.table_name,
                "Key": self._key(sdk_app_id, COUNTER_BUSINESS_ID),
                "UpdateExpression": "SET lastBusinessId = :next",
                "ConditionExpression": counter_condition,
                "ExpressionAttributeValues": counter_values,
            }
            try:
                self.client.transact_write_items(
                    TransactItems=[
                        {"Update": counter_update},
                        {
                            "Put": {
                                "TableName": self.table_name,
                                "Item": item_from_record(record),
                                "ConditionExpression": "attribute_not_exists(businessId)",
                            }
                        },
                    ]
                )
            except ClientError as exc:
                lost_race = _error_code(exc) == "TransactionCanceledException" and any(
                    code in ("ConditionalCheckFailed", "TransactionConflict")
                    for code in _cancellation_codes(exc)
                )
                if not lost_race:
                    raise StorageError("certificate metadata could not be written") from exc
                # Another upload to this app took the id: back off a little and try the next one.
                self._sleep(random.uniform(0, 0.01 * 2 ** min(attempt, 5)))  # noqa: S311 - jitter
                continue
            except BotoCoreError as exc:
                raise StorageError("certificate metadata could not be written") from exc
            return record
        raise ConcurrentModification(
            f"too many certificates are being uploaded to app {sdk_app_id} at once: retry"
        )

    def replace(self, current: CertificateRecord, replacement: CertificateRecord) -> frozenset[str]:
        """Swap the credential of ``current`` for ``replacement`` (same ids, version + 1) if nobody changed
        or deleted it since it was read. The replaced file's key joins the item's stale keys; returns them."""
        if (replacement.sdk_app_id, replacement.business_id) != (current.sdk_app_id, current.business_id):
            raise ValueError("a rotation keeps the certificate's ids")
        item = item_from_record(replacement)
        names: dict[str, str] = {}
        values: dict[str, AttributeValueTypeDef] = {
            ":expected": {"N": str(current.version)},
            ":version": {"N": str(replacement.version)},
            ":replaced": {"SS": [current.object_key]},
        }
        assignments = ["version = :version"]
        removals = []
        for index, attribute in enumerate(_CREDENTIAL_ATTRIBUTES):
            names[f"#a{index}"] = attribute
            if attribute in item:
                values[f":v{index}"] = item[attribute]
                assignments.append(f"#a{index} = :v{index}")
            else:
                removals.append(f"#a{index}")
        expression = "SET " + ", ".join(assignments) + " ADD staleObjectKeys :replaced"
        if removals:
            expression += " REMOVE " + ", ".join(removals)
        try:
            answer = self.client.update_item(
                TableName=self.table_name,
                Key=self._key(current.sdk_app_id, current.business_id),
                UpdateExpression=expression,
                ConditionExpression="version = :expected AND attribute_not_exists(deletedAt)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if _error_code(exc) != "ConditionalCheckFailedException":
                raise StorageError("certificate metadata could not be written") from exc
            self.get(current.sdk_app_id, current.business_id)  # raises CertificateNotFound if it was deleted
            raise ConcurrentModification(
                f"certificate {current.business_id} was changed by another request meanwhile: retry"
            ) from None
        except BotoCoreError as exc:
            raise StorageError("certificate metadata could not be written") from exc
        stale = answer.get("Attributes", {}).get("staleObjectKeys", {}).get("SS", [])
        return frozenset(stale)

    def forget_stale(self, sdk_app_id: int, business_id: int, object_keys: frozenset[str]) -> None:
        """Drop keys of files that are now deleted from the item's stale keys."""
        if not object_keys:
            return
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=self._key(sdk_app_id, business_id),
                UpdateExpression="DELETE staleObjectKeys :gone",
                ConditionExpression="attribute_exists(businessId)",
                ExpressionAttributeValues={":gone": {"SS": sorted(object_keys)}},
            )
        except ClientError as exc:
            if _error_code(exc) == "ConditionalCheckFailedException":
                return  # deleted meanwhile: nothing left to tidy
            raise StorageError("certificate metadata could not be written") from exc
        except BotoCoreError as exc:
            raise StorageError("certificate metadata could not be written") from exc

    def mark_deleted(self, sdk_app_id: int, business_id: int, now: dt.datetime) -> frozenset[str]:
        """First step of a delete: from now on the certificate does not exist for readers. Returns the keys of
        every file it still has. Repeating it (a retried delete) is harmless."""
        if business_id <= COUNTER_BUSINESS_ID:
            raise CertificateNotFound(f"no certificate {business_id} in app {sdk_app_id}")
        try:
            answer = self.client.update_item(
                TableName=self.table_name,
                Key=self._key(sdk_app_id, business_id),
                UpdateExpression="SET deletedAt = if_not_exists(deletedAt, :now)",
                ConditionExpression="attribute_exists(businessId)",
                ExpressionAttributeValues={":now": {"S": _iso(now)}},
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if _error_code(exc) == "ConditionalCheckFailedException":
                raise CertificateNotFound(f"no certificate {business_id} in app {sdk_app_id}") from None
            raise StorageError("certificate metadata could not be written") from exc
        except BotoCoreError as exc:
            raise StorageError("certificate metadata could not be written") from exc
        attributes = answer.get("Attributes", {})
        keys = set(attributes.get("staleObjectKeys", {}).get("SS", []))
        if "objectKey" in attributes:
            keys.add(str(attributes["objectKey"]["S"]))
        return frozenset(keys)

    def remove(self, sdk_app_id: int, business_id: int) -> None:
        """Last step of a delete: the item goes, once its files are gone."""
        try:
            self.client.delete_item(
                TableName=self.table_name,
                Key=self._key(sdk_app_id, business_id),
                ConditionExpression="attribute_exists(deletedAt)",
            )
        except ClientError as exc:
            if _error_code(exc) == "ConditionalCheckFailedException":
                return  # already removed by a concurrent delete
            raise StorageError("certificate metadata could not be written") from exc
        except BotoCoreError as exc:
            raise StorageError("certificate metadata could not be written") from exc
