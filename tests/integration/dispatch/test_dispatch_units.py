"""Claims per unit of work: one conditional write per job or chunk of a job instead of one per notification,
with the guarantees of a claim per notification: a duplicated chunk notifies nobody twice, an interrupted unit
is taken over and sends only what its run did not settle, each failure is recorded per notification, and
retries the queue refused are not lost."""

from __future__ import annotations

from collections import Counter
from http import HTTPStatus
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local.apns_sandbox import Fault, FaultKind
from offline_push.logic.dispatch import Dispatcher, QueueRecord
from offline_push.models.delivery import DeliveryKey
from tests.support.certificates import SDK_APP_ID, counting_calls
from tests.support.dispatch import DispatchHarness
from tests.support.dispatch_control import Clock, Crash
from tests.support.jobs import GROUP, MSG_KEY, job_dict

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


def fail_on(client: Any, operation: str, error: Exception, when: Any = lambda params: True) -> None:
    """Make ``client``'s next ``operation`` whose parameters match raise ``error``."""
    service = client.meta.service_model.service_id.hyphenize()
    event = f"provide-client-params.{service}.{operation}"

    def hook(params: dict[str, Any], **_: Any) -> None:
        if when(params):
            client.meta.events.unregister(event, unique_id="fail")
            raise error

    client.meta.events.register(event, hook, unique_id="fail")


def is_run_marker(params: dict[str, Any]) -> bool:
    return str(params["Item"]["pk"]["S"]).startswith("run#")


def records_of(harness: DispatchHarness) -> list[QueueRecord]:
    return [QueueRecord(message["MessageId"], message["Body"]) for message in harness.receive(visibility=300)]


def quiet_group(users: list[str]) -> dict[str, Any]:
    """A group job that leaves the badge alone (BadgeMode 1): no counter write per receiver."""
    return job_dict(GROUP, To_Account=users, OfflinePushInfo={"ApnsInfo": {"BadgeMode": 1}})


def dynamodb_clients(dispatcher: Dispatcher) -> list[Any]:
    return [
        dispatcher.deliveries.client,  # type: ignore[attr-defined]
        dispatcher.registrations.client,  # type: ignore[attr-defined]
        dispatcher.languages._settings_store.client,  # type: ignore[attr-defined]
        dispatcher.credentials.repository.store.client,  # type: ignore[attr-defined]
    ]


