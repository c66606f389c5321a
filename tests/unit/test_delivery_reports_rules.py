"""The operator's answer to "why no push?" (README "Deliveries API"), rule by rule: how a stored delivery
reads, which removed devices are listed, the diagnosis of a user without a device, and the record shown."""

from __future__ import annotations

import datetime as dt

from offline_push.logic.deliveries import (
    NO_DEVICE_MESSAGE,
    no_device_diagnosis,
    record_of,
    removed_devices,
    resolve,
)
from offline_push.models.credential import ApnsEnvironment
from offline_push.models.delivery import DeliveryRecord, DeliveryState, Outcome, StoredDelivery
from offline_push.models.registration import DeviceRegistration, UserRegistrations

APP = 1400000001
NOW = 1_795_000_000.0
TOKEN = "3fe4a626" + "0" * 56


def _removed(
    device: str, msg_key: str, *, updated_at: int | None, at: int = 1_764_625_025_902
) -> StoredDelivery:
    return StoredDelivery(
        APP,
        msg_key,
        "vinson",
        DeliveryState.FAILED,
        device=device,
        business_id=2,
        environment="development",
        reason="BadDeviceToken",
        status=400,
        cause="APNs refused the token",
        registration_removed=True,
        at=at,
        updated_at=updated_at,
    )


def test_a_pending_delivery_whose_lease_ends_now_reads_as_interrupted() -> None:
    # Given a claim whose lease ends at this very second, its run not finished
    stored = StoredDelivery(APP, "m", "vinson", DeliveryState.PENDING, run="r", lease=int(NOW))

    # Then its run is taken for dead (a lease is held until, not through, its last second)
    assert resolve(stored, set(), NOW) is Outcome.INTERRUPTED
    assert resolve(stored, set(), NOW - 1) is Outcome.SENDING


def test_a_delivered_record_shows_no_failure_details_and_a_retry_shows_its_next_attempt() -> None:
    stored = StoredDelivery(
        APP,
        "m",
        "vinson",
        DeliveryState.RETRYING,
        run="r",
        attempt=2,
        badge=4,
        device="3fe4a626…(32B)",
        business_id=2,
        environment="production",
        apns_id="a-1",
        reason="ServiceUnavailable",
        status=503,
        cause="busy",
        registration_removed=True,
        retry_at=1_764_625_030_000,
        at=1_764_625_025_902,
    )
    fields = {
        "sdk_app_id": APP,
        "msg_key": "m",
        "user_id": "vinson",
        "at": 1_764_625_025_902,
        "device": "3fe4a626…(32B)",
        "business_id": 2,
        "environment": "production",
        "apns_id": "a-1",
        "badge": 4,
        "attempts": 2,
        "registration_removed": True,
    }

    assert record_of(stored, Outcome.RETRYING) == DeliveryRecord(
        outcome=Outcome.RETRYING,
        reason="ServiceUnavailable",
        status=503,
        cause="busy",
        retry_at=1_764_625_030_000,
        **fields,  # type: ignore[arg-type]
    )
    assert record_of(stored, Outcome.FAILED) == DeliveryRecord(
        outcome=Outcome.FAILED,
        reason="ServiceUnavailable",
        status=503,
        cause="busy",
        **fields,  # type: ignore[arg-type]
    )
    assert record_of(stored, Outcome.DELIVERED) == DeliveryRecord(outcome=Outcome.DELIVERED, **fields)  # type: ignore[arg-type]


def test_a_record_without_an_apns_id_counts_no_attempts() -> None:
    stored = StoredDelivery(APP, "m", "vinson", DeliveryState.NO_DEVICE, attempt=3, at=5)

    assert record_of(stored, Outcome.NO_DEVICE).attempts is None


def test_removed_devices_are_listed_newest_first_once_each_unless_registered_again() -> None:
    # Given the user's recent records, newest first: two removals of one device, one of a device registered
    # again since, a failure that removed nothing, a record without a device, and an older removal
    registered_again = "7a295fa6…(32B)"
    recent = [
        _removed("3fe4a626…(32B)", "m-3", updated_at=1_764_625_025_902),
        StoredDelivery(APP, "m-x", "vinson", DeliveryState.FAILED, device="aaaaaaaa…(32B)", reason="Other"),
        _removed(registered_again, "m-2", updated_at=1_764_625_020_000),
        _removed("", "m-y", updated_at=1_764_625_019_000),
        _removed("3fe4a626…(32B)", "m-1", updated_at=1_764_625_010_000),
        _removed("bbbbbbbb…(32B)", "m-0", updated_at=None, at=1_764_625_000_123),
    ]
    registrations = UserRegistrations(
        sdk_app_id=APP,
        user_id="vinson",
        devices=(
            DeviceRegistration(
                token="7a295fa6" + "1" * 56,
                business_id=2,
                environment=ApnsEnvironment.DEVELOPMENT,
                registered_at=dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
            ),
        ),
    )

    listed = removed_devices(recent, registrations)

    # Then each removed device once, with its newest removal (the time APNs answered, else the claim's)
    entry = {
        "businessId": 2,
        "environment": "development",
        "pushKind": "alert",
        "reason": "BadDeviceToken",
        "status": 400,
    }
    assert listed == [
        {
            "device": "3fe4a626…(32B)",
            **entry,
            "removedAt": "2025-12-01T21:37:05.902Z",
            "msgKey": "m-3",
            "cause": "APNs refused the token",
        },
        {
            "device": "bbbbbbbb…(32B)",
            **entry,
            "removedAt": "2025-12-01T21:36:40.123Z",
            "msgKey": "m-0",
            "cause": "APNs refused the token",
        },
    ]


def test_a_user_never_registered_is_told_so() -> None:
    assert no_device_diagnosis([]) == {"reason": "NoDeviceRegistered", "message": NO_DEVICE_MESSAGE}
    assert NO_DEVICE_MESSAGE == (
        "the user has no registered device: the app never called setAPNS after logging in (or with a "
        "certificate of this app), or the user logged out or was kicked by a login on another device"
    )


def test_a_user_whose_last_device_was_removed_is_told_apns_answer_when_and_why() -> None:
    removed = [
        {
            "device": "3fe4a626…(32B)",
            "businessId": 2,
            "environment": "development",
            "removedAt": "2026-12-01T21:57:05.902Z",
            "msgKey": "m-2",
            "reason": "BadDeviceToken",
            "status": 400,
            "cause": "it comes from a TestFlight build",
        },
        {
            **dict.fromkeys(("device", "businessId", "environment", "removedAt", "cause"), "older"),
            "status": 410,
        },
    ]

    assert no_device_diagnosis(removed) == {
        "reason": "DeviceRemoved",
        "message": "APNs answered 400 BadDeviceToken at 2026-12-01T21:57:05.902Z for device 3fe4a626…(32B) "
        "(certificate 2, development): it comes from a TestFlight build",
    }
    # An answer without an HTTP status (refused before any response) names the reason alone
    assert no_device_diagnosis([{**removed[0], "status": None}])["message"].startswith(
        "APNs answered BadDeviceToken at 2026-12-01T21:57:05.902Z for device"
    )
