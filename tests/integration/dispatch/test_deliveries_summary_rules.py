"""The deliveries API's answers rule by rule (README "Deliveries API"): a message's whole summary when it gave
no notification, the 404 for a message with no record, a refused notification counted once, and the devices
APNs made us remove listed on every page, whichever page holds the record of the removal. Moto for AWS, the
APNs sandbox over a real TLS socket."""

from __future__ import annotations

import time
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

import pytest

from local.apns_sandbox import Fault, FaultKind
from offline_push.models.credential import ApnsEnvironment
from tests.support.certificates import SDK_APP_ID
from tests.support.dispatch import DispatchHarness
from tests.support.jobs import MSG_KEY, ONE_TO_ONE, job_dict

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


def send(harness: DispatchHarness, msg_key: str) -> None:
    harness.enqueue(job_dict(ONE_TO_ONE, MsgKey=msg_key))
    harness.drain()
    time.sleep(0.002)  # records are ordered by the millisecond of their claim


def refuse(harness: DispatchHarness, token: str, reason: str, status: int = 400) -> None:
    harness.sandbox.state.add_fault(
        Fault(FaultKind.STATUS, status=status, reason=reason, token=token, count=1)
    )


def pages(harness: DispatchHarness, user: str) -> list[dict[str, Any]]:
    """Every page of ``user``'s deliveries, one record per page."""
    status, page = harness.deliveries(SDK_APP_ID, user, limit="1")
    found = [page]
    while status == HTTPStatus.OK and page["nextCursor"]:
        status, page = harness.deliveries(SDK_APP_ID, user, limit="1", cursor=page["nextCursor"])
        found.append(page)
    assert status == HTTPStatus.OK
    return found


def test_a_message_pushed_to_nobody_has_its_whole_summary_with_the_reason_in_words(
    harness: DispatchHarness,
) -> None:
    # Given vinson's device and a message whose sender turned offline push off
    harness.upload_certificate()
    harness.register("vinson")
    harness.enqueue(job_dict(ONE_TO_ONE, OfflinePushInfo={"PushFlag": 1}))
    harness.drain()

    # When an operator reads its summary
    status, summary = harness.message(SDK_APP_ID, MSG_KEY)

    # Then it says no notification was made, and why in words
    assert (status, summary) == (
        HTTPStatus.OK,
        {
            "sdkAppId": SDK_APP_ID,
            "msgKey": MSG_KEY,
            "notifications": 0,
            "outcomes": {"delivered": 0, "failed": 0, "retrying": 0, "sending": 0, "interrupted": 0},
            "failures": {},
            "retrying": {},
            "pushKind": "alert",
            "receiversWithoutDevice": 0,
            "receiversWithoutVoip": 0,
            "noPush": {"reason": "PushDisabled", "message": "the message disables offline push (PushFlag 1)"},
            "invalidJob": None,
        },
    )


def test_a_message_with_no_record_is_404_naming_it_and_saying_records_expire(
    harness: DispatchHarness,
) -> None:
    assert harness.message(SDK_APP_ID, "never-sent") == (
        HTTPStatus.NOT_FOUND,
        {
            "code": "MessageNotFound",
            "message": f"no record of message 'never-sent' in app {SDK_APP_ID} "
            "(records expire after a few days)",
        },
    )


def test_a_refused_notification_is_counted_once_not_again_as_part_of_its_unit(
    harness: DispatchHarness,
) -> None:
    # Given vinson's only device, whose token APNs refuses
    harness.upload_certificate()
    [token] = harness.register("vinson")["vinson"]
    refuse(harness, token, "TopicDisallowed")

    # When a one-to-one message is dispatched and its summary read
    send(harness, MSG_KEY)
    status, summary = harness.message(SDK_APP_ID, MSG_KEY)

    # Then the message made one notification: failed, none delivered
    assert (status, summary["notifications"], summary["outcomes"], summary["failures"]) == (
        HTTPStatus.OK,
        1,
        {"delivered": 0, "failed": 1, "retrying": 0, "sending": 0, "interrupted": 0},
        {"TopicDisallowed": 1},
    )


