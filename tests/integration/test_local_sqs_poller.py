"""The local SQS event source over moto's server: batches, deletes, retries, and the dead-letter queue.

The test template's JobsQueue has a 1 s visibility timeout and sends a message to JobsDeadLetterQueue after
2 receives; its consumer (tests/support/local_stack/jobs) fares as each message's body says.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local.sqs_poller import BatchOutcome, SqsEventSource, SqsPoller
from local.stack import LocalStack
from tests.support.local_stack import observed

TEMPLATE = Path(__file__).resolve().parents[1] / "support" / "local_stack" / "template.yaml"


@pytest.fixture
def stack() -> Iterator[LocalStack]:
    """A fresh stack per test: SQS (and moto) allow one purge per queue a minute, so queues are not reused.
    The poller is driven step by step (poll_once), except where a test starts it."""
    observed.reset()
    with LocalStack(TEMPLATE, poll_queues=False) as running:
        yield running


@pytest.fixture
def poller(stack: LocalStack) -> SqsPoller:
    """The jobs poller, short-polling: a retried message is visible again exactly 1 s after its receive, and
    moto's long poll only notices it at its next whole second."""
    found = stack.poller("jobs")
    found.receive_wait_seconds = 0
    return found


def send(stack: LocalStack, outcome: str, **attributes: Any) -> str:
    message_id: str = stack.client("sqs").send_message(
        QueueUrl=stack.aws.provisioned.refs["JobsQueue"],
        MessageBody=json.dumps({"outcome": outcome}),
        MessageAttributes=attributes,
    )["MessageId"]
    return message_id


