"""Every outcome of a notification: delivered, dead tokens (410, BadDeviceToken, DeviceTokenNotForTopic) and
their registrations, other final failures, retries (only of what failed, with the badge computed first) until
they run out, and certificates that are gone or unusable. Each one not delivered has a recorded reason."""

from __future__ import annotations

import boto3
import pytest

from local.apns_sandbox import Fault, FaultKind
from offline_push.models.credential import ApnsEnvironment
from offline_push.models.delivery import DeliveryKey
from tests.support.certificates import BUNDLE_ID, SDK_APP_ID, failing
from tests.support.dispatch import DispatchHarness
from tests.support.jobs import GROUP, MSG_KEY, ONE_TO_ONE, job_dict

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

REGISTERED_AT_MS = 1_790_000_000_000  # when the test registrations were made (store_devices' default)


def only_delivery(harness: DispatchHarness, user: str) -> dict[str, object]:
    status, view = harness.deliveries(SDK_APP_ID, user)
    assert status == 200
    [delivery] = view["deliveries"]
    return dict(delivery)


def test_a_410_removes_the_registration_made_before_apples_timestamp(harness: DispatchHarness) -> None:
    # Given vinson's token, which Apple reports unregistered after he registered it
    harness.upload_certificate()
    [token] = harness.register("vinson")["vinson"]
    harness.sandbox.state.register_device(
        token, BUNDLE_ID, ApnsEnvironment.DEVELOPMENT, unregistered_at_ms=REGISTERED_AT_MS + 60_000
    )

    # When a message is dispatched to him
    harness.enqueue(ONE_TO_ONE)
    harness.drain()

    # Then nothing was delivered, his registration is gone, and the record says why
    assert (harness.received(), harness.devices_of("vinson")) == ([], [])
    delivery = only_delivery(harness, "vinson")
    assert (delivery["outcome"], delivery["reason"], delivery["status"], delivery["registrationRemoved"]) == (
        "failed",
        "Unregistered",
        410,
        True,
    )
    assert "no longer valid for com.example.chat since 2026-09-21T14:14:20.000Z" in str(delivery["cause"])


def test_a_410_keeps_a_registration_made_after_apples_timestamp(harness: DispatchHarness) -> None:
    # Given a token Apple found dead, that the app registered again since (reinstalled, same token)
    harness.upload_certificate()
    tokens = harness.register("vinson")
    [token] = tokens["vinson"]
    harness.store_devices(
        tokens,
        business_id=1,
        environment=ApnsEnvironment.DEVELOPMENT,
        registered_at_ms=REGISTERED_AT_MS + 120_000,
    )
    harness.sandbox.state.register_device(
        token, BUNDLE_ID, ApnsEnvironment.DEVELOPMENT, unregistered_at_ms=REGISTERED_AT_MS + 60_000
    )

    # When a message is dispatched to him
    harness.enqueue(ONE_TO_ONE)
    harness.drain()

    # Then the newer registration stays, and the record says so
    assert harness.devices_of("vinson") == [token]
    delivery = only_delivery(harness, "vinson")
    assert (delivery["reason"], delivery.get("registrationRemoved")) == ("Unregistered", None)
    assert str(delivery["cause"]).endswith(
        "the registration was kept: the app registered the token again after that"
    )


def test_a_token_of_the_other_environment_is_removed_with_the_seeds_explanation(
    harness: DispatchHarness,
) -> None:
    # Given an App Store build's token registered with a development certificate (the seed's FAQ: the app's
    # environment and the certificate's differ)
    harness.upload_certificate(environment=ApnsEnvironment.DEVELOPMENT)
    harness.register("vinson", apple_environment=ApnsEnvironment.PRODUCTION)

    # When a message is dispatched to him
    harness.enqueue(ONE_TO_ONE)
    harness.drain()

    # Then Apple refused it, the registration is gone, and the cause names the mismatch
    assert (harness.received(), harness.devices_of("vinson")) == ([], [])
    delivery = only_delivery(harness, "vinson")
    assert (delivery["outcome"], delivery["reason"], delivery["status"]) == ("failed", "BadDeviceToken", 400)
    assert delivery["cause"] == (
        "APNs refused the token for the development environment of certificate 1 (com.example.chat): it "
        "comes from a TestFlight or App Store build, whose tokens need a production certificate (the app's "
        "environment and the certificate's must match), or it is not a device token at all; the registration "
        "was removed "
        "(the app registers again at its next login)"
    )


