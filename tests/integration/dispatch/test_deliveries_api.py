"""The operator's deliveries API (admin, read-only): a user's devices and deliveries newest first, paged; "no
device registered" when that is the answer; a message's counts per outcome and reason."""

from __future__ import annotations

import json
import time
from http import HTTPStatus

import pytest

from local.apns_sandbox import Fault, FaultKind
from offline_push.models.credential import ApnsEnvironment
from offline_push.models.delivery import DeliveryKey
from tests.support.certificates import BUNDLE_ID, SDK_APP_ID
from tests.support.dispatch import DispatchHarness
from tests.support.events import ADMIN_ARN, LambdaContext, http_event, response_json
from tests.support.jobs import GROUP, MSG_KEY, ONE_TO_ONE, job_dict
from tests.support.logs import captured_logs

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


def send_messages(harness: DispatchHarness, keys: list[str], **fields: object) -> None:
    for key in keys:
        harness.enqueue(job_dict(ONE_TO_ONE, MsgKey=key, **fields))
        harness.drain()
        time.sleep(0.002)  # records are ordered by the millisecond of their claim


def refuse(harness: DispatchHarness, token: str, count: int) -> None:
    """APNs refuses the next ``count`` notifications to ``token`` (a final answer: each gets a record)."""
    harness.sandbox.state.add_fault(
        Fault(FaultKind.STATUS, status=400, reason="TopicDisallowed", token=token, count=count)
    )


def test_a_users_deliveries_come_newest_first_in_pages(harness: DispatchHarness) -> None:
    # Given five messages to vinson, one after the other, that APNs refused
    harness.upload_certificate()
    [token] = harness.register("vinson")["vinson"]
    refuse(harness, token, 5)
    send_messages(harness, ["m-1", "m-2", "m-3", "m-4", "m-5"])

    # When an operator reads them two at a time
    pages = []
    status, page = harness.deliveries(SDK_APP_ID, "vinson", limit="2")
    pages.append(page)
    while page["nextCursor"]:
        status, page = harness.deliveries(SDK_APP_ID, "vinson", limit="2", cursor=page["nextCursor"])
        assert status == HTTPStatus.OK
        pages.append(page)

    # Then the pages hold them newest first, each with its device hint, apns-id and why it failed
    assert [[d["msgKey"] for d in page["deliveries"]] for page in pages] == [
        ["m-5", "m-4"],
        ["m-3", "m-2"],
        ["m-1"],
    ]
    first = pages[0]
    newest = first["deliveries"][0]
    assert newest == {
        "msgKey": "m-5",
        "outcome": "failed",
        "at": newest["at"],
        "device": f"{token[:8]}…(32B)",
        "businessId": 1,
        "environment": "development",
        "apnsId": DeliveryKey(SDK_APP_ID, "m-5", "vinson", token).apns_id,
        "badge": 5,
        "attempts": 1,
        "reason": "TopicDisallowed",
        "status": 400,
        "cause": "certificate 1 may not push to com.example.chat",
    }
    assert {key: first[key] for key in ("sdkAppId", "userId", "devices", "recorded")} == {
        "sdkAppId": SDK_APP_ID,
        "userId": "vinson",
        "devices": [
            {
                "device": f"{token[:8]}…(32B)",
                "businessId": 1,
                "environment": "development",
                "pushKind": "alert",
                "registeredAt": "2026-09-21T14:13:20.000Z",
                "certificate": {
                    "name": "Chat",
                    "bundleId": BUNDLE_ID,
                    "environment": "development",
                    "type": "p12",
                },
            }
        ],
        "recorded": "failures and retries only",
    }
    assert "diagnosis" not in first
    assert first["removedDevices"] == []


def test_a_user_without_a_device_is_told_so(harness: DispatchHarness) -> None:
    # Given dad, who never registered a device, in a group message
    harness.upload_certificate()
    harness.register("vinson")
    harness.enqueue(job_dict(GROUP, To_Account=["vinson", "dad"]))
    harness.drain()

    # When an operator asks why dad got no push
    status, view = harness.deliveries(SDK_APP_ID, "dad")

    # Then the answer is the seed's: no device registered, and the message is listed as such
    assert status == HTTPStatus.OK
    assert (view["devices"], view["removedDevices"]) == ([], [])
    assert view["diagnosis"] == {
        "reason": "NoDeviceRegistered",
        "message": "the user has no registered device: the app never called setAPNS after logging in (or "
        "with a certificate of this app), or the user logged out or was kicked by a login on another device",
    }
    assert view["deliveries"] == []


