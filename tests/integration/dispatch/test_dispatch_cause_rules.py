"""The causes recorded for pushes that never reach APNs (README "Dispatch", stage 5): a certificate deleted, a
device gone before its retry, each in the words the operator reads in the deliveries API."""

from __future__ import annotations

import boto3
import pytest

from local.apns_sandbox import Fault, FaultKind
from tests.support.certificates import SDK_APP_ID
from tests.support.dispatch import DispatchHarness
from tests.support.jobs import GROUP, ONE_TO_ONE, job_dict

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


def test_a_push_whose_certificate_does_not_exist_says_which_and_what_to_do(harness: DispatchHarness) -> None:
    # Given vinson registered with certificate 1, which does not exist
    harness.register("vinson")

    # When a message for him is dispatched
    harness.enqueue(ONE_TO_ONE)
    harness.drain()

    # Then nothing is sent and his record names the certificate, the app and the fix
    _, view = harness.deliveries(SDK_APP_ID, "vinson")
    [delivery] = view["deliveries"]
    assert (harness.received(), delivery["reason"], delivery["cause"]) == (
        [],
        "CertificateNotFound",
        f"certificate 1 of app {SDK_APP_ID} does not exist (deleted?): upload one and have the app call "
        "setAPNS with its businessId",
    )


def test_a_retry_for_a_device_gone_meanwhile_says_why_nothing_was_sent(harness: DispatchHarness) -> None:
    # Given a delivery to vinson waiting for its retry, and vinson logged out before it runs
    harness.upload_certificate()
    [token] = harness.register("vinson")["vinson"]
    harness.sandbox.state.add_fault(Fault(FaultKind.STATUS, status=503, count=3, token=token))
    harness.enqueue(ONE_TO_ONE)
    harness.invoke(harness.receive())
    boto3.client("dynamodb").delete_item(
        TableName=harness.aws.environment["REGISTRATIONS_TABLE"],
        Key={"pk": {"S": f"user#{SDK_APP_ID}#vinson"}},
    )

    # When the retry runs
    harness.drain()

    # Then the record gives the cause in words
    _, view = harness.deliveries(SDK_APP_ID, "vinson")
    [delivery] = view["deliveries"]
    assert (delivery["reason"], delivery["cause"], delivery["attempts"]) == (
        "DeviceNoLongerRegistered",
        "the device was logged out, kicked or re-registered elsewhere before this retry",
        2,
    )


def test_a_retry_of_a_device_gone_does_not_hold_back_the_other_retries_of_its_task(
    harness: DispatchHarness,
) -> None:
    # Given a group message whose pushes to vinson and mum both wait for their retry (one task holds both)
    harness.upload_certificate()
    tokens = harness.register(["vinson", "mum"])
    for [token] in tokens.values():
        harness.sandbox.state.add_fault(Fault(FaultKind.STATUS, status=503, count=3, token=token))
    harness.enqueue(job_dict(GROUP, To_Account=["vinson", "mum"]))
    harness.invoke(harness.receive())
    # ... and vinson logs out before the retry runs
    boto3.client("dynamodb").delete_item(
        TableName=harness.aws.environment["REGISTRATIONS_TABLE"],
        Key={"pk": {"S": f"user#{SDK_APP_ID}#vinson"}},
    )

    # When the retry task runs
    harness.drain()

    # Then mum's push is delivered, vinson's recorded as gone
    assert (len(harness.received(tokens["vinson"][0])), len(harness.received(tokens["mum"][0]))) == (0, 1)
    _, view = harness.deliveries(SDK_APP_ID, "vinson")
    assert [delivery["reason"] for delivery in view["deliveries"]] == ["DeviceNoLongerRegistered"]
