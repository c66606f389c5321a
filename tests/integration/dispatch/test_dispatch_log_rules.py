"""What the dispatcher tells the operator in its log when something goes wrong on our side or a job is odd
(README "Dispatch"): each line's message and fields, exactly, and that the push goes on where it can."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from functions.dispatch.app import DispatchSettings, build_dispatcher
from offline_push.apns import run_in_warm_loop
from offline_push.logic.dispatch import Dispatcher, QueueRecord
from offline_push.models.credential import ApnsEnvironment
from tests.support.certificates import SDK_APP_ID
from tests.support.dispatch import DispatchHarness
from tests.support.jobs import GROUP, MSG_KEY, ONE_TO_ONE, job_dict
from tests.support.logs import captured_logs

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

NOW = 1_795_000_000.0
NOT_COMPLETED = (
    "run completion not recorded: its deliveries show as interrupted and would be sent again if their jobs "
    "came back"
)


@pytest.fixture
def dispatcher(harness: DispatchHarness, monkeypatch: pytest.MonkeyPatch) -> Iterator[Dispatcher]:
    monkeypatch.setenv("DISPATCH_CHUNK_SIZE", "2")
    built = build_dispatcher(DispatchSettings.from_environ(), clock=lambda: NOW)
    yield built
    run_in_warm_loop(built.apns.close())


def fail(
    client: Any, operation: str, *, times: int = 1, when: Callable[[dict[str, Any]], bool] = bool
) -> None:
    """Make ``client``'s next ``times`` calls of ``operation`` whose parameters match fail as an unavailable
    AWS service does."""
    service = client.meta.service_model.service_id.hyphenize()
    event = f"provide-client-params.{service}.{operation}"
    left = [times]

    def hook(params: dict[str, Any], **_: Any) -> None:
        if not when(params):
            return
        left[0] -= 1
        if not left[0]:
            client.meta.events.unregister(event, unique_id=f"fail-{operation}")
        raise ClientError({"Error": {"Code": "InternalServerError", "Message": "down"}}, operation)

    client.meta.events.register(event, hook, unique_id=f"fail-{operation}")


def lines(logs: Any, message: str) -> list[dict[str, Any]]:
    """The log records with ``message``: their fields beyond Powertools' own."""
    found = []
    for text in logs.getvalue().splitlines():
        record = json.loads(text)
        if record["message"] == message:
            found.append(
                {k: v for k, v in record.items() if k not in {"level", "location", "timestamp", "service"}}
            )
    return found


def writes_sort_key(prefix: str) -> Callable[[dict[str, Any]], bool]:
    def matches(params: dict[str, Any]) -> bool:
        [requests] = params["RequestItems"].values()
        return str(requests[0]["PutRequest"]["Item"]["sk"]["S"]).startswith(prefix)

    return matches


def test_an_odd_job_a_large_job_and_unreadable_app_settings_are_logged(
    harness: DispatchHarness, dispatcher: Dispatcher
) -> None:
    # Given devices for a 5-member group (chunks of 2), an invalid job whose summary cannot be written, and
    # app settings that cannot be read
    harness.upload_certificate()
    members = ["vinson", "mum", "dad", "kid", "uncle"]
    harness.register(members)
    fail(dispatcher.deliveries.client, "BatchWriteItem", when=writes_sort_key("c#"))  # type: ignore[attr-defined]
    fail(dispatcher.languages._settings_store.client, "GetItem")  # type: ignore[attr-defined]
    broken = json.dumps({"SdkAppId": SDK_APP_ID, "MsgKey": "broken-1", "To_Account": "vinson"})

    # When one run gets both jobs
    with captured_logs(harness.app.logger.name) as logs:
        report = dispatcher.dispatch(
            [
                QueueRecord("bad-1", broken),
                QueueRecord("good-1", json.dumps(job_dict(GROUP, To_Account=members))),
            ],
            remaining_seconds=20.0,
        )

    # Then the invalid job is dead-lettered with its reason, and so logged (its summary could not be written)
    [letter] = harness.dead_letters()
    reason = letter["attributes"]["reason"]
    assert lines(logs, "invalid push job sent to the dead-letter queue") == [
        {"message": "invalid push job sent to the dead-letter queue", "messageId": "bad-1", "reason": reason}
    ]
    assert lines(logs, "invalid job not recorded in the message summary") == [
        {"message": "invalid job not recorded in the message summary"}
    ]
    # And the placeholder language falls back to the default, said once for the app
    assert lines(logs, "app settings unreadable: default placeholder language") == [
        {"message": "app settings unreadable: default placeholder language", "sdkAppId": SDK_APP_ID}
    ]
    # And the group is split: this run keeps 2 receivers, 2 chunk tasks carry the other 3
    assert lines(logs, "large job split") == [
        {"message": "large job split", "msgKey": MSG_KEY, "receivers": 5, "chunks": 3}
    ]
    assert report.summary() == {"ChunksQueued": 2, "Delivered": 2, "InvalidJob:InvalidPushJob": 1}
    assert report.failed_message_ids == []


