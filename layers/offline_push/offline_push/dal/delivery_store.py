"""Deliveries in DynamoDB (the deliveries table): claims, outcomes, run markers, and the operator's reads.

Items (``pk``, ``sk`` strings; every item expires by TTL, ``expiresAt``, after ``DELIVERY_RECORD_DAYS``):

- **delivery** ``pk = m#<sdkAppId>#<shard>#<msgKey>``, ``sk = d#<sha256(token)[:32]>#<userId>``: one per
  notification *not delivered* (failed, retrying), written by its unit's owner; and one per notification of
  a job resending another job's MsgKey to new receivers, claimed before it is sent (conditional put: the
  key is (sdkAppId, MsgKey, receiver, token)). ``shard`` (00-15, from the receiver) spreads a large group's
  items over 16 partition keys. Attributes: ``sdkAppId``, ``msgKey``, ``userId``, ``user``
  (``<sdkAppId>#<userId>``), ``device`` (a token hint, never the whole token), ``businessId``,
  ``environment``, ``apnsId``, ``state``, ``run``, ``lease``, ``attempt``, ``badge``,
  ``reason``/``status``/``cause``, ``registrationRemoved``, ``retryAt``, ``claimedAt``, ``pushKind``
  (``voip`` for a call's VoIP push; absent for an alert), and ``at`` when the item is listed in the
  receiver's deliveries.
- **receiver record** ``sk = u#<userId>`` in the same partitions: a receiver the message gave nothing to
  (``noDevice``, ``noPush``), written by earlier releases; still read, no longer written (the message info
  counts these receivers).
- **message info** ``pk = i#<sdkAppId>#<msgKey>``, ``sk = c#<chunk id>``: counts a message's chunk has
  beyond its deliveries (receivers without a device, a job-level no-push, an invalid job); a call
  invitation's also ``pushKind`` (``voip``) and ``noVoip`` (receivers without a PushKit token).
- **unit of work** ``pk = i#<sdkAppId>#<msgKey>``, ``sk = u#<chunk id>``, or the **job item** ``sk = j#``:
  the claim of a job's chunk (``run``, ``lease``, ``notifications``, ``orphans``),
  one conditional write instead of one per notification; the job item names the job holding the MsgKey
  (``job``: its digest) and its receivers (``receivers``: 8 bytes of SHA-256 each, 80 KB for 10,000), and is
  the job's unit too when the job is not split. A delivery item of a unit (failed, retrying) carries ``unit``.
- **run marker** ``pk = run#<run>``, ``sk = -``: the run finished recording its outcomes. A ``pending``
  delivery of a finished run was delivered, and so was every notification of a unit it owns that has no
  delivery item: no write per delivered notification.

The global secondary index ``ByUser`` (``user``, ``at``) lists a receiver's deliveries newest first; it is
sparse: only items with ``at`` (failures, retries, receiver records) are in it.

Claims and outcomes are single-item conditional writes run in parallel: DynamoDB bills them per item
(1 WRU each up to 1 KB, half of a transactional write), one duplicate never cancels a hundred others, and
a refused condition returns the existing item (``ReturnValuesOnConditionCheckFailure``).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Final

import boto3
from aws_lambda_powertools import Logger
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from offline_push.errors import StorageError
from offline_push.models.credential import PushKind
from offline_push.models.delivery import (
    MESSAGE_SHARDS,
    RECEIVER_DIGEST_BYTES,
    Claim,
    Delivery,
    DeliveryKey,
    DeliveryState,
    MessageInfo,
    OutcomeUpdate,
    StoredDelivery,
    StoredUnit,
    TakeOver,
    UnitClaim,
    UnitTakeOver,
    message_shard,
    receiver_digest,
    token_digest,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

logger = Logger(child=True)

# Parallel single-item writes: enough to hide DynamoDB's few-millisecond latency behind each other.
WORKERS: Final = 32
BATCH_WRITE_LIMIT: Final = 25
BATCH_GET_LIMIT: Final = 100
BY_USER_INDEX: Final = "ByUser"
MAX_BATCH_ATTEMPTS: Final = 8


class Claimed:
    """The conditional write succeeded: this run owns the delivery."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "CLAIMED"


