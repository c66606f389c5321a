"""When a retry is due and how long its record is held (README "Dispatch", stage 6): a retry task's deliveries
say when their next attempt is (the run's clock plus the task's delay, to the millisecond) and their lease
outlives it by the margin; a retry's final record keeps the time its notification was first sent; a job's
message delivered twice after its retry was queued sends nothing again."""

from __future__ import annotations

import dataclasses
import json
import random
from typing import Any

import pytest

from functions.dispatch.app import DispatchSettings, build_dispatcher
from local.apns_sandbox import Fault, FaultKind
from offline_push.apns import run_in_warm_loop
from offline_push.logic.dispatch import Dispatcher, QueueRecord
from offline_push.models.delivery import DeliveryKey
from tests.support.certificates import SDK_APP_ID
from tests.support.dispatch import DispatchHarness
from tests.support.dispatch_control import Clock
from tests.support.jobs import GROUP, MSG_KEY, ONE_TO_ONE, job_dict

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


class MidpointRandom(random.Random):
    """Jitter drawn at the middle of its range: a delay of 4 s before the second attempt (base 5 s)."""

    def random(self) -> float:
        return 0.5


@pytest.fixture
def clock() -> Clock:
    return Clock(1_795_000_000.25)


def only_delivery(harness: DispatchHarness, user: str) -> dict[str, Any]:
    status, view = harness.deliveries(SDK_APP_ID, user)
    assert status == 200
    [delivery] = view["deliveries"]
    return dict(delivery)


def test_a_retry_is_due_after_its_delay_and_its_lease_ends_the_margin_after(
    harness: DispatchHarness, monkeypatch: pytest.MonkeyPatch, clock: Clock
) -> None:
    # Given retries 5 s apart (4 s at the jitter's midpoint), a lease margin of 30 s, and APNs answering 503
    # to every attempt at vinson's device
    monkeypatch.setenv("DISPATCH_RETRY_BASE_SECONDS", "5")
    monkeypatch.setenv("DISPATCH_LEASE_MARGIN_SECONDS", "30")
    built = build_dispatcher(DispatchSettings.from_environ(), clock=clock)
    dispatcher = dataclasses.replace(built, rng=MidpointRandom())
    harness.upload_certificate()
    [token] = harness.register("vinson")["vinson"]
    harness.sandbox.state.add_fault(Fault(FaultKind.STATUS, status=503, count=3, token=token))

    # When the message is dispatched at 1,795,000,000.25 s
    try:
        report = dispatcher.dispatch([QueueRecord("m-1", json.dumps(ONE_TO_ONE))], remaining_seconds=20.0)
    finally:
        run_in_warm_loop(built.apns.close())

    # Then a retry is scheduled, its next attempt 4 s later to the millisecond
    assert (report.failed_message_ids, report.summary()) == ([], {"RetryScheduled:ServiceUnavailable": 1})
    delivery = only_delivery(harness, "vinson")
    assert (delivery["outcome"], delivery["nextAttemptAt"]) == ("retrying", "2026-11-18T11:06:44.250Z")
    # And its record is held 30 s past then (whole seconds), in milliseconds and seconds as stored
    key = DeliveryKey(SDK_APP_ID, MSG_KEY, "vinson", token)
    stored = dispatcher.deliveries.deliveries_of([key])[key]
    assert (stored.retry_at, stored.lease) == (1_795_000_004_250, 1_795_000_034)


def test_a_retrys_final_record_keeps_the_time_its_notification_was_first_sent(
    harness: DispatchHarness, dispatcher: Dispatcher, clock: Clock
) -> None:
    # Given vinson's notification retrying since 1,795,000,000.25 s (503 to every attempt), and APNs then
    # refusing it for good (413)
    harness.upload_certificate()
    [token] = harness.register("vinson")["vinson"]
    state = harness.sandbox.state
    state.add_fault(Fault(FaultKind.STATUS, status=503, count=3, token=token))
    state.add_fault(Fault(FaultKind.STATUS, status=413, reason="PayloadTooLarge", token=token))
    first = dispatcher.dispatch([QueueRecord("m-1", json.dumps(ONE_TO_ONE))], remaining_seconds=20.0)
    assert first.summary() == {"RetryScheduled:ServiceUnavailable": 1}

    # When its retry task is processed a minute later
    clock.now += 60
    [task] = harness.receive(visibility=300)
    report = dispatcher.dispatch([QueueRecord(task["MessageId"], task["Body"])], remaining_seconds=20.0)

    # Then its record says it failed on the second attempt, at the time it was first sent
    assert report.summary() == {"NotDelivered:PayloadTooLarge": 1}
    delivery = only_delivery(harness, "vinson")
    assert (delivery["outcome"], delivery["reason"], delivery["attempts"], delivery["at"]) == (
        "failed",
        "PayloadTooLarge",
        2,
        "2026-11-18T11:06:40.250Z",
    )


def test_a_job_delivered_twice_after_its_retry_was_queued_sends_nothing_again(
    harness: DispatchHarness, dispatcher: Dispatcher
) -> None:
    # Given a run that delivered mum's notification and queued a retry task for vinson's (503 to every
    # attempt)
    harness.upload_certificate()
    [vinson] = harness.register("vinson")["vinson"]
    [mum] = harness.register("mum")["mum"]
    harness.sandbox.state.add_fault(Fault(FaultKind.STATUS, status=503, count=3, token=vinson))
    job = json.dumps(
        job_dict(GROUP, To_Account=["vinson", "mum"], OfflinePushInfo={"ApnsInfo": {"BadgeMode": 1}})
    )
    first = dispatcher.dispatch([QueueRecord("m-1", job)], remaining_seconds=20.0)
    assert first.summary() == {"Delivered": 1, "RetryScheduled:ServiceUnavailable": 1}

    # When the job's message is delivered again (SQS delivers at least once)
    again = dispatcher.dispatch([QueueRecord("m-1", job)], remaining_seconds=20.0)

    # Then nothing is sent again: the unit is done, vinson's retry is its task's
    assert (again.failed_message_ids, again.summary()) == ([], {"Duplicate": 2})
    assert [len(harness.received(token)) for token in (vinson, mum)] == [0, 1]
