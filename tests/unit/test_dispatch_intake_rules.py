"""Intake rules of a large job (README "Dispatch", stage 1): the receivers beyond the first chunk go out as
chunk tasks of ``chunk_size``, halved until each fits an SQS message; a job resent with more receivers keeps
only those the first job did not have."""

from __future__ import annotations

import json
from typing import Any, cast

from offline_push.logic.dispatch.stage1_intake import _chunk_bodies, leave_to_other_job
from offline_push.logic.dispatch.work import BatchReport, Parts, QueueRecord, Run, Work
from offline_push.models.delivery import StoredUnit, receiver_digest
from offline_push.models.task import MAX_TASK_BYTES, chunk_task, encoded_size, parse_queue_message
from tests.support.jobs import GROUP

LONG = 70_000  # characters of a receiver id here: three fit in a task, four do not


def _receivers(body: str) -> list[str]:
    return [user[:1] for user in json.loads(body)["Job"]["To_Account"]]


def test_chunks_too_large_for_sqs_are_halved_until_each_fits() -> None:
    # Given five receivers with very long ids, four to a chunk
    receivers = [letter * LONG for letter in "abcde"]

    # When the chunk tasks are written
    bodies = _chunk_bodies(GROUP, receivers, 4, "digest")

    # Then the chunk of four (280 KB) became two of two, in order, and the last chunk stayed whole
    assert [_receivers(body) for body in bodies] == [["a", "b"], ["c", "d"], ["e"]]
    assert all(encoded_size(body) <= MAX_TASK_BYTES for body in bodies)
    assert {json.loads(body)["OfflinePushTask"]["job"] for body in bodies} == {"digest"}


def test_a_chunk_of_exactly_the_sqs_limit_goes_as_one_task_and_one_receiver_is_never_split() -> None:
    # Given two receivers whose chunk task is exactly MAX_TASK_BYTES long
    base = encoded_size(chunk_task(GROUP, ["a", "b"], job="digest"))
    first = "a" * (1 + MAX_TASK_BYTES - base)
    assert encoded_size(chunk_task(GROUP, [first, "b"], job="digest")) == MAX_TASK_BYTES

    # Then it is one task; and a single receiver too long for any task still gets its own
    assert [_receivers(body) for body in _chunk_bodies(GROUP, [first, "b"], 2, "digest")] == [["a", "b"]]
    huge = "h" * (MAX_TASK_BYTES + 1)
    assert [_receivers(body) for body in _chunk_bodies(GROUP, [huge], 1, None)] == [["h"]]


def _run() -> Run:
    unused = cast(Any, None)  # only the run's report is read
    parts = Parts(
        registrations=unused,
        credentials=unused,
        languages=unused,
        deliveries=unused,
        queue=unused,
        apns=unused,
    )
    return Run(parts, "run-1", 0, BatchReport("run-1"))


def _work(receivers: list[str]) -> Work:
    body = json.dumps(GROUP)
    work = Work(QueueRecord("m", body), parse_queue_message(body), receivers=receivers)
    work.job_digest, work.unit, work.job_receivers = "mine", "j#", tuple(receivers)
    return work


def test_a_job_resent_to_more_receivers_keeps_only_the_new_ones_claimed_one_by_one() -> None:
    # Given the job item of a first job that had vinson and mum
    run, work = _run(), _work(["vinson", "mum", "dad", "kid"])
    other = StoredUnit(
        1400000001, "m", "j#", job="theirs", receivers=frozenset(map(receiver_digest, ["vinson", "mum"]))
    )

    # When a second job with the same MsgKey names two more receivers
    leave_to_other_job(run, work, other)

    # Then it keeps dad and kid, not claimed per unit, and counts the two already served as duplicates
    assert work.receivers == ["dad", "kid"]
    assert (work.job_digest, work.unit, work.job_receivers) == (None, None, ())
    assert run.report.summary() == {"Duplicate": 2}


def test_a_job_item_without_receivers_served_everyone() -> None:
    # Given the job item of a job too large to keep its receivers
    run, work = _run(), _work(["vinson", "dad"])

    leave_to_other_job(run, work, StoredUnit(1400000001, "m", "j#", job="theirs"))

    assert work.receivers == []
    assert run.report.summary() == {"Duplicate": 2}


def test_a_chunk_of_two_too_large_for_sqs_is_split_into_two_tasks() -> None:
    # Given two receivers whose ids together exceed an SQS message (each fits alone)
    receivers = [letter * 130_000 for letter in "ab"]

    bodies = _chunk_bodies(GROUP, receivers, 2, None)

    assert [_receivers(body) for body in bodies] == [["a"], ["b"]]
