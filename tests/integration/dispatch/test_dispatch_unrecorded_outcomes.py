"""Outcomes DynamoDB would not take (README "Dispatch", stage 6): the operator's log counts exactly the
records not written, whichever write refused them (a retry's own record, a unit's retries), and a unit whose
orphaned retries could not be marked says so with its run."""

from __future__ import annotations

import json
from typing import Any

import pytest

from local.apns_sandbox import Fault, FaultKind
from offline_push.logic.dispatch import Dispatcher, QueueRecord
from tests.integration.dispatch.test_dispatch_log_rules import fail, lines
from tests.support.dispatch import DispatchHarness
from tests.support.jobs import GROUP, job_dict
from tests.support.logs import captured_logs

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

NOW = 1_795_000_000.0
NOT_RECORDED = "outcomes not recorded"
NOT_MARKED = "orphaned retries not marked on their unit"


def quiet_group(users: list[str]) -> str:
    """A group job that leaves the badge alone (BadgeMode 1)."""
    return json.dumps(job_dict(GROUP, To_Account=users, OfflinePushInfo={"ApnsInfo": {"BadgeMode": 1}}))


def is_outcome_update(params: dict[str, Any]) -> bool:
    """A delivery's own record being written by the run that owns it (not a claim, take-over or mark)."""
    return params.get("ConditionExpression") == "#run = :run" and str(params["UpdateExpression"]).startswith(
        "SET #state = :state"
    )


def is_unit_retry(params: dict[str, Any]) -> bool:
    return params.get("ConditionExpression") == "attribute_not_exists(pk) OR #run = :run"


def is_orphans_mark(params: dict[str, Any]) -> bool:
    return str(params["UpdateExpression"]) == "SET #orphans = :true"


def test_final_answers_to_retries_that_could_not_be_recorded_are_counted_and_left_retrying(
    harness: DispatchHarness, dispatcher: Dispatcher
) -> None:
    # Given vinson's and mum's notifications retrying (503 to every attempt of the first run), and APNs then
    # refusing both for good (413)
    harness.upload_certificate()
    tokens = harness.register(["vinson", "mum"])
    state = harness.sandbox.state
    for [token] in tokens.values():
        state.add_fault(Fault(FaultKind.STATUS, status=503, count=3, token=token))
    for [token] in tokens.values():
        state.add_fault(Fault(FaultKind.STATUS, status=413, reason="PayloadTooLarge", token=token))
    first = dispatcher.dispatch([QueueRecord("m-1", quiet_group(["vinson", "mum"]))], remaining_seconds=20.0)
    assert first.summary() == {"RetryScheduled:ServiceUnavailable": 2}
    [task] = harness.receive(visibility=300)
    # And DynamoDB failing both writes of the retries' final records
    fail(dispatcher.deliveries.client, "UpdateItem", times=2, when=is_outcome_update)  # type: ignore[attr-defined]

    # When the retry task is processed
    with captured_logs(harness.app.logger.name) as logs:
        report = dispatcher.dispatch([QueueRecord("m-2", task["Body"])], remaining_seconds=20.0)

    # Then the log and the run's metrics count the two outcomes not recorded, with the run
    assert report.summary() == {"NotDelivered:PayloadTooLarge": 2, "OutcomeNotRecorded": 2}
    assert lines(logs, NOT_RECORDED) == [{"message": NOT_RECORDED, "run": report.run, "count": 2}]


def test_retries_of_a_unit_that_could_not_be_recorded_are_counted(
    harness: DispatchHarness, dispatcher: Dispatcher
) -> None:
    # Given APNs answering 503 to every attempt at vinson's and mum's devices, and DynamoDB failing the
    # writes of both retries' records
    harness.upload_certificate()
    tokens = harness.register(["vinson", "mum"])
    for [token] in tokens.values():
        harness.sandbox.state.add_fault(Fault(FaultKind.STATUS, status=503, count=3, token=token))
    fail(dispatcher.deliveries.client, "PutItem", times=2, when=is_unit_retry)  # type: ignore[attr-defined]

    # When the group message is dispatched
    with captured_logs(harness.app.logger.name) as logs:
        report = dispatcher.dispatch(
            [QueueRecord("m-1", quiet_group(["vinson", "mum"]))], remaining_seconds=20.0
        )

    # Then their retry task is queued, and the log counts the two outcomes not recorded, with the run
    assert report.summary() == {"OutcomeNotRecorded": 2, "RetryScheduled:ServiceUnavailable": 2}
    assert [task["Job"]["To_Account"] for task in harness.queued_bodies()] == [["vinson", "mum"]]
    assert lines(logs, NOT_RECORDED) == [{"message": NOT_RECORDED, "run": report.run, "count": 2}]
    # And no orphan is marked: the task holds them
    assert lines(logs, NOT_MARKED) == []


def test_orphaned_retries_that_could_not_be_marked_are_logged_with_the_run(
    harness: DispatchHarness, dispatcher: Dispatcher
) -> None:
    # Given APNs answering 503 to every attempt at vinson's device, the queue refusing his retry task, and
    # DynamoDB failing the mark on his unit
    harness.upload_certificate()
    [token] = harness.register("vinson")["vinson"]
    harness.register("mum")
    harness.sandbox.state.add_fault(Fault(FaultKind.STATUS, status=503, count=3, token=token))
    fail(dispatcher.queue.client, "SendMessageBatch")  # type: ignore[attr-defined]
    fail(dispatcher.deliveries.client, "UpdateItem", when=is_orphans_mark)  # type: ignore[attr-defined]

    # When the group message is dispatched
    with captured_logs(harness.app.logger.name) as logs:
        report = dispatcher.dispatch(
            [QueueRecord("m-1", quiet_group(["vinson", "mum"]))], remaining_seconds=20.0
        )

    # Then the message stays on the queue for its retry, and the log says the mark is missing, with the run
    assert (report.failed_message_ids, report.summary()) == (
        ["m-1"],
        {"Delivered": 1, "RetryByRedelivery:ServiceUnavailable": 1},
    )
    assert lines(logs, NOT_MARKED) == [{"message": NOT_MARKED, "run": report.run}]
    assert lines(logs, NOT_RECORDED) == []
