"""The registration store's hot-path contract with the dispatcher, on moto: batched reads, 410 removals,
badge increments, optimistic concurrency."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import boto3
import pytest

from local.provision import Provisioned
from offline_push.dal.certificate_store import CertificateStore
from offline_push.dal.registration_store import RegistrationStore, user_key
from offline_push.errors import RegistrationConflict, StorageError
from offline_push.logic.registrations import Registrations, UserRef
from offline_push.models.app import KickPolicy
from offline_push.models.credential import ApnsEnvironment
from offline_push.models.registration import DeviceRegistration, UserRegistrations
from tests.integration.registrations.conftest import NOW
from tests.support.certificate_records import store_certificate_metadata

APP = 1400000001
T0 = NOW
TOKEN_A = "a1" * 32
TOKEN_B = "b2" * 32


def device(token: str, at: dt.datetime = T0, business_id: int = 1) -> DeviceRegistration:
    return DeviceRegistration(
        token=token, business_id=business_id, environment=ApnsEnvironment.PRODUCTION, registered_at=at
    )


@pytest.fixture
def table(aws: Provisioned) -> str:
    return aws.environment["REGISTRATIONS_TABLE"]


@pytest.fixture
def calls() -> Counter[str]:
    """DynamoDB operations sent by ``counted_store``, by name."""
    return Counter()


@pytest.fixture
def store(table: str) -> RegistrationStore:
    return RegistrationStore(table)


@pytest.fixture
def counted_store(table: str, calls: Counter[str]) -> RegistrationStore:
    """A store whose requests (real, to moto) are counted at botocore's before-call hook."""
    client = boto3.client("dynamodb")

    def count(model: Any, **_: Any) -> None:
        calls[model.name] += 1

    client.meta.events.register("before-call.dynamodb.*", count)
    return RegistrationStore(table, client=client)


def save(store: RegistrationStore, user_id: str, *devices: DeviceRegistration) -> None:
    current = store.get(APP, user_id)
    store.save_devices(APP, user_id, devices, expected_version=current.version)


def test_registrations_of_100_users_are_read_in_one_request(
    counted_store: RegistrationStore, calls: Counter[str]
) -> None:
    # Given 100 receivers, of whom the even ones have devices (two each for the first)
    for number in range(0, 100, 2):
        save(counted_store, f"user-{number}", device(f"{number:064x}"))
    save(counted_store, "user-0", device(f"{0:064x}"), device(TOKEN_B, T0 - dt.timedelta(days=1)))
    calls.clear()

    # When the dispatcher reads their registrations (a duplicate and an unusable id among them)
    found = counted_store.get_many(APP, [f"user-{number}" for number in range(100)] + ["user-2", ""])

    # Then it took one BatchGetItem, and every registered user is there with all their devices, newest first
    assert calls == Counter({"BatchGetItem": 1})
    assert sorted(found) == sorted(f"user-{number}" for number in range(0, 100, 2))
    assert found["user-0"] == UserRegistrations(
        sdk_app_id=APP,
        user_id="user-0",
        devices=(device(f"{0:064x}"), device(TOKEN_B, T0 - dt.timedelta(days=1))),
        version=2,
    )


def test_more_than_100_users_are_read_100_at_a_time(
    counted_store: RegistrationStore, calls: Counter[str]
) -> None:
    save(counted_store, "user-249", device(TOKEN_A))
    calls.clear()

    found = counted_store.get_many(APP, [f"user-{number}" for number in range(250)])

    assert calls == Counter({"BatchGetItem": 3})
    assert list(found) == ["user-249"]


def test_user_ids_with_the_key_separator_read_back_whole(store: RegistrationStore) -> None:
    save(store, "li#lei#2", device(TOKEN_A))

    assert list(store.get_many(APP, ["li#lei#2", "li"])) == ["li#lei#2"]


