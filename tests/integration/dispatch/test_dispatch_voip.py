"""Call invitations through the push queue: VoIP pushes to PushKit tokens, the alert fallback, no VoIP push
for an ordinary message, and the outcomes of VoIP pushes. Moto for AWS, the APNs sandbox over a real TLS
socket."""

from __future__ import annotations

import json
from typing import Any

import pytest

from local.apns_sandbox import Fault, FaultKind
from local.apple_pki import PushCertificateKind
from offline_push.models.credential import ApnsEnvironment, PushKind
from offline_push.models.delivery import DeliveryKey
from tests.support.certificates import BUNDLE_ID, SDK_APP_ID
from tests.support.dispatch import DispatchHarness
from tests.support.jobs import GROUP, MSG_KEY, ONE_TO_ONE, job_dict

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

VOIP_TOPIC = f"{BUNDLE_ID}.voip"
COLLAPSE_ID = "a5cd137eed1a410ff107dbbfa323aa0e"  # the formatter's default for (SdkAppId, MsgKey)
CALL = {"CallId": "call-7f3a", "MediaType": "video"}
REGISTERED_AT_MS = 1_790_000_000_000


def call_job(**call: Any) -> dict[str, Any]:
    return job_dict(ONE_TO_ONE, Call={**CALL, **call}, OfflinePushInfo={"Ext": "call denny"})


def phone(harness: DispatchHarness, user: str = "vinson") -> tuple[str, str]:
    """``user``'s phone registered with an APNs token and a PushKit token (universal certificate 1)."""
    [alert] = harness.register(user)[user]
    [voip] = harness.register(user, push_kind=PushKind.VOIP, keep=True)[user]
    return alert, voip


def only_delivery(harness: DispatchHarness, user: str) -> dict[str, Any]:
    status, view = harness.deliveries(SDK_APP_ID, user)
    assert status == 200
    [delivery] = view["deliveries"]
    return dict(delivery)


def test_a_call_rings_the_pushkit_token_with_a_voip_push_and_not_the_apns_token(
    harness: DispatchHarness,
) -> None:
    # Given vinson's phone registered for alerts and for PushKit, with an unread count of 2
    harness.upload_certificate(kind=PushCertificateKind.UNIVERSAL)
    alert, voip = phone(harness)

    # When denny calls him
    [message_id] = harness.enqueue(call_job())
    batches = harness.drain()

    # Then the PushKit token got the VoIP push: .voip topic, push type voip, priority 10, expiring now
    assert [(batch.message_ids, batch.failed) for batch in batches] == [((message_id,), [])]
    [notification] = harness.received(voip)
    received_at = notification.pop("receivedAt")
    assert isinstance(received_at, float)
    call = {"callId": "call-7f3a", "caller": "denny", "callerName": "Denny", "mediaType": "video"}
    headers = ("voip", VOIP_TOPIC, 10, 0, COLLAPSE_ID)
    assert notification == {
        "apnsId": DeliveryKey(SDK_APP_ID, MSG_KEY, "vinson", voip).apns_id,
        "deviceToken": voip,
        **dict(zip(("pushType", "topic", "priority", "expiration", "collapseId"), headers, strict=True)),
        "payload": {"call": call, "ext": "call denny"},
        "rawPayload": json.dumps({"call": call, "ext": "call denny"}, separators=(",", ":")),
        "environment": "development",
        "auth": "certificate",
    }
    # and the APNs token nothing; a call is not an unread message: the badge stays
    assert (harness.received(alert), harness.badge_of("vinson")) == ([], 0)
    status, summary = harness.message(SDK_APP_ID, MSG_KEY)
    assert (
        status,
        summary["pushKind"],
        summary["outcomes"]["delivered"],
        summary["receiversWithoutVoip"],
    ) == (
        200,
        "voip",
        1,
        0,
    )


def test_an_ordinary_message_never_goes_to_a_pushkit_token(harness: DispatchHarness) -> None:
    # Given vinson's phone registered with both tokens
    harness.upload_certificate(kind=PushCertificateKind.UNIVERSAL)
    alert, voip = phone(harness)

    # When denny sends a text message
    harness.enqueue(ONE_TO_ONE)
    harness.drain()

    # Then only the APNs token got it, as an alert (iOS kills an app given a VoIP push without a call)
    assert [n["pushType"] for n in harness.received(alert)] == ["alert"]
    assert harness.received(voip) == []


def test_an_ordinary_message_to_a_user_with_only_a_pushkit_token_has_no_device(
    harness: DispatchHarness,
) -> None:
    harness.upload_certificate(kind=PushCertificateKind.UNIVERSAL)
    [voip] = harness.register("vinson", push_kind=PushKind.VOIP)["vinson"]

    harness.enqueue(ONE_TO_ONE)
    harness.drain()

    _, summary = harness.message(SDK_APP_ID, MSG_KEY)
    assert (harness.received(voip), summary["pushKind"], summary["receiversWithoutDevice"]) == (
        [],
        "alert",
        1,
    )