def test_a_device_removed_before_the_first_page_is_listed_on_the_first_page(harness: DispatchHarness) -> None:
    # Given vinson's two phones: the old one's token removed on APNs' BadDeviceToken at m-1, then two messages
    # the new one's token was refused (it stays registered)
    harness.upload_certificate(environment=ApnsEnvironment.DEVELOPMENT)
    [old] = harness.register("vinson", apple_environment=ApnsEnvironment.PRODUCTION)["vinson"]
    [new] = harness.register("vinson", keep=True)["vinson"]
    send(harness, "m-1")
    for key in ("m-2", "m-3"):
        refuse(harness, new, "TopicDisallowed")
        send(harness, key)

    # When the operator reads vinson's deliveries one per page
    found = pages(harness, "vinson")

    # Then every page, the first (m-3) too, lists the old phone as removed, and only it
    assert [[d["msgKey"] for d in page["deliveries"]] for page in found] == [["m-3"], ["m-2"], ["m-1"]]
    assert [[(r["device"], r["msgKey"]) for r in page["removedDevices"]] for page in found] == [
        [(f"{old[:8]}…(32B)", "m-1")]
    ] * 3


def test_a_device_removed_last_is_still_listed_on_the_last_page(harness: DispatchHarness) -> None:
    # Given vinson's two phones: the new one's token refused twice (it stays registered), then the old one's
    # removed on APNs' 410 Unregistered at m-3
    harness.upload_certificate()
    [new] = harness.register("vinson")["vinson"]
    [old] = harness.register("vinson", keep=True)["vinson"]
    for key in ("m-1", "m-2"):
        refuse(harness, new, "TopicDisallowed")
        send(harness, key)
    refuse(harness, old, "Unregistered", status=410)
    send(harness, "m-3")

    # When the operator reads vinson's deliveries one per page
    found = pages(harness, "vinson")

    # Then the last page (m-1, read with a cursor) lists the old phone as removed too
    assert [[d["msgKey"] for d in page["deliveries"]] for page in found] == [["m-3"], ["m-2"], ["m-1"]]
    assert [[(r["device"], r["msgKey"]) for r in page["removedDevices"]] for page in found] == [
        [(f"{old[:8]}…(32B)", "m-3")]
    ] * 3


def test_a_users_registrations_are_read_consistently_and_one_page_of_all_records_with_one_query(
    harness: DispatchHarness,
) -> None:
    # Given vinson's two refused messages (two records), and the reads of the deliveries function watched
    harness.upload_certificate()
    [token] = harness.register("vinson")["vinson"]
    for key in ("m-1", "m-2"):
        refuse(harness, token, "TopicDisallowed")
        send(harness, key)
    reports = harness.deliveries_app.reports()
    reads: list[tuple[str, Any]] = []

    def watch(operation: str) -> Callable[..., None]:
        return lambda params, **_: reads.append((operation, params.get("ConsistentRead")))

    for client in (reports.registrations.client, reports.deliveries.client):
        for operation in ("GetItem", "Query"):
            client.meta.events.register(
                f"provide-client-params.dynamodb.{operation}",
                watch(operation),
                unique_id=f"watch-{operation}",
            )

    # When an operator reads his deliveries, 20 per page: all of them on the first
    status, view = harness.deliveries(SDK_APP_ID, "vinson", limit="20")

    # Then his registrations are read consistently (a device registered a moment ago shows), and his
    # records with one query: the page holds the newest ones the removed devices are looked for in
    assert (status, [d["msgKey"] for d in view["deliveries"]], view["nextCursor"]) == (
        HTTPStatus.OK,
        ["m-2", "m-1"],
        None,
    )
    assert sorted(reads, key=lambda read: read[0]) == [("GetItem", True), ("Query", None)]
