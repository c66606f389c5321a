"""Nothing sent twice, nothing lost: the same job delivered twice (SQS at-least-once, the IM backend
resending a MsgKey), a duplicate processed while the first is still running, and crashes between claiming
and sending and between sending and recording."""

from __future__ import annotations

from typing import Any

import pytest

from offline_push.logic.dispatch import Dispatcher, QueueRecord
from offline_push.models.delivery import DeliveryKey
from tests.support.certificates import SDK_APP_ID
from tests.support.dispatch import DispatchHarness
from tests.support.dispatch_control import Clock, Crash
from tests.support.jobs import GROUP, MSG_KEY, ONE_TO_ONE, job_dict

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


def crash_on(client: Any, operation: str, when: Any = lambda params: True) -> None:
    """Make ``client`` die (raise :class:`Crash`) on its next ``operation`` whose parameters match."""

    def hook(params: dict[str, Any], **_: Any) -> None:
        if when(params):
            client.meta.events.unregister(f"provide-client-params.{service}.{operation}", unique_id="crash")
            raise Crash

    service = client.meta.service_model.service_id.hyphenize()
    client.meta.events.register(f"provide-client-params.{service}.{operation}", hook, unique_id="crash")


def records_of(harness: DispatchHarness) -> list[QueueRecord]:
    return [QueueRecord(message["MessageId"], message["Body"]) for message in harness.receive(visibility=300)]


def test_a_job_delivered_twice_notifies_each_device_once(harness: DispatchHarness) -> None:
    # Given a group job already dispatched
    harness.upload_certificate()
    tokens = harness.register(["vinson", "mum"])
    harness.enqueue(GROUP)
    harness.drain()

    # When the IM backend sends the same message again (same MsgKey), and SQS delivers it twice in one batch
    harness.enqueue(GROUP, GROUP)
    [batch] = harness.drain()

    # Then nobody got it twice and the badges were counted once
    assert batch.failed == []
    assert [len(harness.received(token)) for user in ("vinson", "mum") for token in tokens[user]] == [1, 1]
    assert (harness.sandbox.state.duplicates(), harness.badge_of("vinson"), harness.badge_of("mum")) == (
        {},
        1,
        1,
    )


def test_a_duplicate_while_the_first_run_holds_the_claims_sends_nothing(
    harness: DispatchHarness, dispatcher: Dispatcher, clock: Clock
) -> None:
    # Given a run that claimed vinson's delivery and died before sending
    harness.upload_certificate()
    [token] = harness.register("vinson")["vinson"]
    harness.enqueue(ONE_TO_ONE)
    records = records_of(harness)
    crash_on(dispatcher.credentials.repository.files.s3, "GetObject")  # type: ignore[attr-defined]
    with pytest.raises(Crash):
        dispatcher.dispatch(records, remaining_seconds=30)

    # When a duplicate of the job is processed while that run's lease still holds (it may be alive)
    clock.now += 30
    report = dispatcher.dispatch(records, remaining_seconds=30)

    # Then nothing is sent: the delivery belongs to the first run
    assert (harness.received(token), report.summary()) == ([], {"HeldByAnotherRun": 1})


def test_a_crash_between_claiming_and_sending_loses_nothing(
    harness: DispatchHarness, dispatcher: Dispatcher, clock: Clock
) -> None:
    # Given a run that claimed the deliveries (and counted the badges) and died before sending anything
    harness.upload_certificate()
    tokens = harness.register(["vinson", "mum"])
    harness.enqueue(GROUP)
    records = records_of(harness)
    crash_on(dispatcher.credentials.repository.files.s3, "GetObject")  # type: ignore[attr-defined]
    with pytest.raises(Crash):
        dispatcher.dispatch(records, remaining_seconds=30)
    assert harness.received() == []

    # When the job's message comes back after the visibility timeout (past the claim's lease: 30 s + 30 s)
    clock.now += 61
    report = dispatcher.dispatch(records, remaining_seconds=30)

    # Then the next run took the claims over and delivered each notification once, badges counted once
    assert report.summary() == {"Delivered": 2, "TakenOver": 2}
    assert sorted(n["deviceToken"] for n in harness.received()) == sorted(tokens["vinson"] + tokens["mum"])
    assert [n["payload"]["aps"]["badge"] for n in harness.received()] == [1, 1]
    assert (harness.badge_of("vinson"), harness.badge_of("mum")) == (1, 1)


def test_a_crash_between_sending_and_recording_resends_with_the_same_apns_and_collapse_ids(
    harness: DispatchHarness, dispatcher: Dispatcher, clock: Clock
) -> None:
    # Given a run that sent vinson's notification and died before recording that its run completed
    harness.upload_certificate()
    [token] = harness.register("vinson")["vinson"]
    harness.enqueue(ONE_TO_ONE)
    records = records_of(harness)
    deliveries = dispatcher.deliveries.client  # type: ignore[attr-defined]
    crash_on(deliveries, "PutItem", when=lambda params: params["Item"]["pk"]["S"].startswith("run#"))
    with pytest.raises(Crash):
        dispatcher.dispatch(records, remaining_seconds=30)

    # When the job's message comes back after the lease
    clock.now += 61
    dispatcher.dispatch(records, remaining_seconds=30)

    # Then APNs saw it twice: the one window where that can happen, with the same apns-id (Apple's side can
    # tell) and the same collapse id, so the device shows the second in place of the first, with one badge
    apns_id = DeliveryKey(SDK_APP_ID, MSG_KEY, "vinson", token).apns_id
    received = harness.received(token)
    assert harness.sandbox.state.duplicates() == {apns_id: 2}
    assert [(n["apnsId"], n["collapseId"], n["payload"]) for n in received[1:]] == [
        (received[0]["apnsId"], received[0]["collapseId"], received[0]["payload"])
    ]
    assert harness.badge_of("vinson") == 1


def test_a_retry_task_delivered_twice_sends_once(harness: DispatchHarness) -> None:
    # Given a delivery waiting for its retry task
    from local.apns_sandbox import Fault, FaultKind  # noqa: PLC0415

    harness.upload_certificate()
    [token] = harness.register("vinson")["vinson"]
    harness.sandbox.state.add_fault(Fault(FaultKind.STATUS, status=503, count=3, token=token))
    harness.enqueue(ONE_TO_ONE)
    harness.invoke(harness.receive())
    [task] = harness.queued_bodies()

    # When SQS delivers the retry task twice (the second after the first finished)
    harness.drain()
    harness.enqueue(task)
    [batch] = harness.drain()

    # Then the device got the notification once
    assert (batch.failed, len(harness.received(token)), harness.sandbox.state.duplicates()) == ([], 1, {})


def test_an_im_backend_resending_a_message_to_more_receivers_serves_only_the_new_ones(
    harness: DispatchHarness,
) -> None:
    # Given a message dispatched to vinson
    harness.upload_certificate()
    tokens = harness.register(["vinson", "mum"])
    harness.enqueue(job_dict(GROUP, To_Account=["vinson"]))
    harness.drain()

    # When the IM backend resends the same MsgKey to vinson and mum (mum went offline meanwhile)
    harness.enqueue(job_dict(GROUP, To_Account=["vinson", "mum"]))
    harness.drain()

    # Then the key is per receiver and device: mum gets it, vinson not a second time
    assert [len(harness.received(token)) for token in (*tokens["vinson"], *tokens["mum"])] == [1, 1]