def queue_depth(stack: LocalStack, queue: str) -> int:
    attributes = stack.client("sqs").get_queue_attributes(
        QueueUrl=stack.aws.provisioned.refs[queue],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def dead_letters(stack: LocalStack) -> list[str]:
    received = stack.client("sqs").receive_message(
        QueueUrl=stack.aws.provisioned.refs["JobsDeadLetterQueue"], MaxNumberOfMessages=10
    )
    return [message["MessageId"] for message in received.get("Messages", [])]


def next_batch(poller: SqsPoller, timeout: float = 5.0) -> BatchOutcome:
    """Poll until a batch arrives (a retried message is back after the 1 s visibility timeout)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (outcome := poller.poll_once()) is not None:
            return outcome
        time.sleep(0.05)
    raise AssertionError(f"no batch within {timeout} s")


def test_the_source_is_read_from_the_template(poller: SqsPoller) -> None:
    assert poller.source == SqsEventSource(
        function_id="JobsFunction",
        event_name="Jobs",
        queue_arn="arn:aws:sqs:us-east-1:123456789012:offline-push-JobsQueue",
        batch_size=10,
        batching_window_seconds=0.0,
        report_batch_item_failures=True,
        maximum_concurrency=2,
        enabled=True,
    )


def test_a_batch_arrives_as_lambdas_sqs_event_and_processed_messages_are_deleted(
    stack: LocalStack, poller: SqsPoller
) -> None:
    # Given two jobs on the queue, one with a message attribute
    first = send(stack, "ok", kind={"DataType": "String", "StringValue": "group"})
    second = send(stack, "ok")

    # When the poller takes a batch
    outcome = poller.poll_once()

    # Then the handler got both in one SQS event, and both were deleted
    assert outcome == BatchOutcome((first, second), deleted=(first, second), retried=(), reason=None)
    assert queue_depth(stack, "JobsQueue") == 0
    [event] = observed.SQS_EVENTS
    record = event["Records"][0]
    attributes = record.pop("attributes")
    assert re.fullmatch(r"\d{13}", attributes.pop("SentTimestamp"))
    assert re.fullmatch(r"\d{13}", attributes.pop("ApproximateFirstReceiveTimestamp"))
    assert attributes.pop("SenderId")
    assert attributes == {"ApproximateReceiveCount": "1"}
    assert record.pop("receiptHandle")
    assert re.fullmatch(r"[0-9a-f]{32}", record.pop("md5OfMessageAttributes"))
    assert record == {
        "messageId": first,
        "body": '{"outcome": "ok"}',
        "messageAttributes": {
            "kind": {
                "stringValue": "group",
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": "String",
            }
        },
        "md5OfBody": hashlib.md5(b'{"outcome": "ok"}').hexdigest(),  # noqa: S324 - SQS's own checksum
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:offline-push-JobsQueue",
        "awsRegion": "us-east-1",
    }
    assert [r["messageId"] for r in event["Records"]] == [first, second]


def test_a_reported_failure_is_retried_then_dead_lettered_after_max_receive_count(
    stack: LocalStack, poller: SqsPoller
) -> None:
    # Given a job that succeeds and one whose handler reports it failed
    done, failing = send(stack, "ok"), send(stack, "fail")

    # When the poller takes the batch, then takes the failed job again after its visibility timeout
    first = next_batch(poller)
    second = next_batch(poller)
    deadline = time.monotonic() + 5
    while not (moved := dead_letters(stack)) and time.monotonic() < deadline:
        poller.poll_once()  # SQS moves a message past maxReceiveCount when it is next received
        time.sleep(0.05)

    # Then only the failed job came back, with its receive count, and after 2 receives it is in the DLQ
    assert (first, second) == (
        BatchOutcome((done, failing), deleted=(done,), retried=(failing,), reason="batchItemFailures"),
        BatchOutcome((failing,), deleted=(), retried=(failing,), reason="batchItemFailures"),
    )
    assert [
        record["attributes"]["ApproximateReceiveCount"] for record in observed.SQS_EVENTS[1]["Records"]
    ] == ["2"]
    assert (moved, queue_depth(stack, "JobsQueue"), len(observed.SQS_EVENTS)) == ([failing], 0, 2)


@pytest.mark.parametrize(
    ("outcome", "reason"),
    [
        ("raise", "function error: RuntimeError"),
        ("sleep", "function error: Sandbox.Timedout"),
        ("malformed", "malformed answer: itemIdentifier 'not-a-message-of-this-batch' is not in this batch"),
    ],
)
def test_a_failed_invocation_leaves_the_whole_batch_for_retry(
    stack: LocalStack, poller: SqsPoller, outcome: str, reason: str
) -> None:
    # Given a batch in which one job makes the invocation fail as a whole
    fine, failing = send(stack, "ok"), send(stack, outcome)

    # When it is processed
    result = poller.poll_once()

    # Then nothing is deleted: both come back after the visibility timeout
    assert result == BatchOutcome((fine, failing), deleted=(), retried=(fine, failing), reason=reason)
    assert queue_depth(stack, "JobsQueue") == 2
    if outcome == "sleep":
        time.sleep(0.6)  # the timed-out handler keeps the sandbox until it returns


def test_the_running_poller_drains_the_queue_and_dead_letters_what_keeps_failing(
    stack: LocalStack, poller: SqsPoller
) -> None:
    # Given the poller running in the background and long-polling, as in the local stack
    poller.receive_wait_seconds = 1
    poller.start()

    # When a good job and a failing job arrive
    done, failing = send(stack, "ok"), send(stack, "fail")
    deadline = time.monotonic() + 10
    while not (moved := dead_letters(stack)) and time.monotonic() < deadline:
        time.sleep(0.2)

    # Then the good job was handled once and deleted, the failing one handled twice and dead-lettered
    handled = [record["messageId"] for event in observed.SQS_EVENTS for record in event["Records"]]
    assert (sorted(handled), moved, queue_depth(stack, "JobsQueue")) == (
        sorted([done, failing, failing]),
        [failing],
        0,
    )


def test_a_batching_window_gathers_what_arrives_within_it_into_one_batch(
    stack: LocalStack, poller: SqsPoller
) -> None:
    # Given an event source with a 0.8 s batching window (within the queue's 1 s visibility timeout),
    # one job waiting and another arriving 0.3 s later
    windowed = SqsPoller(
        dataclasses.replace(poller.source, batch_size=5, batching_window_seconds=0.8),
        poller.function,
        stack.client("sqs"),
        receive_wait_seconds=0,
    )
    first = send(stack, "ok")
    later = threading.Timer(0.3, lambda: send(stack, "ok"))
    later.start()

    # When the poller takes a batch
    outcome = windowed.poll_once()
    later.join()

    # Then both jobs are in it
    assert outcome is not None
    assert (outcome.message_ids[0], len(outcome.message_ids), outcome.deleted) == (
        first,
        2,
        outcome.message_ids,
    )