def _oversized(store: RegistrationStore, table: str, users: int) -> None:
    """Users whose device entries carry ~390 KB each, so their batch exceeds DynamoDB's 16 MB answer limit
    and DynamoDB (moto, like AWS) returns part of the keys as UnprocessedKeys."""
    padding = "x" * 390_000
    client = boto3.client("dynamodb")
    for number in range(users):
        client.put_item(
            TableName=table,
            Item={
                **user_key(APP, f"big-{number}"),
                "userId": {"S": f"big-{number}"},
                "version": {"N": "1"},
                "devices": {
                    "M": {
                        f"{number:064x}": {
                            "M": {
                                "businessId": {"N": "1"},
                                "environment": {"S": "production"},
                                "registeredAt": {"N": "1795608000000"},
                                "padding": {"S": padding},
                            }
                        }
                    }
                },
            },
        )


def test_keys_left_unprocessed_are_read_again(
    counted_store: RegistrationStore, table: str, calls: Counter[str]
) -> None:
    # Given 50 receivers whose items together exceed what one BatchGetItem may answer
    _oversized(counted_store, table, 50)
    calls.clear()

    # When the dispatcher reads them
    found = counted_store.get_many(APP, [f"big-{number}" for number in range(50)])

    # Then the keys DynamoDB left unprocessed were asked again, and every user is there
    assert calls["BatchGetItem"] == 2
    assert sorted(found) == sorted(f"big-{number}" for number in range(50))


def test_keys_that_stay_unprocessed_fail_loudly(table: str) -> None:
    # Given a store that may try only once, and a batch too big for one answer
    store = RegistrationStore(table, max_batch_attempts=1)
    _oversized(store, table, 50)

    # When it reads them, then it says it could not, rather than answering with users missing
    with pytest.raises(StorageError) as raised:
        store.get_many(APP, [f"big-{number}" for number in range(50)])
    assert raised.value.message == (
        "registrations could not be read: DynamoDB left keys unprocessed after 1 attempts"
    )


def test_apns_410_removes_a_registration_older_than_apples_timestamp(store: RegistrationStore) -> None:
    # Given a device registered at T0, and APNs saying it has been dead since an hour later
    save(store, "vinson", device(TOKEN_A), device(TOKEN_B))

    # When the dispatcher removes it
    removed = store.remove_device(APP, "vinson", TOKEN_A, unless_registered_after=T0 + dt.timedelta(hours=1))

    # Then it is gone, the other device stays
    assert removed is True
    assert store.get(APP, "vinson").devices == (device(TOKEN_B),)


def test_apns_410_keeps_a_registration_made_after_apples_timestamp(store: RegistrationStore) -> None:
    # Given a device the app re-registered at T0, after Apple found its token dead (an hour earlier)
    save(store, "vinson", device(TOKEN_A))

    # When the dispatcher processes the 410
    removed = store.remove_device(APP, "vinson", TOKEN_A, unless_registered_after=T0 - dt.timedelta(hours=1))

    # Then the fresh registration survives
    assert removed is False
    assert store.get(APP, "vinson").devices == (device(TOKEN_A),)


def test_removing_a_device_that_is_not_there_is_a_no_op(store: RegistrationStore, table: str) -> None:
    assert store.remove_device(APP, "nobody", TOKEN_A) is False
    assert boto3.client("dynamodb").scan(TableName=table)["Items"] == []


def test_badge_increments_return_the_new_value(store: RegistrationStore) -> None:
    # Given a registered user whose app reported 2 unread messages
    save(store, "vinson", device(TOKEN_A))
    store.set_badge(APP, "vinson", 2)

    # When three messages are pushed to them (two of them in one job, counted as 2)
    badges = [store.increment_badge(APP, "vinson"), store.increment_badge(APP, "vinson", by=2)]

    # Then each increment answers the counter after it (DynamoDB's ADD: no read-modify-write race)
    assert badges == [3, 5]
    assert store.get(APP, "vinson").badge == 5


