"""The push queue's store on moto: tasks go in SendMessageBatch requests within SQS's limits, with their
delays; dead letters carry the reason."""

from __future__ import annotations

import boto3

from local.provision import Provisioned
from offline_push.dal.push_queue import OutgoingTask, PushQueue
from tests.support.certificates import counting_calls


def test_tasks_are_sent_ten_and_at_most_256_kib_per_request(aws: Provisioned) -> None:
    # Given 12 small tasks and 3 of 100 KB
    queue = PushQueue(aws.refs["PushQueue"], aws.refs["PushDeadLetterQueue"])
    tasks = [OutgoingTask(f"small-{index}") for index in range(12)] + [OutgoingTask("x" * 100_000)] * 3

    # When they are sent
    with counting_calls(queue.client) as calls:
        accepted = queue.send(tasks)

    # Then all were accepted in 3 requests: 10 small, 2 small + 2 large, 1 large
    assert (accepted, calls) == ([True] * 15, ["SendMessageBatch"] * 3)
    sqs = boto3.client("sqs")
    bodies: list[int] = []
    while messages := sqs.receive_message(QueueUrl=aws.refs["PushQueue"], MaxNumberOfMessages=10).get(
        "Messages"
    ):
        bodies.extend(len(message["Body"]) for message in messages)
        for message in messages:
            sqs.delete_message(QueueUrl=aws.refs["PushQueue"], ReceiptHandle=message["ReceiptHandle"])
    assert sorted(bodies) == sorted(len(task.body) for task in tasks)


def test_a_delayed_task_is_not_visible_before_its_delay(aws: Provisioned) -> None:
    queue = PushQueue(aws.refs["PushQueue"], aws.refs["PushDeadLetterQueue"])

    assert queue.send(
        [OutgoingTask("later", delay_seconds=60), OutgoingTask("capped", delay_seconds=5000)]
    ) == [
        True,
        True,
    ]
    assert boto3.client("sqs").receive_message(QueueUrl=aws.refs["PushQueue"]).get("Messages") is None


def test_a_dead_letter_carries_its_code_reason_and_source(aws: Provisioned) -> None:
    queue = PushQueue(aws.refs["PushQueue"], aws.refs["PushDeadLetterQueue"])

    queue.dead_letter("{}", code="InvalidPushJob", reason="r" * 2000, message_id="m-1")

    [message] = boto3.client("sqs").receive_message(
        QueueUrl=aws.refs["PushDeadLetterQueue"], MessageAttributeNames=["All"]
    )["Messages"]
    attributes = {name: value["StringValue"] for name, value in message["MessageAttributes"].items()}
    assert (message["Body"], attributes) == (
        "{}",
        {"code": "InvalidPushJob", "reason": "r" * 1024, "sourceMessageId": "m-1"},
    )