def test_a_token_of_another_app_is_removed_with_the_explanation(harness: DispatchHarness) -> None:
    # Given a token of another app registered with this app's certificate (a wrong businessId in setAPNS)
    harness.upload_certificate()
    harness.register("vinson", topic="com.example.other")

    # When a message is dispatched to him
    harness.enqueue(ONE_TO_ONE)
    harness.drain()

    # Then Apple refused it for the topic, the registration is gone, and the cause says why
    delivery = only_delivery(harness, "vinson")
    assert (delivery["reason"], harness.devices_of("vinson")) == ("DeviceTokenNotForTopic", [])
    assert str(delivery["cause"]).startswith(
        "the token belongs to another app than certificate 1's bundle id com.example.chat"
    )


def test_another_final_answer_is_recorded_and_not_retried(harness: DispatchHarness) -> None:
    # Given APNs refusing vinson's notification with a final 400
    harness.upload_certificate()
    [token] = harness.register("vinson")["vinson"]
    harness.sandbox.state.add_fault(
        Fault(FaultKind.STATUS, status=400, reason="TopicDisallowed", token=token)
    )

    # When it is dispatched
    harness.enqueue(ONE_TO_ONE)
    batches = harness.drain()

    # Then one attempt, no retry task, the registration kept, and the reason recorded
    assert (len(batches), harness.devices_of("vinson")) == (1, [token])
    delivery = only_delivery(harness, "vinson")
    assert (delivery["outcome"], delivery["reason"], delivery["status"], delivery["cause"]) == (
        "failed",
        "TopicDisallowed",
        400,
        "certificate 1 may not push to com.example.chat",
    )


def test_a_partial_failure_retries_only_the_failed_delivery_with_its_badge(harness: DispatchHarness) -> None:
    # Given a group of two where APNs answers 503 to every attempt at vinson's device this time
    harness.upload_certificate()
    [vinson] = harness.register("vinson")["vinson"]
    [mum] = harness.register("mum")["mum"]
    harness.sandbox.state.add_fault(Fault(FaultKind.STATUS, status=503, count=3, token=vinson))
    harness.enqueue(GROUP)

    # When the job is processed
    [batch] = [harness.invoke(harness.receive())]

    # Then the batch succeeded, mum got it, and one retry task holds just vinson's delivery and badge
    assert (batch.failed, len(harness.received(mum)), harness.received(vinson)) == ([], 1, [])
    [task] = harness.queued_bodies()
    assert task["OfflinePushTask"] == {"version": 1, "kind": "retry", "run": task["OfflinePushTask"]["run"]}
    assert task["Job"]["To_Account"] == ["vinson"]
    assert task["Deliveries"] == [
        {
            "userId": "vinson",
            "token": vinson,
            "businessId": 1,
            "badge": 1,
            "attempts": 1,
            "reason": "ServiceUnavailable",
            "unit": "j#",
        }
    ]
    retrying = only_delivery(harness, "vinson")
    assert (retrying["outcome"], retrying["reason"], retrying["status"]) == (
        "retrying",
        "ServiceUnavailable",
        503,
    )

    # When the retry task comes back from the queue
    harness.drain()

    # Then vinson got it once with the badge computed the first time, and nobody got anything twice
    assert [n["payload"]["aps"]["badge"] for n in harness.received(vinson)] == [1]
    assert (len(harness.received(mum)), harness.sandbox.state.duplicates()) == (1, {})
    assert (harness.badge_of("vinson"), harness.badge_of("mum")) == (1, 1)
    delivered = only_delivery(harness, "vinson")
    assert (delivered["outcome"], delivered["attempts"], "reason" in delivered) == ("delivered", 2, False)
    # APNs was asked 3 times (one batch, the client's own retries) then once more: mum only once
    assert harness.sandbox.state.responses == {"200": 2, "503 ServiceUnavailable": 3}


