"""Device registrations in DynamoDB (the registrations table), laid out for the dispatcher's hot path.

One **user item** per (sdkAppId, userId) holds all of that user's devices and the badge counter, so the
registrations of up to 100 receivers are one BatchGetItem, whatever their number of devices:

``pk`` = ``user#<sdkAppId>#<userId>`` (S), ``sdkAppId`` (S), ``userId`` (S),
``devices`` (M: device token -> M{``businessId`` N, ``environment`` S, ``registeredAt`` N, epoch ms,
``pushKind`` S, only for a PushKit token: ``voip``}),
``badge`` (N), ``version`` (N, bumped by every change of ``devices``; badge updates leave it alone),
``updatedAt`` (S, ISO-8601).

One **token item** per (sdkAppId, device token) records which user registered the token last, so that a
device changing hands (user A never logged out, user B logs in on the same phone) stops receiving A's pushes:
``pk`` = ``token#<sdkAppId>#<token>``, ``sdkAppId``, ``token``, ``userId``, ``claimedAt`` (N, epoch ms).
The token item is an index the store maintains; the user item is the truth the dispatcher reads.

Every ``devices`` write is conditional on ``version`` (optimistic concurrency); removals by token are
conditional on the device still being there and, for APNs' 410 answer, not re-registered since.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools import Logger
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from offline_push.dal.json_answers import read_with_json
from offline_push.errors import RegistrationConflict, StorageError
from offline_push.models.credential import ApnsEnvironment, PushKind
from offline_push.models.registration import (
    DeviceRegistration,
    TokenClaim,
    UserRegistrations,
    from_epoch_millis,
    is_storable_user_id,
    to_epoch_millis,
    token_hint,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

logger = Logger(child=True)

# DynamoDB's limit of keys per BatchGetItem.
BATCH_GET_LIMIT = 100
# Parallel UpdateItems of increment_badges: DynamoDB has no batch update that returns new values.
BADGE_WORKERS = 16

_USER_PROJECTION = "#pk, #devices, #badge, #version"
_USER_PROJECTION_NAMES = {"#pk": "pk", "#devices": "devices", "#badge": "badge", "#version": "version"}


def user_key(sdk_app_id: int, user_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"user#{sdk_app_id}#{user_id}"}}


def user_of_key(pk: str) -> str:
    """The userId of a user item's key (``user#<sdkAppId>#<userId>``; the userId may contain ``#``)."""
    return pk.split("#", 2)[2]


def token_key(sdk_app_id: int, token: str) -> dict[str, Any]:
    return {"pk": {"S": f"token#{sdk_app_id}#{token}"}}


def claim_attribute(token: str) -> str:
    """The user item's attribute holding the number of the token claim its device ``token`` was registered
    under (beside the device map, so rewriting the map for another device never loses it)."""
    return f"claim#{token}"


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def device_to_attribute(device: DeviceRegistration) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "businessId": {"N": str(device.business_id)},
        "environment": {"S": device.environment.value},
        "registeredAt": {"N": str(to_epoch_millis(device.registered_at))},
    }
    if device.push_kind is not PushKind.ALERT:  # alert tokens keep the layout they had before VoIP
        fields["pushKind"] = {"S": device.push_kind.value}
    return {"M": fields}


def registrations_from_item(sdk_app_id: int, user_id: str, item: Mapping[str, Any]) -> UserRegistrations:
    """UserRegistrations from a low-level user item (or its projection); devices newest first."""
    devices = []
    for token, value in item.get("devices", {}).get("M", {}).items():
        try:
            fields = value["M"]
            devices.append(
                DeviceRegistration(
                    token=token,
                    business_id=int(fields["businessId"]["N"]),
                    environment=ApnsEnvironment(fields["environment"]["S"]),
                    registered_at=from_epoch_millis(int(fields["registeredAt"]["N"])),
                    push_kind=PushKind(fields.get("pushKind", {}).get("S", PushKind.ALERT.value)),
                )
            )
        except (KeyError, ValueError, TypeError):
            # One damaged entry must not stop the pushes to the user's other devices.
            logger.warning("skipping malformed device entry", extra={"device": token_hint(token)})
    devices.sort(key=lambda device: device.registered_at, reverse=True)
    return UserRegistrations(
        sdk_app_id=sdk_app_id,
        user_id=user_id,
        devices=tuple(devices),
        badge=int(item.get("badge", {}).get("N", "0")),
        version=int(item.get("version", {}).get("N", "0")),
    )


