"""The job item of a large job keeps its receivers' digests up to ``MAX_UNIT_JOB_RECEIVERS`` (README
"Dispatch": a DynamoDB item holds 400 KB); a larger job's item keeps none."""

from __future__ import annotations

import json
from typing import Any, cast

from offline_push.logic.dispatch.stage1_intake import _fan_out
from offline_push.logic.dispatch.work import BatchReport, DispatchPolicy, Parts, QueueRecord, Run, Work
from offline_push.models.delivery import MAX_UNIT_JOB_RECEIVERS
from offline_push.models.task import parse_queue_message
from tests.support.jobs import GROUP


def _run() -> Run:
    unused = cast(Any, None)  # one unit holds every receiver: nothing is claimed or queued
    parts = Parts(
        registrations=unused,
        credentials=unused,
        languages=unused,
        deliveries=unused,
        queue=unused,
        apns=unused,
        policy=DispatchPolicy(chunk_size=MAX_UNIT_JOB_RECEIVERS + 1),
    )
    return Run(parts, "run-1", 0, BatchReport("run-1"))


def _job_work(receivers: list[str]) -> Work:
    body = json.dumps(GROUP)
    return Work(QueueRecord("m", body), parse_queue_message(body), receivers=receivers)


def test_a_job_of_exactly_the_limit_keeps_its_receivers_in_its_job_item() -> None:
    # Given a job of exactly 40,000 receivers
    assert MAX_UNIT_JOB_RECEIVERS == 40_000
    receivers = [f"user-{index}" for index in range(MAX_UNIT_JOB_RECEIVERS)]
    work = _job_work(receivers)

    # When it is fanned out
    _fan_out(_run(), [work])

    # Then its job item names every receiver
    assert (work.unit, work.job_receivers) == ("j#", tuple(receivers))


def test_a_job_over_the_limit_keeps_no_receivers_in_its_job_item() -> None:
    # Given a job of 40,001 receivers
    receivers = [f"user-{index}" for index in range(MAX_UNIT_JOB_RECEIVERS + 1)]
    work = _job_work(receivers)

    _fan_out(_run(), [work])

    assert (work.unit, work.job_receivers) == ("j#", ())