CLAIMED: Final = Claimed()
ClaimResult = Claimed | StoredDelivery | StorageError
UnitClaimResult = Claimed | StoredUnit | StorageError


def delivery_pk(sdk_app_id: int, msg_key: str, user_id: str) -> str:
    return f"m#{sdk_app_id}#{message_shard(user_id):02d}#{msg_key}"


def delivery_item_key(key: DeliveryKey) -> dict[str, Any]:
    return {
        "pk": {"S": delivery_pk(key.sdk_app_id, key.msg_key, key.user_id)},
        "sk": {"S": f"d#{token_digest(key.token)}#{key.user_id}"},
    }


def unit_key(sdk_app_id: int, msg_key: str, unit: str) -> dict[str, Any]:
    return {"pk": {"S": f"i#{sdk_app_id}#{msg_key}"}, "sk": {"S": unit}}


def marker_key(run: str) -> dict[str, Any]:
    return {"pk": {"S": f"run#{run}"}, "sk": {"S": "-"}}


def user_partition(sdk_app_id: int, user_id: str) -> str:
    return f"{sdk_app_id}#{user_id}"


def _delivery_identity(delivery: Delivery) -> dict[str, Any]:
    """The attributes every delivery item carries: its key, whom and where it goes, and its badge."""
    key = delivery.key
    item: dict[str, Any] = {
        **delivery_item_key(key),
        "sdkAppId": _n(key.sdk_app_id),
        "msgKey": _s(key.msg_key),
        "userId": _s(key.user_id),
        "user": _s(user_partition(key.sdk_app_id, key.user_id)),
        "device": _s(key.device),
        "businessId": _n(delivery.business_id),
        "environment": _s(delivery.environment.value),
        "apnsId": _s(key.apns_id),
        "attempt": _n(delivery.attempt),
    }
    if delivery.badge is not None:
        item["badge"] = _n(delivery.badge)
    if delivery.push_kind is not PushKind.ALERT:
        item["pushKind"] = _s(delivery.push_kind.value)
    return item


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def stored_from_item(item: Mapping[str, Any]) -> StoredDelivery:
    """A delivery or receiver item (low-level attribute values) -> :class:`StoredDelivery`."""

    def text(name: str) -> str | None:
        value = item.get(name)
        return str(value["S"]) if value is not None and "S" in value else None

    def number(name: str) -> int | None:
        value = item.get(name)
        return int(value["N"]) if value is not None and "N" in value else None

    return StoredDelivery(
        sdk_app_id=number("sdkAppId") or 0,
        msg_key=text("msgKey") or "",
        user_id=text("userId") or "",
        state=DeliveryState(text("state") or DeliveryState.PENDING.value),
        run=text("run") or "",
        lease=number("lease") or 0,
        attempt=number("attempt") or 1,
        badge=number("badge"),
        device=text("device"),
        business_id=number("businessId"),
        environment=text("environment"),
        push_kind=text("pushKind"),
        apns_id=text("apnsId"),
        reason=text("reason"),
        status=number("status"),
        cause=text("cause"),
        registration_removed=bool(item.get("registrationRemoved", {}).get("BOOL", False)),
        retry_at=number("retryAt"),
        at=number("at") or number("claimedAt") or 0,
        unit=text("unit"),
        updated_at=number("updatedAt"),
    )