class RegistrationStore:
    """Reads and writes registrations. The dispatcher needs :meth:`get_many`, :meth:`remove_device`,
    :meth:`increment_badge` / :meth:`increment_badges`; the registration API the rest."""

    def __init__(
        self,
        table_name: str,
        *,
        client: DynamoDBClient | None = None,
        max_batch_attempts: int = 8,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.table_name = table_name
        self._client = client
        self.max_batch_attempts = max_batch_attempts
        self._sleep = sleep
        self._clock = clock
        self._executor: ThreadPoolExecutor | None = None  # add_to_badges' workers, kept for warm invocations

    @property
    def client(self) -> DynamoDBClient:
        if self._client is None:
            # Pool big enough for increment_badges' parallel requests; standard retries handle throttling.
            config = Config(max_pool_connections=BADGE_WORKERS, retries={"mode": "standard"})
            client = boto3.client("dynamodb", config=config)
            read_with_json(client, "BatchGetItem")  # the projection has no binary attribute
            self._client = client
        return self._client

    # --- the dispatcher's hot path ---------------------------------------------------------------------

    def get_many(
        self, sdk_app_id: int, user_ids: Iterable[str], *, consistent: bool = False
    ) -> dict[str, UserRegistrations]:
        """Registrations of the given users that have at least one device, by userId.

        Up to 100 distinct users cost one BatchGetItem (more are read 100 at a time); duplicates are read
        once; keys DynamoDB would only refuse (empty or oversized user ids) are skipped, as users with no
        registration. Keys DynamoDB leaves unprocessed (throttling, the 16 MB answer limit) are retried
        with jittered exponential backoff; :class:`StorageError` if some remain after that.
        """
        wanted = list(dict.fromkeys(user for user in user_ids if is_storable_user_id(user)))
        found: dict[str, UserRegistrations] = {}
        for start in range(0, len(wanted), BATCH_GET_LIMIT):
            chunk = wanted[start : start + BATCH_GET_LIMIT]
            for item in self._batch_get([user_key(sdk_app_id, user) for user in chunk], consistent):
                user_id = user_of_key(item["pk"]["S"])
                registrations = registrations_from_item(sdk_app_id, user_id, item)
                if registrations.devices:
                    found[user_id] = registrations
        return found

    def _batch_get(self, keys: list[dict[str, Any]], consistent: bool) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for attempt in range(self.max_batch_attempts):
            if attempt:
                # Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"); not security related.
                self._sleep(random.uniform(0, min(1.0, 0.025 * 2**attempt)))  # noqa: S311
            request: dict[str, Any] = {
                self.table_name: {
                    "Keys": keys,
                    "ProjectionExpression": _USER_PROJECTION,
                    "ExpressionAttributeNames": _USER_PROJECTION_NAMES,
                    "ConsistentRead": consistent,
                }
            }
            try:
                answer = self.client.batch_get_item(RequestItems=request)
            except (ClientError, BotoCoreError) as exc:
                raise StorageError("registrations could not be read") from exc
            items.extend(dict(item) for item in answer.get("Responses", {}).get(self.table_name, []))
            # Only the keys are taken from UnprocessedKeys: the request around them is ours to rebuild.
            unprocessed: dict[str, Any] = dict(answer.get("UnprocessedKeys", {}).get(self.table_name, {}))
            keys = list(unprocessed.get("Keys", []))
            if not keys:
                return items
        raise StorageError(
            "registrations could not be read: DynamoDB left keys unprocessed after "
            f"{self.max_batch_attempts} attempts"
        )

    def remove_device(
        self,
        sdk_app_id: int,
        user_id: str,
        token: str,
        *,
        unless_registered_after: dt.datetime | None = None,
        claimed_before: int | None = None,
    ) -> bool:
        """Remove one device of a user; True if it was there and is now gone.

        ``claimed_before``: only a registration made under an earlier claim of the token than this one (see
        :meth:`claim_token`) is removed, so a device the user registered again since is kept; the token item
        stays (a registration in progress holds it).

        ``unless_registered_after``: a registration made after this moment is kept (and False returned). For
        APNs' 410 pass Apple's timestamp (the app may have reported the token again since Apple found it
        dead); for a 400 (BadDeviceToken, DeviceTokenNotForTopic) pass the ``registered_at`` the push used, so
        a registration the app made meanwhile (say, with the right certificate) survives. The token item is
        released with the device.
        """
        condition = "attribute_exists(#devices.#token)"
        values: dict[str, Any] = {":one": {"N": "1"}}
        if unless_registered_after is not None:
            condition += " AND #devices.#token.#registeredAt <= :deadAt"
            values[":deadAt"] = {"N": str(to_epoch_millis(unless_registered_after))}
        if claimed_before is not None:
            condition += " AND (attribute_not_exists(#claim) OR #claim < :claim)"
            values[":claim"] = {"N": str(claimed_before)}
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=user_key(sdk_app_id, user_id),
                UpdateExpression="REMOVE #devices.#token, #claim ADD #version :one",
                ConditionExpression=condition,
                ExpressionAttributeNames={
                    "#devices": "devices",
                    "#token": token,
                    "#version": "version",
                    "#claim": claim_attribute(token),
                    **({"#registeredAt": "registeredAt"} if unless_registered_after is not None else {}),
                },
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if _error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise StorageError("a registration could not be removed") from exc
        except BotoCoreError as exc:
            raise StorageError("a registration could not be removed") from exc
        if claimed_before is None:  # otherwise the token is being claimed by another registration: kept
            self.release_token(sdk_app_id, token, user_id)
        return True

    def increment_badge(self, sdk_app_id: int, user_id: str, by: int = 1) -> int | None:
        """Atomically add ``by`` to the user's badge counter and return the new value; None (and nothing
        written) if the user has no registration."""
        try:
            answer = self.client.update_item(
                TableName=self.table_name,
                Key=user_key(sdk_app_id, user_id),
                UpdateExpression="ADD #badge :by",
                ConditionExpression="attribute_exists(#devices)",
                ExpressionAttributeNames={"#badge": "badge", "#devices": "devices"},
                ExpressionAttributeValues={":by": {"N": str(by)}},
                ReturnValues="UPDATED_NEW",
            )
        except ClientError as exc:
            if _error_code(exc) == "ConditionalCheckFailedException":
                return None
            raise StorageError("a badge could not be updated") from exc
        except BotoCoreError as exc:
            raise StorageError("a badge could not be updated") from exc
        return int(answer["Attributes"]["badge"]["N"])

    def increment_badges(self, sdk_app_id: int, user_ids: Iterable[str], by: int = 1) -> dict[str, int]:
        """:meth:`add_to_badges` with the same ``by`` for every user."""
        users = dict.fromkeys(user for user in user_ids if is_storable_user_id(user))
        return self.add_to_badges(sdk_app_id, dict.fromkeys(users, by))

    def add_to_badges(self, sdk_app_id: int, increments: Mapping[str, int]) -> dict[str, int]:
        """Add to each user's badge counter (user -> how much) and return the new values, up to
        :data:`BADGE_WORKERS` requests in flight.

        A user is absent from the answer if they have no registration, or if their increment failed (logged;
        push them with the badge :meth:`get_many` read, plus one): a badge is a hint, not worth failing a push
        for.
        """
        wanted = [(user, by) for user, by in increments.items() if is_storable_user_id(user)]
        if not wanted:
            return {}
        _ = self.client  # created once, before the threads share it (boto3 clients are thread-safe)

        def increment(entry: tuple[str, int]) -> tuple[str, int | None]:
            user_id, by = entry
            try:
                return user_id, self.increment_badge(sdk_app_id, user_id, by)
            except StorageError:
                logger.warning("badge increment failed", extra={"sdkAppId": sdk_app_id})
                return user_id, None

        if len(wanted) == 1:
            results = [increment(wanted[0])]
        else:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=BADGE_WORKERS, thread_name_prefix="badges")
            results = list(self._executor.map(increment, wanted))
        return {user_id: badge for user_id, badge in results if badge is not None}

    # --- the registration API ----------------------------------------------------------------------------

    def get(self, sdk_app_id: int, user_id: str, *, consistent: bool = True) -> UserRegistrations:
        """The user's registrations; an empty one (version 0) if the user has none."""
        try:
            answer = self.client.get_item(
                TableName=self.table_name,
                Key=user_key(sdk_app_id, user_id),
                ProjectionExpression=_USER_PROJECTION,
                ExpressionAttributeNames=_USER_PROJECTION_NAMES,
                ConsistentRead=consistent,
            )
        except (ClientError, BotoCoreError) as exc:
            raise StorageError("registrations could not be read") from exc
        return registrations_from_item(sdk_app_id, user_id, answer.get("Item", {}))

    def save_devices(
        self,
        sdk_app_id: int,
        user_id: str,
        devices: Sequence[DeviceRegistration],
        *,
        expected_version: int,
        released_tokens: Iterable[str] = (),
        claim: tuple[str, int] | None = None,
    ) -> int:
        """Replace the user's device set if it is still at ``expected_version``; return the new version.

        :class:`RegistrationConflict` if another writer changed it first (read again and retry). The badge
        is left as it is. ``released_tokens``: devices this write drops, whose token items are released.
        ``claim``: (token, claim number from :meth:`claim_token`) the device of ``token`` is registered under.
        """
        released_tokens = list(released_tokens)
        if expected_version:
            condition = "#version = :expected"
            values: dict[str, Any] = {":expected": {"N": str(expected_version)}}
        else:
            condition = "attribute_not_exists(#version)"
            values = {}
        values.update(
            {
                ":devices": {"M": {device.token: device_to_attribute(device) for device in devices}},
                ":sdkAppId": {"S": str(sdk_app_id)},
                ":userId": {"S": user_id},
                ":now": {"S": _iso(self._clock())},
                ":next": {"N": str(expected_version + 1)},
            }
        )
        names = {
            "#devices": "devices",
            "#sdkAppId": "sdkAppId",
            "#userId": "userId",
            "#updatedAt": "updatedAt",
            "#version": "version",
        }
        update = "SET #devices = :devices, #sdkAppId = :sdkAppId, #userId = :userId, #updatedAt = :now, "
        update += "#version = :next"
        if claim is not None:
            names["#claim"] = claim_attribute(claim[0])
            values[":claim"] = {"N": str(claim[1])}
            update += ", #claim = :claim"
        released_claims = []
        for index, token in enumerate(released_tokens):
            if claim is None or token != claim[0]:
                names[f"#released{index}"] = claim_attribute(token)
                released_claims.append(f"#released{index}")
        if released_claims:
            update += " REMOVE " + ", ".join(released_claims)
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=user_key(sdk_app_id, user_id),
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if _error_code(exc) == "ConditionalCheckFailedException":
                raise RegistrationConflict(
                    "the user's registrations changed during the update; retry"
                ) from None
            raise StorageError("registrations could not be saved") from exc
        except BotoCoreError as exc:
            raise StorageError("registrations could not be saved") from exc
        for token in released_tokens:
            self.release_token(sdk_app_id, token, user_id)
        return expected_version + 1

    def remove_all(self, sdk_app_id: int, user_id: str) -> tuple[str, ...]:
        """Forget the user (every device and the badge); return the tokens removed."""
        try:
            answer = self.client.delete_item(
                TableName=self.table_name, Key=user_key(sdk_app_id, user_id), ReturnValues="ALL_OLD"
            )
        except (ClientError, BotoCoreError) as exc:
            raise StorageError("registrations could not be removed") from exc
        tokens = tuple(answer.get("Attributes", {}).get("devices", {}).get("M", {}))
        for token in tokens:
            self.release_token(sdk_app_id, token, user_id)
        return tokens

    def set_badge(self, sdk_app_id: int, user_id: str, unread: int) -> None:
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=user_key(sdk_app_id, user_id),
                UpdateExpression="SET #badge = :unread, #sdkAppId = :sdkAppId, #userId = :userId",
                ExpressionAttributeNames={"#badge": "badge", "#sdkAppId": "sdkAppId", "#userId": "userId"},
                ExpressionAttributeValues={
                    ":unread": {"N": str(unread)},
                    ":sdkAppId": {"S": str(sdk_app_id)},
                    ":userId": {"S": user_id},
                },
            )
        except (ClientError, BotoCoreError) as exc:
            raise StorageError("the badge could not be saved") from exc

    # --- which user a token belongs to -----------------------------------------------------------------

    def claim_token(self, sdk_app_id: int, token: str, user_id: str) -> TokenClaim:
        """Record ``user_id`` as the token's holder, in one atomic request: the previous holder, if any, and
        this claim's number (one more than the previous claim's: DynamoDB orders concurrent claims)."""
        try:
            answer = self.client.update_item(
                TableName=self.table_name,
                Key=token_key(sdk_app_id, token),
                UpdateExpression=(
                    "SET #sdkAppId = :sdkAppId, #token = :token, #userId = :userId, #claimedAt = :now "
                    "ADD #claims :one"
                ),
                ExpressionAttributeNames={
                    "#sdkAppId": "sdkAppId",
                    "#token": "token",
                    "#userId": "userId",
                    "#claimedAt": "claimedAt",
                    "#claims": "claims",
                },
                ExpressionAttributeValues={
                    ":sdkAppId": {"S": str(sdk_app_id)},
                    ":token": {"S": token},
                    ":userId": {"S": user_id},
                    ":now": {"N": str(to_epoch_millis(self._clock()))},
                    ":one": {"N": "1"},
                },
                ReturnValues="ALL_OLD",
            )
        except (ClientError, BotoCoreError) as exc:
            raise StorageError("the device token could not be recorded") from exc
        old = answer.get("Attributes", {})
        previous = old.get("userId", {}).get("S")
        number = int(old.get("claims", {}).get("N", "0")) + 1
        return TokenClaim(previous=str(previous) if previous is not None else None, number=number)

    def token_holder(self, sdk_app_id: int, token: str) -> str | None:
        try:
            answer = self.client.get_item(
                TableName=self.table_name, Key=token_key(sdk_app_id, token), ConsistentRead=True
            )
        except (ClientError, BotoCoreError) as exc:
            raise StorageError("the device token could not be read") from exc
        holder = answer.get("Item", {}).get("userId", {}).get("S")
        return str(holder) if holder is not None else None

    def release_token(self, sdk_app_id: int, token: str, user_id: str) -> None:
        """Delete the token item if ``user_id`` still holds it. Best effort: a stale token item only costs a
        no-op removal the next time the token is registered."""
        try:
            self.client.delete_item(
                TableName=self.table_name,
                Key=token_key(sdk_app_id, token),
                ConditionExpression="#userId = :userId",
                ExpressionAttributeNames={"#userId": "userId"},
                ExpressionAttributeValues={":userId": {"S": user_id}},
            )
        except ClientError as exc:
            if _error_code(exc) != "ConditionalCheckFailedException":
                logger.warning("token item not released", extra={"code": _error_code(exc)})
        except BotoCoreError:
            logger.warning("token item not released")