def test_delivered_notifications_are_not_listed_and_failures_are(harness: DispatchHarness) -> None:
    # Given a message delivered to vinson, then one refused by APNs
    harness.upload_certificate()
    [token] = harness.register("vinson")["vinson"]
    send_messages(harness, ["m-1"])
    harness.sandbox.state.add_fault(
        Fault(FaultKind.STATUS, status=400, reason="TopicDisallowed", token=token)
    )
    send_messages(harness, ["m-2"])

    # When an operator reads vinson's deliveries
    status, view = harness.deliveries(SDK_APP_ID, "vinson")

    # Then only the failure is listed, and the answer says what is recorded
    assert (status, view["recorded"]) == (HTTPStatus.OK, "failures and retries only")
    assert [(d["msgKey"], d["outcome"], d["reason"]) for d in view["deliveries"]] == [
        ("m-2", "failed", "TopicDisallowed")
    ]
    # ... while the message summary still counts the delivered one
    status, summary = harness.message(SDK_APP_ID, "m-1")
    assert summary["outcomes"]["delivered"] == 1


def test_a_message_summary_counts_outcomes_and_reasons(harness: DispatchHarness) -> None:
    # Given a group message: delivered to vinson, refused for mum's token (wrong environment), dad without a
    # device, and uncle's device in retry
    harness.upload_certificate()
    harness.register("vinson")
    harness.register("mum", apple_environment=ApnsEnvironment.PRODUCTION)
    [uncle] = harness.register("uncle")["uncle"]
    harness.sandbox.state.add_fault(Fault(FaultKind.STATUS, status=503, count=3, token=uncle))
    harness.enqueue(job_dict(GROUP, To_Account=["vinson", "mum", "dad", "uncle"]))
    harness.invoke(harness.receive())

    # When an operator reads the message's summary
    status, summary = harness.message(SDK_APP_ID, MSG_KEY)

    # Then every notification is counted once under its outcome, failures and retries by reason
    assert (status, summary) == (
        HTTPStatus.OK,
        {
            "sdkAppId": SDK_APP_ID,
            "msgKey": MSG_KEY,
            "notifications": 3,
            "outcomes": {"delivered": 1, "failed": 1, "retrying": 1, "sending": 0, "interrupted": 0},
            "failures": {"BadDeviceToken": 1},
            "retrying": {"ServiceUnavailable": 1},
            "pushKind": "alert",
            "receiversWithoutDevice": 1,
            "receiversWithoutVoip": 0,
            "noPush": None,
            "invalidJob": None,
        },
    )


@pytest.mark.parametrize(
    ("path", "query", "status", "code"),
    [
        ("/v1/apps/1400000001/messages/never-sent", None, HTTPStatus.NOT_FOUND, "MessageNotFound"),
        ("/v1/apps/0/users/vinson/deliveries", None, HTTPStatus.BAD_REQUEST, "InvalidRequest"),
        (
            "/v1/apps/1400000001/users/vinson/deliveries",
            {"limit": "0"},
            HTTPStatus.BAD_REQUEST,
            "InvalidRequest",
        ),
        (
            "/v1/apps/1400000001/users/vinson/deliveries",
            {"limit": "x"},
            HTTPStatus.BAD_REQUEST,
            "InvalidRequest",
        ),
        (
            "/v1/apps/1400000001/users/vinson/deliveries",
            {"cursor": "!!"},
            HTTPStatus.BAD_REQUEST,
            "InvalidRequest",
        ),
    ],
)
def test_bad_requests_get_a_clear_4xx(
    harness: DispatchHarness, path: str, query: dict[str, str] | None, status: HTTPStatus, code: str
) -> None:
    raw = harness.deliveries_app.lambda_handler(
        http_event("GET", path, query=query, admin=True), LambdaContext()
    )

    assert (raw["statusCode"], response_json(raw)["code"]) == (status, code)


def test_a_cursor_of_another_user_is_refused(harness: DispatchHarness) -> None:
    # Given a page of vinson's deliveries with a next cursor
    harness.upload_certificate()
    [token] = harness.register(["vinson", "mum"])["vinson"]
    refuse(harness, token, 2)
    send_messages(harness, ["m-1", "m-2"])
    _, page = harness.deliveries(SDK_APP_ID, "vinson", limit="1")

    # When it is used for mum's deliveries
    status, answer = harness.deliveries(SDK_APP_ID, "mum", cursor=page["nextCursor"])

    # Then it is refused
    assert (status, answer) == (
        HTTPStatus.BAD_REQUEST,
        {"code": "InvalidRequest", "message": "cursor is not one this API returned for this user"},
    )