@pytest.mark.parametrize(
    ("language", "media", "body"),
    [
        ("en", "audio", "Denny is calling you"),
        ("en", "video", "Denny is video calling you"),
        ("zh", "audio", "Denny邀请你语音通话"),
        ("zh", "video", "Denny邀请你视频通话"),
    ],
)
def test_a_receiver_without_a_pushkit_token_gets_the_alert_fallback_when_asked(
    harness: DispatchHarness, language: str, media: str, body: str
) -> None:
    # Given mum, registered for alerts only
    harness.upload_certificate(kind=PushCertificateKind.UNIVERSAL)
    [alert] = harness.register("mum")["mum"]

    # When denny calls her, the job asking for the alert fallback, in a language
    job = job_dict(
        ONE_TO_ONE,
        To_Account=["mum"],
        Call={**CALL, "MediaType": media, "AlertFallback": 1},
        OfflinePushInfo={"Ext": "call denny", "Language": language},
    )
    harness.enqueue(job)
    harness.drain()

    # Then her phone shows an alert saying who calls, with the ext, and no badge
    [notification] = harness.received(alert)
    assert (notification["topic"], notification["pushType"], notification["payload"]) == (
        BUNDLE_ID,
        "alert",
        {"aps": {"alert": {"body": body}, "sound": "default", "thread-id": "denny"}, "ext": "call denny"},
    )


def test_a_call_without_fallback_records_the_receivers_without_pushkit_token(
    harness: DispatchHarness,
) -> None:
    # Given a group call: vinson has a PushKit token, mum only an APNs token
    harness.upload_certificate(kind=PushCertificateKind.UNIVERSAL)
    _, voip = phone(harness)
    [mum] = harness.register("mum")["mum"]

    # When the call invitation (no alert fallback) is dispatched
    harness.enqueue(job_dict(GROUP, Call=CALL))
    batches = harness.drain()

    # Then vinson's phone rings, mum's gets nothing, and the summary counts her
    assert [batch.failed for batch in batches] == [[]]
    [notification] = harness.received(voip)
    assert notification["payload"] == {
        "call": {
            "callId": "call-7f3a",
            "caller": "denny",
            "callerName": "Denny",
            "mediaType": "video",
            "groupId": "@TGS#2J4SZEAEL",
        }
    }
    assert harness.received(mum) == []
    status, summary = harness.message(SDK_APP_ID, MSG_KEY)
    assert (status, summary["notifications"], summary["receiversWithoutVoip"], summary["pushKind"]) == (
        200,
        1,
        1,
        "voip",
    )


def test_a_voip_services_certificate_rings_with_its_own_client_certificate(harness: DispatchHarness) -> None:
    # Given a VoIP-only certificate (its UID is <bundle>.voip) and vinson's PushKit token under it
    business_id = harness.upload_certificate(kind=PushCertificateKind.VOIP)
    [voip] = harness.register("vinson", business_id=business_id, push_kind=PushKind.VOIP)["vinson"]

    # When denny calls
    harness.enqueue(call_job())
    harness.drain()

    # Then APNs accepted the VoIP push on the .voip topic
    assert [(n["topic"], n["pushType"], n["auth"]) for n in harness.received(voip)] == [
        (VOIP_TOPIC, "voip", "certificate")
    ]


def test_a_dead_pushkit_token_is_removed_on_410(harness: DispatchHarness) -> None:
    # Given vinson's PushKit token, which Apple reports unregistered after he registered it
    harness.upload_certificate(kind=PushCertificateKind.UNIVERSAL)
    alert, voip = phone(harness)
    harness.sandbox.state.register_device(
        voip, VOIP_TOPIC, ApnsEnvironment.DEVELOPMENT, unregistered_at_ms=REGISTERED_AT_MS + 60_000
    )

    # When denny calls
    harness.enqueue(call_job())
    harness.drain()

    # Then the PushKit registration is gone (the APNs one stays) and the record says why, as a voip push
    assert harness.devices_of("vinson") == [alert]
    delivery = only_delivery(harness, "vinson")
    assert delivery == {
        **delivery,
        "outcome": "failed",
        "pushKind": "voip",
        "reason": "Unregistered",
        "status": 410,
        "registrationRemoved": True,
    }
    assert "no longer valid for com.example.chat.voip since 2026-09-21T14:14:20.000Z" in delivery["cause"]
    _, view = harness.deliveries(SDK_APP_ID, "vinson")
    [removed] = view["removedDevices"]
    assert (removed["device"], removed["pushKind"], removed["reason"]) == (
        f"{voip[:8]}…(32B)",
        "voip",
        "Unregistered",
    )
    assert [(device["pushKind"], device["device"]) for device in view["devices"]] == [
        ("alert", f"{alert[:8]}…(32B)")
    ]


