"""The push queue's messages: the IM backend's jobs and the dispatcher's own versioned tasks, told apart and
read back exactly as written; anything else refused with a reason."""

from __future__ import annotations

import json
from typing import Any

import pytest

from offline_push.errors import InvalidPushJob
from offline_push.models.task import (
    MAX_TASK_BYTES,
    RetryItem,
    WorkKind,
    chunk_task,
    encoded_size,
    parse_queue_message,
    retry_task,
)
from tests.support.jobs import GROUP, ONE_TO_ONE, job_dict

TOKEN = "740f4707bebcf74f9b7c25d48e3358945f6aa01da5ddb387462c7eaf61bb78ad"


def test_an_im_backends_job_is_read_as_a_job_with_its_raw_form() -> None:
    # Given a Tencent-format job carrying fields we ignore
    raw = job_dict(GROUP, MsgRandom=1234, CloudCustomData="x")

    # When it is read from the queue
    work = parse_queue_message(json.dumps(raw))

    # Then it is a job, parsed, with its raw document kept for chunks and retries
    assert (work.kind, work.job.to_account, work.raw_job, work.run, work.retries) == (
        WorkKind.JOB,
        ["vinson", "mum"],
        raw,
        None,
        (),
    )


def test_a_chunk_task_carries_the_job_for_its_receivers_only() -> None:
    # Given a job with badges for three receivers
    raw = job_dict(GROUP, To_Account=["a", "b", "c"], Badges={"a": 1, "c": 3})

    # When a chunk of two is written and read back
    body = chunk_task(raw, ["b", "c"])
    work = parse_queue_message(body)

    # Then it is a chunk of the same job, cut to those receivers and their badges
    assert json.loads(body)["OfflinePushTask"] == {"version": 1, "kind": "chunk"}
    assert work.kind is WorkKind.CHUNK
    assert work.raw_job == {**raw, "To_Account": ["b", "c"], "Badges": {"c": 3}}
    assert work.job.badges == {"c": 3}


def test_a_retry_task_carries_just_its_deliveries_and_their_badges() -> None:
    # Given two deliveries of one receiver to retry
    items = [
        RetryItem(
            user_id="vinson", token=TOKEN, business_id=1, badge=4, attempts=1, reason="ServiceUnavailable"
        ),
        RetryItem(
            user_id="vinson", token="ab" * 32, business_id=2, badge=4, attempts=1, reason="TooManyRequests"
        ),
    ]

    # When they are written and read back
    work = parse_queue_message(retry_task(job_dict(ONE_TO_ONE, Badges={"vinson": 9}), "run-1", items))

    # Then the task names its run, holds the job for that receiver without job badges, and the deliveries
    assert (work.kind, work.run, work.retries) == (WorkKind.RETRY, "run-1", tuple(items))
    assert work.raw_job == {**ONE_TO_ONE, "To_Account": ["vinson"]}


def test_tasks_are_ascii_so_any_text_survives_sqs() -> None:
    # Given a job whose text UTF-8 cannot carry as it is (a lone surrogate, as some backends send)
    raw = job_dict(
        ONE_TO_ONE, MsgBody=[{"MsgType": "TIMTextElem", "MsgContent": {"Text": "bad \ud800 text"}}]
    )

    # When a chunk of it is written
    body = chunk_task(raw, ["vinson"])

    # Then the body is plain ASCII and reads back to the same text
    assert body.isascii()
    assert parse_queue_message(body).raw_job["MsgBody"] == raw["MsgBody"]
    assert encoded_size(body) == len(body) < MAX_TASK_BYTES


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("not json", "invalid push job: not valid JSON (expected ident at line 1 column 2)"),
        ("[1, 2]", "invalid push job: Input should be an object"),
        (
            json.dumps({"OfflinePushTask": {"version": 2, "kind": "chunk"}, "Job": ONE_TO_ONE}),
            "task version 2 is not supported by this release (it reads version 1): redrive it once the "
            "release that wrote it is deployed",
        ),
        (
            json.dumps({"OfflinePushTask": "chunk", "Job": ONE_TO_ONE}),
            "invalid task header: OfflinePushTask must be an object with version and kind",
        ),
        (
            json.dumps({"OfflinePushTask": {"version": 1, "kind": "chunk"}}),
            "invalid task: Job must be an object",
        ),
        (
            json.dumps({"OfflinePushTask": {"version": 1, "kind": "fanout"}, "Job": ONE_TO_ONE}),
            "invalid task: unknown kind 'fanout' (chunk or retry)",
        ),
        (
            json.dumps(
                {"OfflinePushTask": {"version": 1, "kind": "retry"}, "Job": ONE_TO_ONE, "Deliveries": []}
            ),
            "invalid retry task: the header names no run",
        ),
        (
            json.dumps(
                {
                    "OfflinePushTask": {"version": 1, "kind": "retry", "run": "r"},
                    "Job": ONE_TO_ONE,
                    "Deliveries": [],
                }
            ),
            "invalid retry task: Deliveries: List should have at least 1 item after validation, not 0",
        ),
    ],
)
def test_a_message_that_is_neither_a_job_nor_a_task_is_refused_with_the_reason(
    body: str, reason: str
) -> None:
    with pytest.raises(InvalidPushJob) as refused:
        parse_queue_message(body)

    assert refused.value.message == reason


def test_a_task_with_an_invalid_job_is_refused_naming_the_field() -> None:
    task: dict[str, Any] = {
        "OfflinePushTask": {"version": 1, "kind": "chunk"},
        "Job": {**ONE_TO_ONE, "MsgBody": []},
    }

    with pytest.raises(InvalidPushJob) as refused:
        parse_queue_message(json.dumps(task))

    assert (
        refused.value.message
        == "invalid push job: MsgBody: List should have at least 1 item after validation, not 0"
    )