def test_retries_stop_after_the_last_attempt_with_a_final_reason(
    harness: DispatchHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given at most 2 attempts, and APNs answering 503 to every one
    monkeypatch.setenv("DISPATCH_MAX_ATTEMPTS", "2")
    harness.upload_certificate()
    [token] = harness.register("vinson")["vinson"]
    harness.sandbox.state.add_fault(Fault(FaultKind.STATUS, status=503, count=100, token=token))

    # When the job and its retry are processed
    harness.enqueue(ONE_TO_ONE)
    batches = harness.drain()

    # Then there was one retry, then a final "retries exhausted" record, and the queue is empty
    assert len(batches) == 2
    delivery = only_delivery(harness, "vinson")
    assert (delivery["outcome"], delivery["reason"], delivery["status"], delivery["attempts"]) == (
        "failed",
        "RetriesExhausted",
        503,
        2,
    )
    assert (
        delivery["cause"] == "APNs answered 503 ServiceUnavailable on the last of 2 attempts; no more retries"
    )
    assert harness.badge_of("vinson") == 1  # counted once, for the first attempt


def test_a_deleted_certificate_is_recorded_as_the_reason(harness: DispatchHarness) -> None:
    # Given vinson registered with certificate 1, which the operator then deleted
    harness.upload_certificate()
    harness.register("vinson")
    assert harness.certificates.delete(1).status == 204

    # When a message is dispatched to him
    harness.enqueue(ONE_TO_ONE)
    harness.drain()

    # Then nothing was sent and the record names the missing certificate
    delivery = only_delivery(harness, "vinson")
    assert (harness.received(), delivery["reason"], delivery["outcome"]) == (
        [],
        "CertificateNotFound",
        "failed",
    )
    _, view = harness.deliveries(SDK_APP_ID, "vinson")
    assert (
        view["devices"][0]["problem"] == "certificate 1 does not exist: nothing can be pushed to this device"
    )


def test_a_warm_dispatcher_stops_using_a_certificate_deleted_since_its_last_invocation(
    harness: DispatchHarness,
) -> None:
    # Given a warm dispatcher that has just pushed to vinson with certificate 1 (the credential is cached)
    harness.upload_certificate()
    [token] = harness.register("vinson")["vinson"]
    harness.enqueue(ONE_TO_ONE)
    harness.drain()
    assert len(harness.received(token)) == 1

    # When the operator deletes certificate 1 and the next message comes, to the same container
    assert harness.certificates.delete(1).status == 204
    harness.enqueue(job_dict(ONE_TO_ONE, MsgKey="after-delete"))
    harness.drain()

    # Then nothing more is sent, and the one delivery record (delivered pushes write none) names the
    # deleted certificate
    assert len(harness.received(token)) == 1
    status, view = harness.deliveries(SDK_APP_ID, "vinson")
    [latest] = view["deliveries"]
    assert (status, latest["msgKey"], latest["outcome"], latest["reason"]) == (
        200,
        "after-delete",
        "failed",
        "CertificateNotFound",
    )


def test_an_unusable_certificate_file_is_recorded_as_the_reason(harness: DispatchHarness) -> None:
    # Given certificate 1's stored file damaged
    harness.upload_certificate()
    harness.register("vinson")
    item = boto3.client("dynamodb").get_item(
        TableName=harness.aws.environment["CERTIFICATES_TABLE"],
        Key={"sdkAppId": {"S": str(SDK_APP_ID)}, "businessId": {"N": "1"}},
    )["Item"]
    boto3.client("s3").put_object(
        Bucket=harness.aws.environment["CERTIFICATE_BUCKET"], Key=item["objectKey"]["S"], Body=b"not a p12"
    )

    # When a message is dispatched
    harness.enqueue(ONE_TO_ONE)
    harness.drain()

    # Then the record says the credential cannot be used, and why
    delivery = only_delivery(harness, "vinson")
    assert (
        delivery["reason"],
        str(delivery["cause"]).startswith("certificate 1 of app 1400000001 cannot be used"),
    ) == (
        "CredentialUnusable",
        True,
    )


def test_a_storage_outage_while_loading_the_certificate_is_retried_not_lost(harness: DispatchHarness) -> None:
    # Given S3 failing the first read of the certificate file
    harness.upload_certificate()
    [token] = harness.register("vinson")["vinson"]
    s3 = harness.app.dispatcher().credentials.repository.files.s3

    # When the job is processed during the outage, then its retry after it
    with failing(s3, "GetObject", times=1):
        harness.enqueue(ONE_TO_ONE)
        first = harness.invoke(harness.receive())
    [task] = harness.queued_bodies()
    harness.drain()

    # Then the first run scheduled a retry (StorageUnavailable) that delivered it once
    assert (first.failed, task["Deliveries"][0]["reason"]) == ([], "StorageUnavailable")
    assert [n["apnsId"] for n in harness.received(token)] == [
        DeliveryKey(SDK_APP_ID, MSG_KEY, "vinson", token).apns_id
    ]


def test_a_retry_for_a_device_logged_out_meanwhile_sends_nothing(harness: DispatchHarness) -> None:
    # Given a delivery to vinson waiting for its retry
    harness.upload_certificate()
    [token] = harness.register("vinson")["vinson"]
    harness.sandbox.state.add_fault(Fault(FaultKind.STATUS, status=503, count=3, token=token))
    harness.enqueue(ONE_TO_ONE)
    harness.invoke(harness.receive())

    # When vinson logs out before the retry runs
    boto3.client("dynamodb").delete_item(
        TableName=harness.aws.environment["REGISTRATIONS_TABLE"],
        Key={"pk": {"S": f"user#{SDK_APP_ID}#vinson"}},
    )
    harness.drain()

    # Then nothing reached his former device and the record says why
    delivery = only_delivery(harness, "vinson")
    assert (harness.received(token), delivery["outcome"], delivery["reason"]) == (
        [],
        "failed",
        "DeviceNoLongerRegistered",
    )