def test_a_pushkit_token_of_the_other_environment_is_removed_with_the_environment_cause(
    harness: DispatchHarness,
) -> None:
    # Given an App Store build's PushKit token registered with a development certificate
    harness.upload_certificate(kind=PushCertificateKind.UNIVERSAL)
    [voip] = harness.register(
        "vinson", push_kind=PushKind.VOIP, apple_environment=ApnsEnvironment.PRODUCTION
    )["vinson"]

    # When denny calls
    harness.enqueue(call_job())
    harness.drain()

    # Then APNs refused it, the registration is gone, and the cause names the environment mismatch
    assert (harness.received(voip), harness.devices_of("vinson")) == ([], [])
    delivery = only_delivery(harness, "vinson")
    assert (delivery["reason"], delivery["status"], delivery["pushKind"]) == ("BadDeviceToken", 400, "voip")
    assert delivery["cause"] == (
        "APNs refused the token for the development environment of certificate 1 (com.example.chat.voip): "
        "it comes from a TestFlight or App Store build, whose tokens need a production certificate (the "
        "app's environment and the certificate's must match), or it is not a device token at all; the "
        "registration was removed (the app registers again at its next login)"
    )


def test_a_voip_push_answered_503_is_retried_and_rings_once(harness: DispatchHarness) -> None:
    # Given APNs answering 503 to every attempt at vinson's PushKit token this time
    harness.upload_certificate(kind=PushCertificateKind.UNIVERSAL)
    _, voip = phone(harness)
    harness.sandbox.state.add_fault(Fault(FaultKind.STATUS, status=503, count=3, token=voip))

    # When the call is dispatched, and its retry task comes back
    harness.enqueue(call_job())
    harness.drain()

    # Then the phone rang once, with the VoIP push, on the second attempt
    assert [(n["pushType"], n["topic"]) for n in harness.received(voip)] == [("voip", VOIP_TOPIC)]
    delivery = only_delivery(harness, "vinson")
    assert (delivery["outcome"], delivery["attempts"], delivery["pushKind"]) == ("delivered", 2, "voip")


def test_a_pushkit_token_under_a_certificate_that_no_longer_serves_voip_is_recorded(
    harness: DispatchHarness,
) -> None:
    # Given a PushKit token registered under certificate 1, which now serves alerts only (rotated)
    harness.upload_certificate(kind=PushCertificateKind.DEVELOPMENT)
    [voip] = harness.register("vinson", push_kind=PushKind.VOIP)["vinson"]

    # When denny calls
    harness.enqueue(call_job())
    harness.drain()

    # Then nothing is sent, and the record says why
    assert harness.received(voip) == []
    delivery = only_delivery(harness, "vinson")
    assert (delivery["outcome"], delivery["reason"], delivery["cause"]) == (
        "failed",
        "PushKindNotServed",
        "certificate 1 no longer serves voip pushes",
    )


@pytest.mark.parametrize(
    ("push_info", "reason"),
    [({"PushFlag": 1}, "PushDisabled"), ({"Ext": "x" * 5100}, "ExtTooLarge")],
    ids=["push disabled", "ext over the VoIP limit"],
)
def test_a_call_that_gives_no_voip_push_is_recorded_with_its_reason(
    harness: DispatchHarness, push_info: dict[str, Any], reason: str
) -> None:
    # Given vinson's phone with both tokens
    harness.upload_certificate(kind=PushCertificateKind.UNIVERSAL)
    alert, voip = phone(harness)

    # When a call that cannot be pushed is dispatched
    harness.enqueue(job_dict(ONE_TO_ONE, Call=CALL, OfflinePushInfo=push_info))
    harness.drain()

    # Then nothing is sent, and the message's summary says why
    assert (harness.received(voip), harness.received(alert)) == ([], [])
    _, summary = harness.message(SDK_APP_ID, MSG_KEY)
    assert (summary["pushKind"], summary["notifications"], summary["noPush"]["reason"]) == ("voip", 0, reason)


def test_an_ext_too_large_for_the_fallback_alert_fails_only_the_fallback(harness: DispatchHarness) -> None:
    # Given vinson with a PushKit token and mum with an APNs token only
    harness.upload_certificate(kind=PushCertificateKind.UNIVERSAL)
    _, voip = phone(harness)
    [mum] = harness.register("mum")["mum"]

    # When a call with a 4,500-byte ext (fits 5,120 bytes, not an alert's 4,096) asks for the fallback
    ext = "x" * 4500
    harness.enqueue(job_dict(GROUP, Call={**CALL, "AlertFallback": 1}, OfflinePushInfo={"Ext": ext}))
    harness.drain()

    # Then vinson's phone rings with the whole ext; mum's alert is recorded as not sent, and why
    [ringing] = harness.received(voip)
    assert (ringing["payload"]["ext"], harness.received(mum)) == (ext, [])
    failed = only_delivery(harness, "mum")
    assert (failed["outcome"], failed["reason"]) == ("failed", "ExtTooLarge")
