"""A run as a whole (README "Dispatch"): how long its claims hold, the time it keeps to record outcomes, and
the one log line that sums it up."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from offline_push.logic.dispatch import Dispatcher, QueueRecord
from offline_push.models.credential import ApnsEnvironment
from offline_push.models.delivery import DeliveryKey
from tests.support.certificates import SDK_APP_ID
from tests.support.dispatch import DispatchHarness
from tests.support.jobs import MSG_KEY, ONE_TO_ONE, job_dict
from tests.support.logs import captured_logs

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

NOW = 1_795_000_000.0
STAGES = {"parse", "registrations", "claims", "badges", "credentials", "send", "record"}


def test_a_runs_claim_holds_for_its_remaining_time_plus_the_margin_and_its_summary_is_logged(
    harness: DispatchHarness, dispatcher: Dispatcher
) -> None:
    # Given vinson's device and a one-to-one job
    harness.upload_certificate()
    harness.register("vinson")

    # When a run with 20 seconds left processes it
    with captured_logs(harness.app.logger.name) as logs:
        report = dispatcher.dispatch(
            [QueueRecord("message-1", json.dumps(ONE_TO_ONE))], remaining_seconds=20.0
        )

    # Then its unit is leased until now + 20 s + the 30 s margin, the push is delivered
    unit = harness.dynamodb.get_item(
        TableName=harness.aws.environment["DELIVERIES_TABLE"],
        Key={"pk": {"S": f"i#{SDK_APP_ID}#{MSG_KEY}"}, "sk": {"S": "j#"}},
        ConsistentRead=True,
    )["Item"]
    assert unit["lease"] == {"N": str(int(NOW) + 50)}
    assert unit["run"] == {"S": report.run}
    assert len(harness.received()) == 1
    # And the run's log line counts its messages and outcomes, with the time of each stage
    assert set(report.seconds) == STAGES
    [line] = [json.loads(text) for text in logs.getvalue().splitlines() if '"push batch dispatched"' in text]
    assert {key: line[key] for key in ("message", "run", "messages", "failedMessages", "outcomes")} == {
        "message": "push batch dispatched",
        "run": report.run,
        "messages": 1,
        "failedMessages": 0,
        "outcomes": {"Delivered": 1},
    }
    assert set(line["seconds"]) == STAGES


def test_a_run_with_less_time_left_than_its_reserve_sends_nothing_and_retries_everything(
    harness: DispatchHarness, dispatcher: Dispatcher
) -> None:
    # Given vinson's device and a run with 4 seconds left, under the 5 seconds kept to record outcomes
    harness.upload_certificate()
    harness.register("vinson")

    # When the run processes a job
    report = dispatcher.dispatch([QueueRecord("message-1", json.dumps(ONE_TO_ONE))], remaining_seconds=4.0)

    # Then nothing reaches APNs, and the push is retried with the reason
    assert harness.received() == []
    assert report.summary() == {"RetryScheduled:DeadlineExceeded": 1}
    assert report.failed_message_ids == []


def fail_next(client: Any, operation: str) -> None:
    """Make ``client``'s next ``operation`` fail as DynamoDB does when it is unavailable."""
    service = client.meta.service_model.service_id.hyphenize()
    event = f"provide-client-params.{service}.{operation}"

    def hook(params: dict[str, Any], **_: Any) -> None:
        client.meta.events.unregister(event, unique_id="fail-next")
        raise ClientError({"Error": {"Code": "InternalServerError", "Message": "down"}}, operation)

    client.meta.events.register(event, hook, unique_id="fail-next")


def test_a_run_whose_badge_increment_fails_sends_the_badge_it_read_plus_one_per_message(
    harness: DispatchHarness, dispatcher: Dispatcher
) -> None:
    # Given vinson with 4 unread messages, and a counter that cannot be written this time
    harness.upload_certificate()
    tokens = harness.register("vinson")
    harness.store_devices(tokens, business_id=1, environment=ApnsEnvironment.DEVELOPMENT, badge=4)
    [token] = tokens["vinson"]
    fail_next(dispatcher.registrations.client, "UpdateItem")  # type: ignore[attr-defined]

    # When two messages for him are in one run
    dispatcher.dispatch(
        [
            QueueRecord("message-1", json.dumps(job_dict(ONE_TO_ONE, MsgKey="m-1"))),
            QueueRecord("message-2", json.dumps(job_dict(ONE_TO_ONE, MsgKey="m-2"))),
        ],
        remaining_seconds=20.0,
    )

    # Then they are still delivered, showing 5 and 6 (the counter read, plus one per message), in order
    shown = {n["apnsId"]: n["payload"]["aps"]["badge"] for n in harness.received(token)}
    assert [shown[DeliveryKey(SDK_APP_ID, key, "vinson", token).apns_id] for key in ("m-1", "m-2")] == [5, 6]
    assert harness.badge_of("vinson") == 4


def test_a_job_twice_in_one_batch_is_sent_once_and_counted_as_a_duplicate(
    harness: DispatchHarness, dispatcher: Dispatcher
) -> None:
    # Given vinson's device, and SQS delivering the same job twice in one batch
    harness.upload_certificate()
    [token] = harness.register("vinson")["vinson"]
    body = json.dumps(ONE_TO_ONE)

    # When the run processes both copies
    report = dispatcher.dispatch(
        [QueueRecord("copy-1", body), QueueRecord("copy-2", body)], remaining_seconds=20.0
    )

    # Then one push is sent, the other copy counted as a duplicate
    assert len(harness.received(token)) == 1
    assert report.summary() == {"Delivered": 1, "Duplicate": 1}


def test_a_message_that_gives_no_notification_reads_no_registration(
    harness: DispatchHarness, dispatcher: Dispatcher
) -> None:
    # Given a job that asks for no push (PushFlag 1), to a receiver with a device
    harness.upload_certificate()
    harness.register("vinson")
    reads: list[str] = []
    client = dispatcher.registrations.client  # type: ignore[attr-defined]
    client.meta.events.register(
        "provide-client-params.dynamodb.BatchGetItem",
        lambda params, **_: reads.append("read"),
        unique_id="reads",
    )

    # When it is dispatched
    report = dispatcher.dispatch(
        [QueueRecord("quiet-1", json.dumps(job_dict(ONE_TO_ONE, OfflinePushInfo={"PushFlag": 1})))],
        remaining_seconds=20.0,
    )

    # Then no registration is read (nothing would be sent), and the message is counted as no push
    assert reads == []
    assert report.summary() == {"NoPush:PushDisabled": 1}
