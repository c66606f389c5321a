"""The devices of a user's deliveries answer (README "Deliveries API"): each with its certificate, read once
per certificate and eventually consistent; a certificate that does not exist is a problem named on the
device, one that cannot be read now says so."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from offline_push.dal.registration_store import device_to_attribute, user_key
from offline_push.models.credential import ApnsEnvironment
from offline_push.models.registration import DeviceRegistration, from_epoch_millis
from tests.support.certificates import BUNDLE_ID, SDK_APP_ID
from tests.support.dispatch import DispatchHarness

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


def test_each_device_shows_its_certificate_read_once_and_eventually_consistent(
    harness: DispatchHarness,
) -> None:
    # Given vinson with two devices on certificate 1 and one on certificate 2, which does not exist
    harness.upload_certificate()
    harness.store_devices(
        {"vinson": ["ab" * 32, "ef" * 32]}, business_id=1, environment=ApnsEnvironment.DEVELOPMENT
    )
    other = DeviceRegistration(
        token="cd" * 32,
        business_id=2,
        environment=ApnsEnvironment.PRODUCTION,
        registered_at=from_epoch_millis(1_790_000_000_000),
    )
    harness.dynamodb.update_item(
        TableName=harness.aws.environment["REGISTRATIONS_TABLE"],
        Key=user_key(SDK_APP_ID, "vinson"),
        UpdateExpression="SET devices.#token = :device",
        ExpressionAttributeNames={"#token": other.token},
        ExpressionAttributeValues={":device": device_to_attribute(other)},
    )
    client = harness.deliveries_app.reports().certificates.client
    reads: list[dict[str, Any]] = []
    client.meta.events.register(
        "provide-client-params.dynamodb.GetItem", lambda params, **_: reads.append(params), unique_id="reads"
    )

    # When an operator reads vinson's deliveries
    _, view = harness.deliveries(SDK_APP_ID, "vinson")

    # Then each certificate is read once, eventually consistent, and the missing one is named on its device
    certificate = {"name": "Chat", "bundleId": BUNDLE_ID, "environment": "development", "type": "p12"}
    by_business_id = {device["businessId"]: device for device in view["devices"]}
    assert by_business_id[2] == {
        "device": "cdcdcdcd…(32B)",
        "pushKind": "alert",
        "businessId": 2,
        "environment": "production",
        "registeredAt": "2026-09-21T14:13:20.000Z",
        "certificate": None,
        "problem": "certificate 2 does not exist: nothing can be pushed to this device",
    }
    assert by_business_id[1]["certificate"] == certificate
    assert [(read["Key"]["businessId"], read["ConsistentRead"]) for read in reads] == [
        ({"N": str(business_id)}, False)
        for business_id in sorted(by_business_id, key=list(by_business_id).index)
    ]


def test_a_certificate_that_cannot_be_read_now_is_shown_unavailable(harness: DispatchHarness) -> None:
    harness.upload_certificate()
    harness.register("vinson", at_apple=False)
    client = harness.deliveries_app.reports().certificates.client

    def down(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "InternalServerError", "Message": "down"}}, "GetItem")

    client.meta.events.register("provide-client-params.dynamodb.GetItem", down, unique_id="down")

    _, view = harness.deliveries(SDK_APP_ID, "vinson")

    [device] = view["devices"]
    assert device["certificate"] == {"unavailable": True}
    assert "problem" not in device
