"""Pure rules of dispatch: the deterministic apns-id, the partitioning of a message's records, retry delays,
how a stored delivery reads to an operator, the page cursor, and the causes given for dead tokens."""

from __future__ import annotations

import datetime as dt
import random
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offline_push.api.deliveries import decode_cursor, encode_cursor, parse_limit
from offline_push.errors import InvalidRequest
from offline_push.logic.deliveries import resolve
from offline_push.logic.delivery_causes import final_cause, prune_cause, retries_exhausted_cause
from offline_push.logic.dispatch import DispatchPolicy, retry_delay
from offline_push.models.delivery import (
    APNS_ID_NAMESPACE,
    MESSAGE_SHARDS,
    DeliveryKey,
    DeliveryState,
    Outcome,
    StoredDelivery,
    message_shard,
    token_digest,
)

keys = st.builds(
    DeliveryKey,
    sdk_app_id=st.integers(min_value=1, max_value=2**63 - 1),
    msg_key=st.text(min_size=1, max_size=64),
    user_id=st.text(min_size=1, max_size=32),
    token=st.text(alphabet="0123456789abcdef", min_size=32, max_size=64),
)


@settings(max_examples=200)
@given(first=keys, second=keys)
def test_the_apns_id_is_a_uuid_of_the_delivery_and_only_of_it(
    first: DeliveryKey, second: DeliveryKey
) -> None:
    # Every attempt at one delivery carries the same id; two deliveries never share one
    assert uuid.UUID(first.apns_id).version == 5
    assert first.apns_id == DeliveryKey(first.sdk_app_id, first.msg_key, first.user_id, first.token).apns_id
    assert (first.apns_id == second.apns_id) == (first == second)


def test_the_apns_id_is_uuid5_of_app_message_receiver_and_token() -> None:
    key = DeliveryKey(1400000001, "144115198244471703-1", "vinson", "740f4707")
    name = "1400000001\x1f144115198244471703-1\x1fvinson\x1f740f4707"

    assert key.apns_id == str(uuid.uuid5(APNS_ID_NAMESPACE, name)) == "79adedb4-538a-56a1-97e7-75108384447b"


@settings(max_examples=100)
@given(user=st.text(min_size=1, max_size=40))
def test_a_receivers_records_of_a_message_live_in_one_of_16_partitions(user: str) -> None:
    assert 0 <= message_shard(user) < MESSAGE_SHARDS
    assert message_shard(user) == message_shard(user)


def test_keys_carry_a_digest_of_the_token_never_the_token() -> None:
    token = "740f4707bebcf74f9b7c25d48e3358945f6aa01da5ddb387462c7eaf61bb78ad"

    assert token_digest(token) == "1861d16474b2cc622a280dab56b536d6"
    assert token not in token_digest(token)


@pytest.mark.parametrize(
    ("attempt", "low", "high"), [(1, 3, 5), (2, 5, 10), (3, 10, 20), (8, 320, 640), (20, 450, 900)]
)
def test_retry_delays_double_per_attempt_with_jitter_and_stay_within_sqs_limit(
    attempt: int, low: int, high: int
) -> None:
    rng = random.Random(7)  # noqa: S311 - jitter
    delays = {retry_delay(DispatchPolicy(retry_base_seconds=5), attempt, rng) for _ in range(200)}

    assert low <= min(delays)
    assert max(delays) <= high
    assert len(delays) > 1


def test_a_zero_base_retries_at_once() -> None:
    rng = random.Random()  # noqa: S311 - jitter

    assert retry_delay(DispatchPolicy(retry_base_seconds=0), 3, rng) == 0


NOW = 1_795_000_000.0


