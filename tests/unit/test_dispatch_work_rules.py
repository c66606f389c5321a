"""What a dispatch run carries from stage to stage: its knobs' defaults, its report's counts and summary, its
clock in milliseconds, its time per stage, and the id of a chunk of receivers."""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any, cast

import pytest

from offline_push.logic.dispatch.work import BatchReport, DispatchPolicy, Parts, QueueRecord, Run, Work
from offline_push.models.job import Language
from offline_push.models.task import parse_queue_message
from tests.support.jobs import ONE_TO_ONE


def _run(clock: float = 0.0, last_lap: float = 0.0) -> Run:
    unused = cast(Any, None)  # a run's clock and report need none of the stores, the queue or APNs
    parts = Parts(
        registrations=unused,
        credentials=unused,
        languages=unused,
        deliveries=unused,
        queue=unused,
        apns=unused,
        clock=lambda: clock,
    )
    return Run(parts, "run-1", 0, BatchReport("run-1"), _last_lap=last_lap)


def test_the_dispatchers_knobs_default_to_the_documented_values() -> None:
    assert dataclasses.asdict(DispatchPolicy()) == {
        "chunk_size": 500,
        "max_attempts": 5,
        "retry_base_seconds": 5.0,
        "retry_max_seconds": 900,
        "lease_margin_seconds": 30.0,
        "send_reserve_seconds": 5.0,
        "success_sample_rate": 100.0,
        "default_language": Language.ZH,
    }


def test_a_policy_and_a_queue_record_cannot_change_during_a_run() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        DispatchPolicy().chunk_size = 1  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        QueueRecord("m", "{}").body = "[]"  # type: ignore[misc]


def test_a_dispatchers_parts_cannot_change_during_a_run() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        _run().parts.policy = DispatchPolicy()  # type: ignore[misc]


def test_the_parts_of_a_dispatcher_are_named_never_positional() -> None:
    # Six stores of similar shape: passing them by position would let two be swapped unnoticed
    with pytest.raises(TypeError):
        Parts(*([cast(Any, None)] * 6))  # type: ignore[call-arg]


def test_a_report_counts_per_outcome_and_reason_and_ignores_zero_counts() -> None:
    # Given a run's counts, some of them zero
    report = BatchReport("run-1")
    assert report.messages == 0
    report.count("Delivered")
    report.count("Delivered")
    report.count("NotDelivered", "BadDeviceToken")
    report.count("NotDelivered", "RetriesExhausted", 3)
    report.count("NoPush", "PushFlag", 0)

    # Then the totals per outcome and the summary (sorted, "outcome:reason") hold only what happened
    assert (report.total("Delivered"), report.total("NotDelivered"), report.total("NoPush")) == (2, 4, 0)
    assert report.summary() == {
        "Delivered": 2,
        "NotDelivered:BadDeviceToken": 1,
        "NotDelivered:RetriesExhausted": 3,
    }
    assert json.dumps(report.summary()) == (
        '{"Delivered": 2, "NotDelivered:BadDeviceToken": 1, "NotDelivered:RetriesExhausted": 3}'
    )


def test_a_runs_clock_reads_in_whole_milliseconds() -> None:
    assert _run(clock=1_764_625_025.9029).now_ms() == 1_764_625_025_902


def test_the_time_per_stage_adds_up_to_the_tenth_of_a_millisecond(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a run started at 10.0 s on the performance counter
    run = _run(last_lap=10.0)
    ticks = iter([10.123456789, 10.2, 10.2500001])
    monkeypatch.setattr(time, "perf_counter", lambda: next(ticks))

    # When laps go to "parse", "send", then "parse" again
    run.lap("parse")
    run.lap("send")
    run.lap("parse")

    # Then each stage adds up its own time since the lap before, rounded to 4 decimals
    assert run.report.seconds == {"parse": 0.1735, "send": 0.0765}


def test_a_chunk_is_named_by_a_digest_of_its_receivers() -> None:
    body = json.dumps(ONE_TO_ONE)
    work = Work(QueueRecord("m", body), parse_queue_message(body), receivers=["vinson", "mum\ud800"])

    # A receiver id with a lone surrogate still names its chunk (the id is kept as the job gave it)
    assert work.chunk_id == "6e70d823a5fa22cf"
    assert (work.app, work.msg_key) == (1400000001, "144115198244471703-1")
