"""The end of a run (README "Dispatch", stage 6): every message of the batch that has something to tell gets
its summary, whatever the messages before it; the completion marker is written again after a failure, 0.1 s
later, then 0.2 s later (doubling), and the run does not wait after its third and last try."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from offline_push.logic.dispatch import Dispatcher, QueueRecord
from tests.integration.dispatch.test_dispatch_log_rules import NOT_COMPLETED, fail, lines
from tests.support.certificates import SDK_APP_ID
from tests.support.dispatch import DispatchHarness
from tests.support.jobs import ONE_TO_ONE, job_dict
from tests.support.logs import captured_logs

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


def is_run_marker(params: dict[str, Any]) -> bool:
    return str(params["Item"]["pk"]["S"]).startswith("run#")


def test_a_message_with_receivers_without_device_gets_its_summary_after_one_that_needs_none(
    harness: DispatchHarness, dispatcher: Dispatcher
) -> None:
    # Given vinson with a device and mum without
    harness.upload_certificate()
    harness.register("vinson")

    # When one run gets a message to vinson (nothing to tell beyond its delivery), then one to mum
    report = dispatcher.dispatch(
        [
            QueueRecord("m-1", json.dumps(job_dict(ONE_TO_ONE, MsgKey="to-vinson"))),
            QueueRecord("m-2", json.dumps(job_dict(ONE_TO_ONE, MsgKey="to-mum", To_Account=["mum"]))),
        ],
        remaining_seconds=20.0,
    )

    # Then mum's message summary says its receiver has no device
    assert report.summary() == {"Delivered": 1, "NotDelivered:NoDeviceRegistered": 1}
    status, summary = harness.message(SDK_APP_ID, "to-mum")
    assert (status, summary) == (
        200,
        {
            "sdkAppId": SDK_APP_ID,
            "msgKey": "to-mum",
            "notifications": 0,
            "outcomes": {"delivered": 0, "failed": 0, "retrying": 0, "sending": 0, "interrupted": 0},
            "failures": {},
            "retrying": {},
            "pushKind": "alert",
            "receiversWithoutDevice": 1,
            "receiversWithoutVoip": 0,
            "noPush": None,
            "invalidJob": None,
        },
    )


def test_the_completion_marker_is_tried_again_after_a_doubling_pause(
    harness: DispatchHarness, dispatcher: Dispatcher
) -> None:
    # Given DynamoDB failing the first two writes of the run's completion marker, and the pauses recorded
    harness.upload_certificate()
    harness.register("vinson")
    pauses: list[float] = []
    recording = dataclasses.replace(dispatcher, sleep=pauses.append)
    deliveries = recording.deliveries.client  # type: ignore[attr-defined]
    fail(deliveries, "PutItem", times=2, when=is_run_marker)

    # When a message is dispatched
    report = recording.dispatch([QueueRecord("m-1", json.dumps(ONE_TO_ONE))], remaining_seconds=20.0)

    # Then the marker was written on the third try, after pauses of 0.1 s and 0.2 s
    assert pauses == [0.1, 0.2]
    marker = deliveries.get_item(
        TableName=harness.aws.environment["DELIVERIES_TABLE"],
        Key={"pk": {"S": f"run#{report.run}"}, "sk": {"S": "-"}},
        ConsistentRead=True,
    )
    assert marker["Item"]["at"] == {"N": "1795000000000"}


def test_a_completion_marker_that_cannot_be_written_is_logged_after_three_tries_without_a_last_pause(
    harness: DispatchHarness, dispatcher: Dispatcher
) -> None:
    # Given DynamoDB failing every write of the run's completion marker, and the pauses recorded
    harness.upload_certificate()
    harness.register("vinson")
    pauses: list[float] = []
    recording = dataclasses.replace(dispatcher, sleep=pauses.append)
    deliveries = recording.deliveries.client  # type: ignore[attr-defined]
    fail(deliveries, "PutItem", times=3, when=is_run_marker)

    # When a message is dispatched
    with captured_logs(harness.app.logger.name) as logs:
        report = recording.dispatch([QueueRecord("m-1", json.dumps(ONE_TO_ONE))], remaining_seconds=20.0)

    # Then it tried three times, pausing 0.1 s and 0.2 s between tries and not after the last; the run says
    # so, and the message is not failed (coming back, it would resend what was delivered)
    assert pauses == [0.1, 0.2]
    assert [line["deliveries"] for line in lines(logs, NOT_COMPLETED)] == [1]
    assert (report.failed_message_ids, len(harness.received())) == ([], 1)