def test_a_group_job_claims_once_per_unit_and_writes_nothing_per_delivered_notification(
    harness: DispatchHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given 300 group members with a device each, a message that writes no badge counter, units of 100
    monkeypatch.setenv("DISPATCH_CHUNK_SIZE", "100")
    harness.upload_certificate()
    users = [f"member-{index:04d}" for index in range(300)]
    harness.register(users)
    harness.enqueue(quiet_group(users))

    # When the job and its chunk tasks are processed (the job's run, then one run for both chunks)
    with counting_calls(*dynamodb_clients(harness.app.dispatcher())) as calls:
        batches = harness.drain()

    # Then every member got it once, for: the registrations (100 per read), the app's settings (once per
    # container), the certificate's version (once per run: a deleted certificate stops at the next run), one
    # claim for the job (with its receivers), one per unit, one completion marker per run; nothing per
    # notification
    assert ([batch.failed for batch in batches], len(harness.received())) == ([[], []], 300)
    assert harness.sandbox.state.duplicates() == {}
    assert Counter(calls) == {"BatchGetItem": 3, "GetItem": 1 + 2, "PutItem": 1 + 3 + 2}


def test_a_chunk_task_delivered_twice_notifies_nobody_twice(
    harness: DispatchHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a 6-receiver group cut into units of 2: the job's run keeps one, two go out as chunk tasks
    monkeypatch.setenv("DISPATCH_CHUNK_SIZE", "2")
    harness.upload_certificate()
    users = ["vinson", "mum", "dad", "uncle", "aunt", "gran"]
    tokens = harness.register(users)
    harness.enqueue(quiet_group(users))
    harness.invoke(harness.receive())
    chunks = harness.queued_bodies()
    assert len(chunks) == 2
    harness.drain()

    # When SQS delivers every chunk task again (and the job too)
    harness.enqueue(*chunks, *chunks, quiet_group(users))
    batches = harness.drain()

    # Then nobody got it twice, and the units' claims said so
    assert [batch.failed for batch in batches] == [[]] * len(batches)
    assert [len(harness.received(token)) for user in users for token in tokens[user]] == [1] * 6
    assert harness.sandbox.state.duplicates() == {}


def test_a_resend_of_a_split_job_to_more_receivers_serves_only_the_new_one(
    harness: DispatchHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a 6-receiver group message dispatched in units of 2
    monkeypatch.setenv("DISPATCH_CHUNK_SIZE", "2")
    harness.upload_certificate()
    users = ["vinson", "mum", "dad", "uncle", "aunt", "gran"]
    tokens = harness.register([*users, "cousin"])
    harness.enqueue(quiet_group(users))
    harness.drain()

    # When the IM backend resends the MsgKey to one more receiver (another job, other units)
    harness.enqueue(quiet_group(["cousin", *users]))
    harness.drain()

    # Then the first job's receivers (kept with its claim) are not served again: only cousin is
    assert [len(harness.received(token)) for user in [*users, "cousin"] for token in tokens[user]] == [1] * 7
    assert harness.sandbox.state.duplicates() == {}


def test_failures_are_recorded_per_notification_in_one_batch_write(harness: DispatchHarness) -> None:
    # Given a group message: vinson's device fine, mum's refused for good, uncle's unknown to Apple
    harness.upload_certificate()
    harness.register("vinson")
    [mum] = harness.register("mum")["mum"]
    harness.register("uncle", at_apple=False)
    harness.sandbox.state.add_fault(Fault(FaultKind.STATUS, status=400, reason="TopicDisallowed", token=mum))
    harness.enqueue(quiet_group(["vinson", "mum", "uncle"]))

    # When it is dispatched
    with counting_calls(harness.app.dispatcher().deliveries.client) as calls:
        harness.drain()

    # Then the deliveries table got the unit's claim, both failures in one batch write, and the run's marker
    assert calls == ["PutItem", "BatchWriteItem", "PutItem"]

    # ... each failure is listed for its receiver with its reason
    for user, reason in (("mum", "TopicDisallowed"), ("uncle", "BadDeviceToken")):
        status, view = harness.deliveries(SDK_APP_ID, user)
        assert (status, [(d["msgKey"], d["outcome"], d["reason"]) for d in view["deliveries"]]) == (
            HTTPStatus.OK,
            [(MSG_KEY, "failed", reason)],
        )
    _, vinson = harness.deliveries(SDK_APP_ID, "vinson")
    assert vinson["deliveries"] == []

    # ... and the message summary counts the delivered one through its unit
    status, summary = harness.message(SDK_APP_ID, MSG_KEY)
    assert (status, summary["notifications"], summary["outcomes"], summary["failures"]) == (
        HTTPStatus.OK,
        3,
        {"delivered": 1, "failed": 2, "retrying": 0, "sending": 0, "interrupted": 0},
        {"BadDeviceToken": 1, "TopicDisallowed": 1},
    )


def test_an_interrupted_unit_is_taken_over_and_sends_only_what_its_run_did_not_settle(
    harness: DispatchHarness, dispatcher: Dispatcher, clock: Clock
) -> None:
    # Given a run that delivered vinson's notification, recorded mum's final failure, queued a retry for
    # uncle's, and died before its completion marker
    harness.upload_certificate()
    [vinson] = harness.register("vinson")["vinson"]
    [mum] = harness.register("mum")["mum"]
    [uncle] = harness.register("uncle")["uncle"]
    state = harness.sandbox.state
    state.add_fault(Fault(FaultKind.STATUS, status=400, reason="TopicDisallowed", token=mum))
    state.add_fault(Fault(FaultKind.STATUS, status=503, count=3, token=uncle))
    harness.enqueue(quiet_group(["vinson", "mum", "uncle"]))
    records = records_of(harness)
    fail_on(dispatcher.deliveries.client, "PutItem", Crash(), when=is_run_marker)  # type: ignore[attr-defined]
    with pytest.raises(Crash):
        dispatcher.dispatch(records, remaining_seconds=30)

    # When the job's message comes back after the unit's lease, and then the retry task is processed
    clock.now += 61
    report = dispatcher.dispatch(records, remaining_seconds=30)
    harness.drain()

    # Then the unit was taken over: vinson's sent again with the same apns-id (the window the guarantees
    # accept), mum's failure not retried, uncle's sent once (by whichever run took its record first)
    assert report.summary() == {"Delivered": 2, "Duplicate": 1, "TakenOver": 2}
    assert state.duplicates() == {DeliveryKey(SDK_APP_ID, MSG_KEY, "vinson", vinson).apns_id: 2}
    assert [len(harness.received(token)) for token in (vinson, mum, uncle)] == [2, 0, 1]
    status, summary = harness.message(SDK_APP_ID, MSG_KEY)
    assert (status, summary["outcomes"], summary["failures"]) == (
        HTTPStatus.OK,
        {"delivered": 2, "failed": 1, "retrying": 0, "sending": 0, "interrupted": 0},
        {"TopicDisallowed": 1},
    )


def test_a_retry_the_queue_refused_is_taken_over_when_the_job_comes_back(
    harness: DispatchHarness, dispatcher: Dispatcher, clock: Clock
) -> None:
    # Given a run that delivered vinson's notification and could not queue the retry of uncle's
    harness.upload_certificate()
    [vinson] = harness.register("vinson")["vinson"]
    [uncle] = harness.register("uncle")["uncle"]
    harness.sandbox.state.add_fault(Fault(FaultKind.STATUS, status=503, count=3, token=uncle))
    harness.enqueue(quiet_group(["vinson", "uncle"]))
    records = records_of(harness)
    refused = ClientError({"Error": {"Code": "InternalError", "Message": "down"}}, "SendMessageBatch")
    for _ in range(2):  # the queue client tries a refused batch twice
        fail_on(dispatcher.queue.client, "SendMessageBatch", refused)  # type: ignore[attr-defined]
    first = dispatcher.dispatch(records, remaining_seconds=30)
    assert first.failed_message_ids == [records[0].message_id]

    # When the job's message comes back (after the visibility timeout)
    clock.now += 61
    second = dispatcher.dispatch(records, remaining_seconds=30)

    # Then only uncle's notification was sent again: vinson's was delivered by the finished run
    assert (second.failed_message_ids, second.summary()) == (
        [],
        {"Delivered": 1, "Duplicate": 1, "TakenOver": 1},
    )
    assert [len(harness.received(token)) for token in (vinson, uncle)] == [1, 1]
    assert harness.sandbox.state.duplicates() == {}


def test_a_retry_that_comes_before_its_record_claims_the_delivery_and_is_counted_once(
    harness: DispatchHarness, dispatcher: Dispatcher, clock: Clock
) -> None:
    # Given a run that delivered vinson's notification, queued a retry for uncle's and died before writing
    # uncle's record (its retry task may be taken that fast, by another instance)
    harness.upload_certificate()
    [vinson] = harness.register("vinson")["vinson"]
    [uncle] = harness.register("uncle")["uncle"]
    harness.sandbox.state.add_fault(Fault(FaultKind.STATUS, status=503, count=3, token=uncle))
    harness.enqueue(quiet_group(["vinson", "uncle"]))
    records = records_of(harness)

    def is_retry_record(params: dict[str, Any]) -> bool:
        return str(params["Item"]["pk"]["S"]).startswith("m#")

    fail_on(dispatcher.deliveries.client, "PutItem", Crash(), when=is_retry_record)  # type: ignore[attr-defined]
    with pytest.raises(Crash):
        dispatcher.dispatch(records, remaining_seconds=30)

    # When the retry task is processed: uncle's delivery has no item yet
    [batch] = harness.drain()

    # Then the retry claimed it (a conditional put) and sent it once
    assert (batch.failed, [len(harness.received(token)) for token in (vinson, uncle)]) == ([], [1, 1])

    # ... and the message summary counts each notification once: uncle's by its record, vinson's by the
    # unit, whose run died (sending or interrupted, by the API's clock, until the job's message comes back)
    status, summary = harness.message(SDK_APP_ID, MSG_KEY)
    outcomes = summary["outcomes"]
    assert (status, summary["notifications"], outcomes["delivered"], outcomes["failed"]) == (
        HTTPStatus.OK,
        2,
        1,
        0,
    )
    assert outcomes["sending"] + outcomes["interrupted"] == 1

    # When the job's message comes back after the unit's lease
    clock.now += 61
    report = dispatcher.dispatch(records, remaining_seconds=30)

    # Then vinson's is sent again (the crash-after-send window) and uncle's is not
    assert report.summary() == {"Delivered": 1, "Duplicate": 1, "TakenOver": 1}
    assert [len(harness.received(token)) for token in (vinson, uncle)] == [2, 1]


def test_two_jobs_with_one_msg_key_in_one_batch_serve_each_receiver_once(harness: DispatchHarness) -> None:
    # Given the IM backend sending a MsgKey to vinson and mum, then (at once) to mum and dad, and the first
    # job's claim refused by DynamoDB this time (throttled): the second claims the MsgKey
    harness.upload_certificate()
    tokens = harness.register(["vinson", "mum", "dad"])
    harness.enqueue(quiet_group(["vinson", "mum"]), quiet_group(["mum", "dad"]))
    throttled = ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "PutItem")
    fail_on(
        harness.app.dispatcher().deliveries.client,
        "PutItem",
        throttled,
        when=lambda params: str(params["Item"]["sk"]["S"]) == "j#",
    )

    # When both jobs come in one batch, and the first comes back
    batches = harness.drain()

    # Then the job holding the MsgKey served mum (not left out as a duplicate of the refused one), and the
    # first, back from the queue, only the receiver the second did not have
    assert [batch.failed for batch in batches][1:] == [[]]
    assert [len(harness.received(token)) for user in ("vinson", "mum", "dad") for token in tokens[user]] == [
        1,
        1,
        1,
    ]
    assert harness.sandbox.state.duplicates() == {}