def test_badges_of_many_users_are_incremented_in_one_call(
    counted_store: RegistrationStore, table: str, calls: Counter[str]
) -> None:
    # Given 30 registered receivers (one with 5 unread) and 2 unregistered ones
    for number in range(30):
        save(counted_store, f"user-{number}", device(f"{number:064x}"))
    counted_store.set_badge(APP, "user-7", 5)
    calls.clear()

    # When the dispatcher increments the badges of all 32 for one group message
    badges = counted_store.increment_badges(APP, [f"user-{number}" for number in range(32)])

    # Then the registered ones have their new badge, and no item was created for the others
    assert badges == {f"user-{number}": 6 if number == 7 else 1 for number in range(30)}
    assert calls == Counter({"UpdateItem": 32})
    assert counted_store.increment_badge(APP, "user-31") is None
    assert len(boto3.client("dynamodb").scan(TableName=table)["Items"]) == 30


def test_badge_updates_do_not_disturb_device_writes(store: RegistrationStore) -> None:
    # Given a user's device set read at some version
    save(store, "vinson", device(TOKEN_A))
    read = store.get(APP, "vinson")

    # When a badge is incremented before the device set is written back
    store.increment_badge(APP, "vinson")
    store.save_devices(APP, "vinson", [device(TOKEN_B)], expected_version=read.version)

    # Then the write succeeds and keeps the badge
    assert store.get(APP, "vinson") == UserRegistrations(
        sdk_app_id=APP, user_id="vinson", devices=(device(TOKEN_B),), badge=1, version=2
    )


def test_a_device_write_based_on_a_stale_read_is_refused(store: RegistrationStore) -> None:
    # Given two writers that read the same version
    save(store, "vinson", device(TOKEN_A))
    stale = store.get(APP, "vinson").version
    store.save_devices(APP, "vinson", [device(TOKEN_B)], expected_version=stale)

    # When the second writes, then it is told to read again, and the first writer's set stands
    with pytest.raises(RegistrationConflict):
        store.save_devices(APP, "vinson", [device(TOKEN_A)], expected_version=stale)
    assert store.get(APP, "vinson").devices == (device(TOKEN_B),)


class _MultiDevice:
    def kick_policy(self, sdk_app_id: int) -> KickPolicy:
        return KickPolicy.MULTI


class _RacedStore(RegistrationStore):
    """The real store, with another device of the same user registered (for real) right after the first
    read: the interleaving two concurrent setAPNS calls produce."""

    def __init__(self, table_name: str, rival: DeviceRegistration) -> None:
        super().__init__(table_name)
        self.rival: DeviceRegistration | None = rival
        self.reads = 0

    def get(self, sdk_app_id: int, user_id: str, *, consistent: bool = True) -> UserRegistrations:
        current = super().get(sdk_app_id, user_id, consistent=consistent)
        self.reads += 1
        if self.rival is not None:
            rival, self.rival = self.rival, None
            self.save_devices(
                sdk_app_id, user_id, (*current.devices, rival), expected_version=current.version
            )
        return current


def test_a_registration_racing_another_one_of_the_same_user_keeps_both(aws: Provisioned) -> None:
    # Given an app with the multi-device policy, and vinson's tablet registering while his phone does
    store_certificate_metadata(aws.environment["CERTIFICATES_TABLE"], APP, 1)
    store = _RacedStore(aws.environment["REGISTRATIONS_TABLE"], rival=device(TOKEN_B))
    registrations = Registrations(
        store, CertificateStore(aws.environment["CERTIFICATES_TABLE"]), _MultiDevice(), clock=lambda: NOW
    )

    # When the phone's registration finds its read overtaken by the tablet's write
    registrations.register(UserRef(APP, "vinson"), 1, TOKEN_A)

    # Then it read again and both devices are registered
    assert store.reads == 2
    assert sorted(device.token for device in store.get(APP, "vinson").devices) == [TOKEN_A, TOKEN_B]