def stored_unit_from_item(item: Mapping[str, Any]) -> StoredUnit:
    """A unit or job item (low-level attribute values) -> :class:`StoredUnit`."""

    def number(name: str) -> int:
        value = item.get(name)
        return int(value["N"]) if value is not None and "N" in value else 0

    blob = bytes(item.get("receivers", {}).get("B", b""))
    size = RECEIVER_DIGEST_BYTES
    run = item.get("run", {}).get("S")
    return StoredUnit(
        sdk_app_id=number("sdkAppId"),
        msg_key=str(item.get("msgKey", {}).get("S", "")),
        unit=str(item["sk"]["S"]),
        run=str(run) if run is not None else None,
        lease=number("lease"),
        notifications=number("notifications"),
        orphans=bool(item.get("orphans", {}).get("BOOL", False)),
        job=item.get("job", {}).get("S"),
        receivers=frozenset(blob[start : start + size] for start in range(0, len(blob), size)),
        at=number("at"),
    )


class DeliveryStore:
    def __init__(
        self,
        table_name: str,
        *,
        record_seconds: int,
        client: DynamoDBClient | None = None,
        workers: int = WORKERS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.table_name = table_name
        self.record_seconds = record_seconds
        self.workers = workers
        self._client = client
        self._sleep = sleep
        self._executor: ThreadPoolExecutor | None = None

    @property
    def client(self) -> DynamoDBClient:
        if self._client is None:
            config = Config(
                max_pool_connections=self.workers, retries={"mode": "standard", "max_attempts": 5}
            )
            self._client = boto3.client("dynamodb", config=config)
        return self._client

    def _map[T, R](self, function: Callable[[T], R], items: Sequence[T]) -> list[R]:
        if len(items) <= 1:
            return [function(item) for item in items]
        _ = self.client  # created once, before the threads share it (boto3 clients are thread-safe)
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="deliveries")
        return list(self._executor.map(function, items))

    def _expires_at(self, now_ms: int) -> dict[str, str]:
        return _n(now_ms // 1000 + self.record_seconds)

    # --- claims ---------------------------------------------------------------------------------------

    def claim(self, claims: Sequence[Claim]) -> list[ClaimResult]:
        """Claim each delivery unless it exists; an existing one is returned as it is stored."""
        return self._map(self._claim_one, claims)

    def _claim_one(self, claim: Claim) -> ClaimResult:
        item: dict[str, Any] = {
            **_delivery_identity(claim.delivery),
            "state": _s(DeliveryState.PENDING.value),
            "run": _s(claim.run),
            "lease": _n(claim.lease),
            "claimedAt": _n(claim.now_ms),
            "expiresAt": self._expires_at(claim.now_ms),
        }
        if claim.indexed:
            item["at"] = _n(claim.now_ms)
        if claim.unit is not None:
            item["unit"] = _s(claim.unit)
        stored = self._put_if_absent(item, "a delivery")
        if isinstance(stored, StorageError):
            return stored
        return CLAIMED if stored is None else stored_from_item(stored)

    def _put_if_absent(self, item: dict[str, Any], what: str) -> Mapping[str, Any] | StorageError | None:
        """Write ``item`` unless its key exists: None when written, the stored item when it exists."""
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=item,
                ConditionExpression="attribute_not_exists(pk)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if _error_code(exc) != "ConditionalCheckFailedException":
                return StorageError(f"{what} could not be claimed")
            old: Mapping[str, Any] | None = exc.response.get("Item")  # type: ignore[assignment]
            if not old:
                # The condition failed but no item came back: DynamoDB returns it, so this is a rare anomaly;
                # treat it as a claim we cannot make now (the job is retried).
                return StorageError(f"{what}'s claim was refused without the item")
            return old
        except BotoCoreError:
            return StorageError(f"{what} could not be claimed")
        return None

    @staticmethod
    def _existing(exc: ClientError) -> ClaimResult:
        old: Mapping[str, Any] | None = exc.response.get("Item")  # type: ignore[assignment]
        if not old:
            # The condition failed but no item came back: DynamoDB returns it, so this is a rare anomaly;
            # treat it as a claim we cannot make now (the job is retried).
            return StorageError("a delivery's claim was refused without the item")
        return stored_from_item(old)

    def take_over(self, takeovers: Sequence[TakeOver]) -> list[ClaimResult]:
        """Take over claimed deliveries (see :class:`TakeOver`); the current item when the condition fails."""
        return self._map(self._take_over_one, takeovers)

    def _take_over_one(self, takeover: TakeOver) -> ClaimResult:
        delivery = takeover.delivery
        names = {
            "#run": "run",
            "#lease": "lease",
            "#state": "state",
            "#attempt": "attempt",
            "#businessId": "businessId",
            "#environment": "environment",
            "#updatedAt": "updatedAt",
            "#reason": "reason",
            "#status": "status",
            "#cause": "cause",
            "#retryAt": "retryAt",
        }
        values: dict[str, Any] = {
            ":run": _s(takeover.run),
            ":lease": _n(takeover.lease),
            ":pending": _s(DeliveryState.PENDING.value),
            ":retrying": _s(DeliveryState.RETRYING.value),
            ":attempt": _n(delivery.attempt),
            ":businessId": _n(delivery.business_id),
            ":environment": _s(delivery.environment.value),
            ":now": _n(takeover.now_ms),
        }
        assignments = [
            "#run = :run",
            "#lease = :lease",
            "#state = :pending",
            "#attempt = :attempt",
            "#businessId = :businessId",
            "#environment = :environment",
            "#updatedAt = :now",
        ]
        if delivery.badge is not None:
            names["#badge"] = "badge"
            values[":badge"] = _n(delivery.badge)
            assignments.append("#badge = :badge")
        if takeover.indexed:
            names["#at"] = "at"
            assignments.append("#at = if_not_exists(#at, :now)")
        if takeover.retry_of is not None:
            condition = "#run = :gen AND #state IN (:pending, :retrying)"
            values[":gen"] = _s(takeover.retry_of)
        elif takeover.seen_run is not None:
            # A lease ending this second is over, as stage 3 and the deliveries API read it.
            condition = "#run = :seen AND #state IN (:pending, :retrying) AND #lease <= :nowSeconds"
            values[":seen"] = _s(takeover.seen_run)
            values[":nowSeconds"] = _n(takeover.now_ms // 1000)
        else:
            raise ValueError("a take-over needs retry_of or seen_run")
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=delivery_item_key(delivery.key),
                UpdateExpression="SET "
                + ", ".join(assignments)
                + " REMOVE #reason, #status, #cause, #retryAt",
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if _error_code(exc) == "ConditionalCheckFailedException":
                if "Item" not in exc.response:
                    # A retry of a delivery whose item expired (TTL): nothing left to take over.
                    key = delivery.key
                    return StoredDelivery(
                        key.sdk_app_id, key.msg_key, key.user_id, DeliveryState.FAILED, reason="RecordExpired"
                    )
                return self._existing(exc)
            return StorageError("a delivery could not be taken over")
        except BotoCoreError:
            return StorageError("a delivery could not be taken over")
        return CLAIMED

    # --- units of work -----------------------------------------------------------------------------------

    def claim_units(self, claims: Sequence[UnitClaim]) -> list[UnitClaimResult]:
        """Claim each unit (or job) unless it exists; an existing one is returned as it is stored."""
        return self._map(self._claim_unit_one, claims)

    def _claim_unit_one(self, claim: UnitClaim) -> UnitClaimResult:
        item: dict[str, Any] = {
            **unit_key(claim.sdk_app_id, claim.msg_key, claim.unit),
            "sdkAppId": _n(claim.sdk_app_id),
            "msgKey": _s(claim.msg_key),
            "at": _n(claim.now_ms),
            "expiresAt": self._expires_at(claim.now_ms),
        }
        if claim.run is not None:
            item.update(
                {"run": _s(claim.run), "lease": _n(claim.lease), "notifications": _n(claim.notifications)}
            )
        if claim.job is not None:
            item["job"] = _s(claim.job)
            item["receivers"] = {"B": b"".join(receiver_digest(user) for user in claim.receivers)}
        stored = self._put_if_absent(item, "a unit of work")
        if isinstance(stored, StorageError):
            return stored
        return CLAIMED if stored is None else stored_unit_from_item(stored)

    def take_over_units(self, takeovers: Sequence[UnitTakeOver]) -> list[UnitClaimResult]:
        """Take units over (see :class:`UnitTakeOver`); the current item when the condition fails."""
        return self._map(self._take_over_unit_one, takeovers)

    def _take_over_unit_one(self, takeover: UnitTakeOver) -> UnitClaimResult:
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=unit_key(takeover.sdk_app_id, takeover.msg_key, takeover.unit),
                UpdateExpression="SET #run = :run, #lease = :lease, #notifications = :notifications, "
                "#updatedAt = :now REMOVE #orphans",
                ConditionExpression="#run = :seen AND (#lease <= :nowSeconds OR #orphans = :true)",
                ExpressionAttributeNames={
                    "#run": "run",
                    "#lease": "lease",
                    "#notifications": "notifications",
                    "#updatedAt": "updatedAt",
                    "#orphans": "orphans",
                },
                ExpressionAttributeValues={
                    ":run": _s(takeover.run),
                    ":lease": _n(takeover.lease),
                    ":notifications": _n(takeover.notifications),
                    ":now": _n(takeover.now_ms),
                    ":seen": _s(takeover.seen_run),
                    ":nowSeconds": _n(takeover.now_ms // 1000),
                    ":true": {"BOOL": True},
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if _error_code(exc) == "ConditionalCheckFailedException":
                old: Mapping[str, Any] | None = exc.response.get("Item")  # type: ignore[assignment]
                return stored_unit_from_item(old) if old else StorageError("a unit's take-over was refused")
            return StorageError("a unit of work could not be taken over")
        except BotoCoreError:
            return StorageError("a unit of work could not be taken over")
        return CLAIMED

    def mark_orphans(self, sdk_app_id: int, msg_key: str, unit: str, run: str) -> None:
        """The unit left retries its run could not queue: the job's redelivery takes them over."""
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=unit_key(sdk_app_id, msg_key, unit),
                UpdateExpression="SET #orphans = :true",
                ConditionExpression="#run = :run",
                ExpressionAttributeNames={"#orphans": "orphans", "#run": "run"},
                ExpressionAttributeValues={":true": {"BOOL": True}, ":run": _s(run)},
            )
        except ClientError as exc:
            if _error_code(exc) == "ConditionalCheckFailedException":
                return  # another run took the unit over
            raise StorageError("a unit's orphaned retries could not be marked") from exc
        except BotoCoreError as exc:
            raise StorageError("a unit's orphaned retries could not be marked") from exc

    def deliveries_of(self, keys: Sequence[DeliveryKey]) -> dict[DeliveryKey, StoredDelivery]:
        """The delivery items that exist among ``keys`` (strongly consistent reads, 100 per request)."""
        by_key = {
            (item_key["pk"]["S"], item_key["sk"]["S"]): key
            for key in keys
            for item_key in (delivery_item_key(key),)
        }
        wanted = [delivery_item_key(key) for key in dict.fromkeys(keys)]
        found: dict[DeliveryKey, StoredDelivery] = {}
        for start in range(0, len(wanted), BATCH_GET_LIMIT):
            for item in self._batch_get(wanted[start : start + BATCH_GET_LIMIT], consistent=True):
                key = by_key.get((str(item["pk"]["S"]), str(item["sk"]["S"])))
                if key is not None:
                    found[key] = stored_from_item(item)
        return found

    def _whole_record(self, update: OutcomeUpdate) -> dict[str, Any]:
        """A delivery item written whole by the owner of its unit (an outcome that is not delivered)."""
        item: dict[str, Any] = {
            **_delivery_identity(update.delivery),
            "state": _s(update.state.value),
            "reason": _s(update.reason),
            "run": _s(update.run),
            "lease": _n(update.lease if update.lease is not None else update.now_ms // 1000),
            "claimedAt": _n(update.now_ms),
            "updatedAt": _n(update.now_ms),
            "at": _n(update.now_ms),
            "expiresAt": self._expires_at(update.now_ms),
        }
        if update.unit is not None:
            item["unit"] = _s(update.unit)
        if update.status is not None:
            item["status"] = _n(update.status)
        if update.cause:
            item["cause"] = _s(update.cause)
        if update.retry_at_ms is not None:
            item["retryAt"] = _n(update.retry_at_ms)
        if update.registration_removed:
            item["registrationRemoved"] = {"BOOL": True}
        return item

    def put_unit_outcomes(self, updates: Sequence[OutcomeUpdate]) -> None:
        """Final failures of deliveries claimed per unit: 25 per request, no condition (the unit's owner is
        their only writer)."""
        self._batch_write(self._whole_record(update) for update in updates)

    def put_unit_retries(self, updates: Sequence[OutcomeUpdate]) -> list[bool]:
        """Retries of deliveries claimed per unit, written after their retry task was queued: unless that
        task's run claimed the delivery first. False where the write failed."""
        return self._map(self._put_unit_retry, updates)

    def _put_unit_retry(self, update: OutcomeUpdate) -> bool:
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=self._whole_record(update),
                ConditionExpression="attribute_not_exists(pk) OR #run = :run",
                ExpressionAttributeNames={"#run": "run"},
                ExpressionAttributeValues={":run": _s(update.run)},
            )
        except ClientError as exc:
            if _error_code(exc) == "ConditionalCheckFailedException":
                return True  # the retry task's run has it already
            logger.warning("retry not recorded", extra={"code": _error_code(exc), "reason": update.reason})
            return False
        except BotoCoreError:
            logger.warning("retry not recorded", extra={"reason": update.reason})
            return False
        return True

    # --- outcomes ------------------------------------------------------------------------------------------

    def record(self, updates: Sequence[OutcomeUpdate]) -> list[bool]:
        """Write each outcome if its run still owns the delivery; False where the write failed."""
        return self._map(self._record_one, updates)

    def _record_one(self, update: OutcomeUpdate) -> bool:
        delivery = update.delivery
        names = {
            "#run": "run",
            "#state": "state",
            "#reason": "reason",
            "#attempt": "attempt",
            "#updatedAt": "updatedAt",
            "#at": "at",
        }
        values: dict[str, Any] = {
            ":run": _s(update.run),
            ":state": _s(update.state.value),
            ":reason": _s(update.reason),
            ":attempt": _n(delivery.attempt),
            ":now": _n(update.now_ms),
        }
        assignments = [
            "#state = :state",
            "#reason = :reason",
            "#attempt = :attempt",
            "#updatedAt = :now",
            "#at = if_not_exists(#at, :now)",
        ]
        removals = []

        def put(attribute: str, value: dict[str, Any]) -> None:
            names[f"#{attribute}"] = attribute
            values[f":{attribute}"] = value
            assignments.append(f"#{attribute} = :{attribute}")

        def remove(attribute: str) -> None:
            names[f"#{attribute}"] = attribute
            removals.append(f"#{attribute}")

        # Outcomes of earlier attempts are replaced, not left beside this one.
        for attribute, number in (("status", update.status), ("retryAt", update.retry_at_ms)):
            if number is None:
                remove(attribute)
            else:
                put(attribute, _n(number))
        if update.cause:
            put("cause", _s(update.cause))
        else:
            remove("cause")
        if delivery.badge is not None:
            put("badge", _n(delivery.badge))
        if update.lease is not None:
            put("lease", _n(update.lease))
        if update.registration_removed:
            put("registrationRemoved", {"BOOL": True})
        expression = "SET " + ", ".join(assignments)
        if removals:
            expression += " REMOVE " + ", ".join(removals)
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=delivery_item_key(delivery.key),
                UpdateExpression=expression,
                ConditionExpression="#run = :run",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if _error_code(exc) == "ConditionalCheckFailedException":
                # Another run took the delivery over (only after our lease, so never while we run).
                logger.warning("outcome not recorded: the delivery changed owner", extra={"run": update.run})
                return True
            logger.warning("outcome not recorded", extra={"code": _error_code(exc), "reason": update.reason})
            return False
        except BotoCoreError:
            logger.warning("outcome not recorded", extra={"reason": update.reason})
            return False
        return True

    def put_message_infos(self, infos: Sequence[MessageInfo]) -> None:
        items = []
        for info in infos:
            item: dict[str, Any] = {
                "pk": _s(f"i#{info.sdk_app_id}#{info.msg_key}"),
                "sk": _s(f"c#{info.chunk_id}"),
                "receivers": _n(info.receivers),
                "noDevice": _n(info.no_device),
                "at": _n(info.now_ms),
                "expiresAt": self._expires_at(info.now_ms),
            }
            if info.call:
                item["pushKind"] = _s(PushKind.VOIP.value)
                item["noVoip"] = _n(info.no_voip)
            for attribute, value in (
                ("noPushReason", info.no_push_reason),
                ("noPushMessage", info.no_push_message),
                ("invalidReason", info.invalid_reason),
            ):
                if value:
                    item[attribute] = _s(value)
            items.append(item)
        self._batch_write(items)

    def complete_run(self, run: str, now_ms: int) -> None:
        """The run's completion marker: its pending deliveries were delivered."""
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item={**marker_key(run), "at": _n(now_ms), "expiresAt": self._expires_at(now_ms)},
            )
        except (ClientError, BotoCoreError) as exc:
            raise StorageError("the run's completion could not be recorded") from exc

    def completed_runs(self, runs: Iterable[str]) -> set[str]:
        """Which of ``runs`` finished (their marker exists); strongly consistent."""
        wanted = list(dict.fromkeys(run for run in runs if run))
        done: set[str] = set()
        for start in range(0, len(wanted), BATCH_GET_LIMIT):
            keys = [marker_key(run) for run in wanted[start : start + BATCH_GET_LIMIT]]
            for item in self._batch_get(keys, consistent=True):
                done.add(str(item["pk"]["S"]).removeprefix("run#"))
        return done

    # --- batch plumbing -------------------------------------------------------------------------------

    def _backoff(self, attempt: int) -> None:
        # Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"); not security related.
        self._sleep(random.uniform(0, min(1.0, 0.025 * 2**attempt)))  # noqa: S311

    def _batch_write(self, items: Iterable[dict[str, Any]]) -> None:
        pending = [{"PutRequest": {"Item": item}} for item in items]
        for start in range(0, len(pending), BATCH_WRITE_LIMIT):
            requests = pending[start : start + BATCH_WRITE_LIMIT]
            for attempt in range(MAX_BATCH_ATTEMPTS):
                if attempt:
                    self._backoff(attempt)
                try:
                    answer = self.client.batch_write_item(RequestItems={self.table_name: requests})  # type: ignore[dict-item]
                except (ClientError, BotoCoreError) as exc:
                    raise StorageError("delivery records could not be written") from exc
                requests = list(answer.get("UnprocessedItems", {}).get(self.table_name, []))  # type: ignore[arg-type]
                if not requests:
                    break
            else:
                raise StorageError("delivery records could not be written: DynamoDB left items unprocessed")

    def _batch_get(self, keys: list[dict[str, Any]], *, consistent: bool) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for attempt in range(MAX_BATCH_ATTEMPTS):
            if attempt:
                self._backoff(attempt)
            try:
                answer = self.client.batch_get_item(
                    RequestItems={self.table_name: {"Keys": keys, "ConsistentRead": consistent}}
                )
            except (ClientError, BotoCoreError) as exc:
                raise StorageError("delivery records could not be read") from exc
            items.extend(dict(item) for item in answer.get("Responses", {}).get(self.table_name, []))
            unprocessed: dict[str, Any] = dict(answer.get("UnprocessedKeys", {}).get(self.table_name, {}))
            keys = list(unprocessed.get("Keys", []))
            if not keys:
                return items
        raise StorageError("delivery records could not be read: DynamoDB left keys unprocessed")

    # --- the operator's reads ------------------------------------------------------------------------------

    def user_page(
        self, sdk_app_id: int, user_id: str, *, limit: int, start: Mapping[str, Any] | None
    ) -> tuple[list[StoredDelivery], dict[str, Any] | None]:
        """One page of the receiver's listed deliveries, newest first, and where the next page starts."""
        arguments: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": BY_USER_INDEX,
            "KeyConditionExpression": "#user = :user",
            "ExpressionAttributeNames": {"#user": "user"},
            "ExpressionAttributeValues": {":user": _s(user_partition(sdk_app_id, user_id))},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if start:
            arguments["ExclusiveStartKey"] = dict(start)
        try:
            answer = self.client.query(**arguments)
        except ClientError as exc:
            if _error_code(exc) == "ValidationException" and start:
                from offline_push.errors import InvalidRequest  # noqa: PLC0415

                raise InvalidRequest("cursor is not one this API returned") from None
            raise StorageError("deliveries could not be read") from exc
        except BotoCoreError as exc:
            raise StorageError("deliveries could not be read") from exc
        items = [stored_from_item(item) for item in answer.get("Items", [])]
        last = answer.get("LastEvaluatedKey")
        return items, (dict(last) if last else None)

    def message_deliveries(self, sdk_app_id: int, msg_key: str) -> list[StoredDelivery]:
        """Every delivery item and receiver record of a message (all 16 partitions)."""
        found: list[StoredDelivery] = []
        for shard in range(MESSAGE_SHARDS):
            for item in self._query_all(f"m#{sdk_app_id}#{shard:02d}#{msg_key}"):
                found.append(stored_from_item(item))
        return found

    def message_units(self, sdk_app_id: int, msg_key: str) -> list[StoredUnit]:
        """The message's units of work that have a run (deliveries claimed per unit)."""
        return [
            stored_unit_from_item(item)
            for item in self._query_all(f"i#{sdk_app_id}#{msg_key}")
            if str(item["sk"]["S"]).startswith(("u#", "j#")) and "run" in item
        ]

    def message_infos(self, sdk_app_id: int, msg_key: str) -> list[dict[str, Any]]:
        infos = []
        for item in self._query_all(f"i#{sdk_app_id}#{msg_key}"):
            if not str(item["sk"]["S"]).startswith("c#"):
                continue
            info: dict[str, Any] = {}
            for name, value in item.items():
                if "N" in value:
                    info[name] = int(value["N"])
                elif "S" in value:
                    info[name] = str(value["S"])
            infos.append(info)
        return infos

    def _query_all(self, pk: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        start: dict[str, Any] | None = None
        while True:
            arguments: dict[str, Any] = {
                "TableName": self.table_name,
                "KeyConditionExpression": "pk = :pk",
                "ExpressionAttributeValues": {":pk": _s(pk)},
            }
            if start:
                arguments["ExclusiveStartKey"] = start
            try:
                answer = self.client.query(**arguments)
            except (ClientError, BotoCoreError) as exc:
                raise StorageError("deliveries could not be read") from exc
            items.extend(dict(item) for item in answer.get("Items", []))
            last = answer.get("LastEvaluatedKey")
            if not last:
                return items
            start = dict(last)
