"""Lambda's SQS event source rules, without a queue: what a batch answer means, what a record looks like."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from local.sqs_poller import failed_message_ids, lambda_record

BATCH = ("m-1", "m-2", "m-3")


@pytest.mark.parametrize(
    ("answer", "failed"),
    [
        # complete success
        (None, ()),
        ({}, ()),
        ({"batchItemFailures": None}, ()),
        ({"batchItemFailures": []}, ()),
        # exactly the reported messages
        ({"batchItemFailures": [{"itemIdentifier": "m-2"}]}, ("m-2",)),
        ({"batchItemFailures": [{"itemIdentifier": "m-3"}, {"itemIdentifier": "m-1"}]}, ("m-1", "m-3")),
        # malformed answers fail the whole batch
        ("ok", BATCH),
        ([{"itemIdentifier": "m-1"}], BATCH),
        ({"batchItemFailures": "m-1"}, BATCH),
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, BATCH),
        ({"batchItemFailures": [{"itemIdentifier": None}]}, BATCH),
        ({"batchItemFailures": [{"id": "m-1"}]}, BATCH),
        ({"batchItemFailures": [{"itemIdentifier": "m-9"}]}, BATCH),
        ({"batchItemFailures": ["m-1"]}, BATCH),
    ],
)
def test_batch_item_failures_are_read_as_lambda_reads_them(answer: Any, failed: tuple[str, ...]) -> None:
    # When a function with ReportBatchItemFailures answers
    found, _reason = failed_message_ids(answer, BATCH, report_batch_item_failures=True)

    # Then the messages left for retry are Lambda's
    assert found == failed


def test_without_report_batch_item_failures_the_answer_is_ignored() -> None:
    answer = {"batchItemFailures": [{"itemIdentifier": "m-1"}]}

    assert failed_message_ids(answer, BATCH, report_batch_item_failures=False) == ((), None)


def test_a_message_becomes_a_lambda_record_with_camel_case_attributes() -> None:
    # Given a message as SQS's ReceiveMessage returns it (boto3's shapes)
    message = {
        "MessageId": "m-1",
        "ReceiptHandle": "handle",
        "MD5OfBody": "5d41402abc4b2a76b9719d911017c592",
        "Body": "hello",
        "Attributes": {
            "SenderId": "AIDAEXAMPLE",
            "SentTimestamp": "1795641754652",
            "ApproximateReceiveCount": "1",
            "ApproximateFirstReceiveTimestamp": "1795641754668",
        },
        "MD5OfMessageAttributes": "fa20e2def088daf7b14bc51e836c5547",
        "MessageAttributes": {
            "kind": {"StringValue": "text", "DataType": "String"},
            "blob": {"BinaryValue": b"\x00\x01", "DataType": "Binary"},
        },
    }

    # When Lambda puts it in an event
    record = lambda_record(message, queue_arn="arn:aws:sqs:us-east-1:123456789012:jobs", region="us-east-1")

    # Then it has Lambda's field names and its binary values in base64
    assert record == {
        "messageId": "m-1",
        "receiptHandle": "handle",
        "body": "hello",
        "attributes": {
            "SenderId": "AIDAEXAMPLE",
            "SentTimestamp": "1795641754652",
            "ApproximateReceiveCount": "1",
            "ApproximateFirstReceiveTimestamp": "1795641754668",
        },
        "messageAttributes": {
            "kind": {
                "stringValue": "text",
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": "String",
            },
            "blob": {
                "binaryValue": base64.b64encode(b"\x00\x01").decode(),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": "Binary",
            },
        },
        "md5OfBody": "5d41402abc4b2a76b9719d911017c592",
        "md5OfMessageAttributes": "fa20e2def088daf7b14bc51e836c5547",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:jobs",
        "awsRegion": "us-east-1",
    }