def test_chunk_tasks_the_queue_refuses_leave_the_job_on_the_queue_and_are_logged(
    harness: DispatchHarness, dispatcher: Dispatcher
) -> None:
    harness.upload_certificate()
    members = ["vinson", "mum", "dad"]
    harness.register(members)
    fail(dispatcher.queue.client, "SendMessageBatch", times=2)  # type: ignore[attr-defined]

    with captured_logs(harness.app.logger.name) as logs:
        report = dispatcher.dispatch(
            [QueueRecord("good-1", json.dumps(job_dict(GROUP, To_Account=members)))], remaining_seconds=20.0
        )

    assert lines(logs, "chunk tasks not queued") == [{"message": "chunk tasks not queued", "msgKey": MSG_KEY}]
    assert report.failed_message_ids == ["good-1"]
    assert harness.received() == []


def test_what_could_not_be_recorded_after_sending_is_logged_and_the_push_stands(
    harness: DispatchHarness, dispatcher: Dispatcher
) -> None:
    # Given vinson's token from a production build (APNs refuses it: BadDeviceToken), mum without a device,
    # and DynamoDB failing the removal of vinson's registration, mum's summary and the run's completion
    harness.upload_certificate()
    [token] = harness.register("vinson", apple_environment=ApnsEnvironment.PRODUCTION)["vinson"]
    registrations = dispatcher.registrations.client  # type: ignore[attr-defined]
    deliveries = dispatcher.deliveries.client  # type: ignore[attr-defined]
    fail(
        registrations, "UpdateItem", when=lambda params: str(params["UpdateExpression"]).startswith("REMOVE")
    )
    fail(deliveries, "BatchWriteItem", when=writes_sort_key("c#"))
    fail(
        deliveries, "PutItem", times=3, when=lambda params: str(params["Item"]["pk"]["S"]).startswith("run#")
    )
    job = job_dict(GROUP, To_Account=["vinson", "mum"])

    # When the group message is dispatched
    with captured_logs(harness.app.logger.name) as logs:
        report = dispatcher.dispatch([QueueRecord("good-1", json.dumps(job))], remaining_seconds=20.0)

    # Then the dead token is logged (its hint only), not removed, and the failure still recorded
    hint = f"{token[:8]}…(32B)"
    assert lines(logs, "dead registration not removed") == [
        {"message": "dead registration not removed", "device": hint}
    ]
    assert lines(logs, "dead device token") == [
        {
            "message": "dead device token",
            "reason": "BadDeviceToken",
            "device": hint,
            "businessId": 1,
            "removed": False,
        }
    ]
    assert harness.devices_of("vinson") == [token]
    # And the summary and the completion marker that could not be written are logged with the run
    assert lines(logs, "message summaries not recorded") == [
        {"message": "message summaries not recorded", "run": report.run}
    ]
    assert lines(logs, NOT_COMPLETED) == [{"message": NOT_COMPLETED, "run": report.run, "deliveries": 1}]
    assert report.summary() == {
        "NotDelivered:BadDeviceToken": 1,
        "NotDelivered:NoDeviceRegistered": 1,
    }
    assert report.failed_message_ids == []