@pytest.mark.parametrize(
    ("state", "run", "lease", "outcome"),
    [
        (DeliveryState.PENDING, "done", 0, Outcome.DELIVERED),  # its run finished: delivered
        (DeliveryState.PENDING, "running", int(NOW) + 10, Outcome.SENDING),
        (DeliveryState.PENDING, "died", int(NOW) - 10, Outcome.INTERRUPTED),
        (DeliveryState.RETRYING, "done", int(NOW) + 10, Outcome.RETRYING),
        (DeliveryState.FAILED, "done", 0, Outcome.FAILED),
        (DeliveryState.NO_DEVICE, "", 0, Outcome.NO_DEVICE),
        (DeliveryState.NO_PUSH, "", 0, Outcome.NO_PUSH),
    ],
)
def test_a_stored_delivery_reads_as_its_outcome(
    state: DeliveryState, run: str, lease: int, outcome: Outcome
) -> None:
    stored = StoredDelivery(1400000001, "m", "vinson", state, run=run, lease=lease)

    assert resolve(stored, {"done"}, NOW) is outcome


def test_a_cursor_reads_back_only_for_its_user() -> None:
    last = {
        "pk": {"S": "m#1#03#k"},
        "sk": {"S": "d#abc#vinson"},
        "user": {"S": "1#vinson"},
        "at": {"N": "12"},
    }
    cursor = encode_cursor(last)
    assert cursor is not None

    assert decode_cursor(cursor, user_partition="1#vinson") == last
    with pytest.raises(InvalidRequest):
        decode_cursor(cursor, user_partition="1#mum")
    assert (decode_cursor(None, user_partition="1#vinson"), encode_cursor(None)) == (None, None)


@pytest.mark.parametrize("raw", ["0", "101", "-1", "ten", "1.5"])
def test_a_page_size_outside_1_to_100_is_refused(raw: str) -> None:
    with pytest.raises(InvalidRequest):
        parse_limit(raw)


def test_a_page_size_defaults_to_20() -> None:
    assert (parse_limit(None), parse_limit("100")) == (20, 100)


@pytest.mark.parametrize(
    ("reason", "environment", "removed", "cause"),
    [
        (
            "BadDeviceToken",
            "production",
            True,
            "APNs refused the token for the production environment of certificate 2 (com.example.chat): it "
            "comes from a development build (run from Xcode), whose tokens need a development certificate "
            "(the app's environment and the certificate's must match), or it is not a device token at all; "
            "the registration was removed (the app registers again at its next login)",
        ),
        (
            "DeviceTokenNotForTopic",
            "production",
            True,
            "the token belongs to another app than certificate 2's bundle id com.example.chat: the app "
            "called setAPNS with another app's businessId (apps sharing an SdkAppId each need their own "
            "certificate and businessId); the registration was removed (the app registers again at its next "
            "login)",
        ),
        (
            "Unregistered",
            "production",
            False,
            "APNs says the token is no longer valid for com.example.chat since 2026-11-25T12:00:00.000Z (the "
            "app was uninstalled, or notifications were reset on the device); the registration was kept: the "
            "app registered the token again after that",
        ),
    ],
)
def test_dead_tokens_are_explained(reason: str, environment: str, removed: bool, cause: str) -> None:
    unregistered_at = dt.datetime(2026, 11, 25, 12, tzinfo=dt.UTC)

    assert (
        prune_cause(
            reason,
            business_id=2,
            topic="com.example.chat",
            environment=environment,
            removed=removed,
            unregistered_at=unregistered_at,
        )
        == cause
    )


def test_other_failures_are_explained_or_named() -> None:
    assert final_cause(
        "BadCertificateEnvironment", 403, business_id=2, topic="t", environment="production"
    ) == ("certificate 2 cannot push to the production environment: upload a certificate of that environment")
    assert final_cause("Forbidden", 403, business_id=2, topic="t", environment="production") == (
        "APNs answered 403 Forbidden for certificate 2 (t, production)"
    )
    assert retries_exhausted_cause("ConnectionLost", None, 5) == (
        "APNs answered ConnectionLost on the last of 5 attempts; no more retries"
    )
