"""Intake's edges (README "Dispatch", stage 1): a split job's summary counts every chunk's notifications,
each job of a batch is fanned out whatever the jobs before it were, and a failure of our own side (the
dead-letter queue, the job item's claim, the chunk tasks) leaves the message on the queue, sending
nothing."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.certificates import SDK_APP_ID
from tests.support.dispatch import DispatchHarness
from tests.support.jobs import GROUP, MSG_KEY, ONE_TO_ONE, job_dict

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

FIVE = ["a", "b", "c", "d", "e"]


def fail_once(client: Any, operation: str, when: Any = lambda params: True) -> None:
    """``client``'s next ``operation`` whose parameters match fails as AWS would fail it (5xx)."""
    service = client.meta.service_model.service_id.hyphenize()
    event = f"provide-client-params.{service}.{operation}"

    def hook(params: dict[str, Any], **_: Any) -> None:
        if when(params):
            client.meta.events.unregister(event, unique_id="fail-once")
            raise ClientError({"Error": {"Code": "InternalServerError", "Message": "injected"}}, operation)

    client.meta.events.register(event, hook, unique_id="fail-once")


def quiet_group(users: list[str], msg_key: str = MSG_KEY) -> dict[str, Any]:
    """A group job that leaves the badge alone (BadgeMode 1)."""
    return job_dict(GROUP, MsgKey=msg_key, To_Account=users, OfflinePushInfo={"ApnsInfo": {"BadgeMode": 1}})


def chunk_tasks(harness: DispatchHarness) -> list[tuple[str, list[str]]]:
    """The chunk tasks on the push queue (not the jobs left there): each one's MsgKey and receivers."""
    return sorted(
        (body["Job"]["MsgKey"], body["Job"]["To_Account"])
        for body in harness.queued_bodies()
        if "OfflinePushTask" in body
    )


def test_the_summary_of_a_split_job_counts_the_notifications_of_every_chunk(
    harness: DispatchHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a 6-receiver group message dispatched in units of 2 (the job's own chunk and two chunk tasks)
    monkeypatch.setenv("DISPATCH_CHUNK_SIZE", "2")
    harness.upload_certificate()
    users = ["vinson", "mum", "dad", "uncle", "aunt", "gran"]
    harness.register(users)
    harness.enqueue(quiet_group(users))

    # When every unit has run
    batches = harness.drain()

    # Then the message's summary counts the 6 notifications, all delivered
    assert [batch.failed for batch in batches] == [[]] * len(batches)
    status, summary = harness.message(SDK_APP_ID, MSG_KEY)
    assert (status, summary["notifications"], summary["outcomes"]) == (
        HTTPStatus.OK,
        6,
        {"delivered": 6, "failed": 0, "retrying": 0, "sending": 0, "interrupted": 0},
    )


def test_a_large_job_is_split_after_jobs_of_the_same_batch_that_were_not(
    harness: DispatchHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given units of 2, and a message "resent-1" already split and served to a, b and c
    monkeypatch.setenv("DISPATCH_CHUNK_SIZE", "2")
    harness.upload_certificate()
    harness.register(FIVE)
    harness.enqueue(quiet_group(["a", "b", "c"], "resent-1"))
    harness.drain()

    # When one batch holds a job asking for no push, a job that fits one unit, the resend of "resent-1"
    # with one more receiver (one left to serve: nothing to split), then a job of five receivers
    harness.enqueue(
        job_dict(ONE_TO_ONE, MsgKey="off-1", OfflinePushInfo={"PushFlag": 1}),
        quiet_group(["a"], "small-1"),
        quiet_group(["a", "b", "c", "d"], "resent-1"),
        quiet_group(FIVE, "large-1"),
    )
    messages = harness.receive()
    assert len(messages) == 4
    batch = harness.invoke(messages)

    # Then the last job still kept its first unit and put the other three receivers back as chunk tasks
    assert batch.failed == []
    assert chunk_tasks(harness) == [("large-1", ["c", "d"]), ("large-1", ["e"])]


def test_a_job_whose_chunk_tasks_were_refused_does_not_stop_the_next_job_splitting(
    harness: DispatchHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given units of 2, and SQS refusing the next batch of chunk tasks only
    monkeypatch.setenv("DISPATCH_CHUNK_SIZE", "2")
    harness.upload_certificate()
    harness.register(FIVE)
    first_id, _ = harness.enqueue(quiet_group(FIVE, "large-1"), quiet_group(FIVE, "large-2"))
    messages = sorted(harness.receive(), key=lambda message: message["MessageId"] != first_id)
    fail_once(harness.app.dispatcher().queue.client, "SendMessageBatch")

    # When both jobs are processed in one batch
    batch = harness.invoke(messages)

    # Then the first stays on the queue, and the second's chunk tasks went out
    assert batch.failed == [first_id]
    assert chunk_tasks(harness) == [("large-2", ["c", "d"]), ("large-2", ["e"])]


def test_an_invalid_job_the_dead_letter_queue_cannot_take_is_left_on_the_queue(
    harness: DispatchHarness,
) -> None:
    # Given a good job and a body that is not JSON, and the dead-letter queue unavailable
    harness.upload_certificate()
    harness.register("vinson")
    good_id, garbage_id = harness.enqueue(ONE_TO_ONE, "hello?")
    messages = harness.receive()
    fail_once(harness.app.dispatcher().queue.client, "SendMessage")

    # When the batch is processed
    batch = harness.invoke(messages)

    # Then only the invalid message is reported for SQS to retry (its redrive moves it later); the good one
    # was delivered
    assert (batch.failed, len(harness.received()), harness.dead_letters()) == ([garbage_id], 1, [])
    assert good_id in batch.message_ids


def test_a_large_job_whose_job_item_cannot_be_claimed_is_left_whole_and_sends_nothing(
    harness: DispatchHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given units of 2, and the next claim of a job item failing
    monkeypatch.setenv("DISPATCH_CHUNK_SIZE", "2")
    harness.upload_certificate()
    harness.register(FIVE)
    [message_id] = harness.enqueue(quiet_group(FIVE))
    messages = harness.receive()
    fail_once(
        harness.app.dispatcher().deliveries.client,
        "PutItem",
        lambda params: params["Item"]["sk"]["S"] == "j#",
    )

    # When the job is processed
    batch = harness.invoke(messages)

    # Then it stays on the queue, whole: no chunk task, no notification
    assert (batch.failed, chunk_tasks(harness), harness.received()) == ([message_id], [], [])


def test_a_job_whose_job_item_cannot_be_claimed_does_not_stop_the_next_job_splitting(
    harness: DispatchHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given units of 2, two jobs of five receivers, and the first claim of a job item failing
    monkeypatch.setenv("DISPATCH_CHUNK_SIZE", "2")
    harness.upload_certificate()
    harness.register(FIVE)
    first_id, _ = harness.enqueue(quiet_group(FIVE, "large-1"), quiet_group(FIVE, "large-2"))
    messages = sorted(harness.receive(), key=lambda message: message["MessageId"] != first_id)
    fail_once(
        harness.app.dispatcher().deliveries.client,
        "PutItem",
        lambda params: params["Item"]["sk"]["S"] == "j#",
    )

    # When both jobs are processed in one batch
    batch = harness.invoke(messages)

    # Then the first stays on the queue, whole, and the second kept its first unit and queued the rest
    assert batch.failed == [first_id]
    assert chunk_tasks(harness) == [("large-2", ["c", "d"]), ("large-2", ["e"])]