def test_a_completion_marker_written_on_its_third_try_is_not_reported(
    harness: DispatchHarness, dispatcher: Dispatcher
) -> None:
    harness.upload_certificate()
    harness.register("vinson")
    deliveries = dispatcher.deliveries.client  # type: ignore[attr-defined]
    fail(
        deliveries, "PutItem", times=2, when=lambda params: str(params["Item"]["pk"]["S"]).startswith("run#")
    )

    with captured_logs(harness.app.logger.name) as logs:
        report = dispatcher.dispatch([QueueRecord("good-1", json.dumps(ONE_TO_ONE))], remaining_seconds=20.0)

    assert "run completion not recorded" not in logs.getvalue()
    marker = deliveries.get_item(
        TableName=harness.aws.environment["DELIVERIES_TABLE"],
        Key={"pk": {"S": f"run#{report.run}"}, "sk": {"S": "-"}},
        ConsistentRead=True,
    )
    assert "Item" in marker


def test_unreadable_registrations_leave_the_apps_messages_on_the_queue_and_are_logged(
    harness: DispatchHarness, dispatcher: Dispatcher
) -> None:
    # Given vinson's device, and the registrations table failing the run's read
    harness.upload_certificate()
    harness.register("vinson")
    fail(dispatcher.registrations.client, "BatchGetItem")  # type: ignore[attr-defined]

    # When a run gets two jobs of the app
    with captured_logs(harness.app.logger.name) as logs:
        report = dispatcher.dispatch(
            [
                QueueRecord("good-1", json.dumps(job_dict(ONE_TO_ONE, MsgKey="m-1"))),
                QueueRecord("good-2", json.dumps(job_dict(ONE_TO_ONE, MsgKey="m-2"))),
            ],
            remaining_seconds=20.0,
        )

    # Then nothing is sent, both messages stay on the queue, and the log says whose registrations failed
    assert lines(logs, "registrations unreadable") == [
        {"message": "registrations unreadable", "sdkAppId": SDK_APP_ID}
    ]
    assert report.failed_message_ids == ["good-1", "good-2"]
    assert harness.received() == []


def test_failures_that_could_not_be_recorded_are_counted_in_the_log(
    harness: DispatchHarness, dispatcher: Dispatcher
) -> None:
    # Given two tokens APNs refuses (production builds), and DynamoDB failing the write of their records
    harness.upload_certificate()
    harness.register(["vinson", "mum"], apple_environment=ApnsEnvironment.PRODUCTION)
    fail(dispatcher.deliveries.client, "BatchWriteItem", when=writes_sort_key("d#"))  # type: ignore[attr-defined]

    # When a message to both is dispatched
    with captured_logs(harness.app.logger.name) as logs:
        report = dispatcher.dispatch(
            [QueueRecord("good-1", json.dumps(job_dict(GROUP, To_Account=["vinson", "mum"])))],
            remaining_seconds=20.0,
        )

    # Then the log and the run's metrics count the two outcomes not recorded, with the run
    assert lines(logs, "outcomes not recorded") == [
        {"message": "outcomes not recorded", "run": report.run, "count": 2}
    ]
    assert report.summary() == {"NotDelivered:BadDeviceToken": 2, "OutcomeNotRecorded": 2}


def test_a_job_of_exactly_the_chunk_size_is_not_split(
    harness: DispatchHarness, dispatcher: Dispatcher
) -> None:
    # Given two receivers with devices, and chunks of 2
    harness.upload_certificate()
    harness.register(["vinson", "mum"])

    # When a group job to both is dispatched
    with captured_logs(harness.app.logger.name) as logs:
        report = dispatcher.dispatch(
            [QueueRecord("good-1", json.dumps(job_dict(GROUP, To_Account=["vinson", "mum"])))],
            remaining_seconds=20.0,
        )

    # Then this run sends both, and queues no chunk
    assert report.summary() == {"Delivered": 2}
    assert lines(logs, "large job split") == []
    assert harness.queued_bodies() == []
