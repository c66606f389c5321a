"""Poison messages: whatever one message of a batch holds, it goes to the dead-letter queue at once with its
``code`` and ``reason``, and its batch-mates are delivered as if it were not there."""

from __future__ import annotations

import json

import pytest

from tests.support.dispatch import DispatchHarness
from tests.support.events import LambdaContext
from tests.support.jobs import ONE_TO_ONE, job_dict

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

DEEP = "[" * 10_000 + "]" * 10_000
DEEP_IN_A_JOB = json.dumps(job_dict(ONE_TO_ONE, MsgKey="deep-1"))[:-1] + ', "Extra": ' + DEEP + "}"
HUGE_NUMBER = json.dumps(job_dict(ONE_TO_ONE, MsgKey="huge-1"))[:-1] + ', "Extra": ' + "9" * 10_000 + "}"
HUGE_SDK_APP_ID = json.dumps(job_dict(ONE_TO_ONE, MsgKey="huge-2")).replace(
    '"SdkAppId": 1400000001', '"SdkAppId": ' + "1" * 10_000
)
TOO_DEEP = "invalid push job: nested deeper than 64 levels"
OUT_OF_RANGE = "invalid push job: not valid JSON (number out of range at line 1 column 4508)"
QUARTER_MEGABYTE = "\u00e9" * 131_072  # 256 KiB of UTF-8


@pytest.mark.parametrize(
    ("description", "poison", "reason"),
    [
        ("nested 10,000 levels", DEEP, "invalid push job: nested deeper than 64 levels"),
        (
            "a job with a field nested 10,000 levels",
            DEEP_IN_A_JOB,
            "invalid push job: nested deeper than 64 levels",
        ),
        (
            "a number of 10,000 digits",
            HUGE_NUMBER,
            "invalid push job: not valid JSON (number out of range at line 1 column 4508)",
        ),
        ("an SdkAppId of 10,000 digits", HUGE_SDK_APP_ID, None),
        ("256 KiB of text", QUARTER_MEGABYTE, None),
        ("256 KiB in a string field", json.dumps(job_dict(ONE_TO_ONE, MsgKey="k" * 262_144)), None),
    ],
)
def test_a_poison_message_is_dead_lettered_at_once_and_its_batch_mates_are_delivered(
    harness: DispatchHarness, description: str, poison: str, reason: str | None
) -> None:
    # Given a batch of a good job, the poison message and another good job, through the real queue
    harness.upload_certificate()
    tokens = harness.register(["vinson", "mum"])
    first, poison_id, second = harness.enqueue(
        ONE_TO_ONE, poison, job_dict(ONE_TO_ONE, MsgKey="second", To_Account=["mum"])
    )

    # When the batch is processed once
    batch = harness.invoke(harness.receive())

    # Then no message is left for retry, both good jobs were delivered, the queue is empty
    assert batch.message_ids == (first, poison_id, second)
    assert batch.answer == {"batchItemFailures": []}
    assert [len(harness.received(token)) for [token] in tokens.values()] == [1, 1]
    assert harness.receive() == []
    # and the poison message is a dead letter, whole, with its code and reason
    [letter] = harness.dead_letters()
    assert letter["body"] == poison
    assert letter["attributes"]["code"] == "InvalidPushJob"
    assert letter["attributes"]["sourceMessageId"] == poison_id
    assert letter["attributes"]["reason"].startswith("invalid push job: ")
    if reason is not None:
        assert letter["attributes"]["reason"] == reason


def test_characters_sqs_cannot_carry_do_not_fail_the_batch(harness: DispatchHarness) -> None:
    # Given a direct invocation (not through SQS) with a job that cannot be read and names its message with a
    # lone surrogate, and a body with a NUL, beside a good job
    harness.upload_certificate()
    [token] = harness.register("vinson")["vinson"]
    broken = '{"SdkAppId": 1400000001, "MsgKey": "bad\ud800key", "To_Account": "vinson", "MsgBody": []}'
    garbage = "hello\x00?"
    event = harness.event_of(broken, garbage, json.dumps(job_dict(ONE_TO_ONE)))

    # When it is processed
    answer = harness.app.lambda_handler(event, LambdaContext())

    # Then the good job is delivered, nothing is retried, and the others are dead letters with the characters
    # SQS refuses replaced, which their reason says
    assert answer == {"batchItemFailures": []}
    assert len(harness.received(token)) == 1
    letters = harness.dead_letters()
    assert [letter["body"] for letter in letters] == [broken.replace("\ud800", "\ufffd"), "hello\ufffd?"]
    assert letters[0]["attributes"]["reason"] == (
        "invalid push job: MsgKey: Input should be a valid string, unable to parse raw data as a unicode "
        "string; To_Account: Input should be a valid list; MsgBody: List should have at least 1 item after "
        "validation, not 0 (characters SQS cannot carry were replaced by U+FFFD in this copy)"
    )
    assert letters[1]["attributes"]["reason"].endswith(
        "(characters SQS cannot carry were replaced by U+FFFD in this copy)"
    )