def test_the_deliveries_api_needs_an_admin(harness: DispatchHarness) -> None:
    raw = harness.deliveries_app.lambda_handler(
        http_event("GET", "/v1/apps/1400000001/users/vinson/deliveries", admin=False), LambdaContext()
    )

    assert (raw["statusCode"], response_json(raw)) == (
        HTTPStatus.FORBIDDEN,
        {"code": "Forbidden", "message": "this route needs an IAM-authorized (admin) caller"},
    )


def test_admin_reads_of_deliveries_log_the_caller_and_what_was_read(harness: DispatchHarness) -> None:
    # Given a user's deliveries and a message's summary to read
    harness.upload_certificate()
    harness.register(["vinson"])
    send_messages(harness, ["m-1"])

    # When an admin reads both
    with captured_logs(harness.deliveries_app.logger.name) as logs:
        harness.deliveries(SDK_APP_ID, "vinson")
        harness.message(SDK_APP_ID, "m-1")

    # Then each read is logged with the caller's IAM principal and what was read, and nothing else of the call
    reads = [
        {
            key: value
            for key, value in line.items()
            if key in ("message", "caller", "sdkAppId", "userId", "msgKey")
        }
        for line in map(json.loads, logs.getvalue().splitlines())
        if line.get("message", "").endswith(" read")
    ]
    assert reads == [
        {"message": "user deliveries read", "caller": ADMIN_ARN, "sdkAppId": SDK_APP_ID, "userId": "vinson"},
        {"message": "message summary read", "caller": ADMIN_ARN, "sdkAppId": SDK_APP_ID, "msgKey": "m-1"},
    ]


def test_a_user_whose_token_apns_refused_is_told_when_and_why_it_was_removed(
    harness: DispatchHarness,
) -> None:
    # Given an App Store build's token registered with a development certificate, and a message to it that
    # APNs refused (the seed's FAQ: the environments differ), then four more messages with no device left
    harness.upload_certificate(environment=ApnsEnvironment.DEVELOPMENT)
    [token] = harness.register("vinson", apple_environment=ApnsEnvironment.PRODUCTION)["vinson"]
    send_messages(harness, ["m-1", "m-2", "m-3", "m-4", "m-5"])

    # When an operator asks why vinson gets no push, one record per page
    status, view = harness.deliveries(SDK_APP_ID, "vinson", limit="1")

    # Then the diagnosis is APNs' answer, when it came and its cause in words, not "never called setAPNS"
    assert status == HTTPStatus.OK
    [removed] = view["removedDevices"]
    cause = (
        "APNs refused the token for the development environment of certificate 1 (com.example.chat): it "
        "comes from a TestFlight or App Store build, whose tokens need a production certificate (the app's "
        "environment and the certificate's must match), or it is not a device token at all; the registration "
        "was removed (the app registers again at its next login)"
    )
    assert removed == {
        "device": f"{token[:8]}…(32B)",
        "businessId": 1,
        "environment": "development",
        "pushKind": "alert",
        "removedAt": removed["removedAt"],
        "msgKey": "m-1",
        "reason": "BadDeviceToken",
        "status": 400,
        "cause": cause,
    }
    assert view["devices"] == []
    assert view["diagnosis"] == {
        "reason": "DeviceRemoved",
        "message": f"APNs answered 400 BadDeviceToken at {removed['removedAt']} for device {token[:8]}…(32B) "
        f"(certificate 1, development): {cause}",
    }
    # ... and the time is when APNs answered, not before the first message was claimed
    [m1] = [
        d
        for d in harness.deliveries(SDK_APP_ID, "vinson", limit="100")[1]["deliveries"]
        if d["msgKey"] == "m-1"
    ]
    assert removed["removedAt"] >= m1["at"]


def test_a_device_registered_again_after_its_removal_is_not_reported_removed(
    harness: DispatchHarness,
) -> None:
    # Given vinson's token refused by APNs and removed, and then the app registering the same token again
    harness.upload_certificate(environment=ApnsEnvironment.DEVELOPMENT)
    [token] = harness.register("vinson", apple_environment=ApnsEnvironment.PRODUCTION)["vinson"]
    send_messages(harness, ["m-1"])
    harness.store_devices(
        {"vinson": [token]},
        business_id=1,
        environment=ApnsEnvironment.DEVELOPMENT,
        registered_at_ms=int(time.time() * 1000),
    )

    # When an operator looks him up
    status, view = harness.deliveries(SDK_APP_ID, "vinson")

    # Then the device is listed as registered, not as removed, and there is no diagnosis
    assert status == HTTPStatus.OK
    assert ([d["device"] for d in view["devices"]], view["removedDevices"]) == ([f"{token[:8]}…(32B)"], [])
    assert "diagnosis" not in view
