"""The SQS contract: the exact batchItemFailures list, invalid jobs to the dead-letter queue with their reason
(never failing the batch, never retried), failures of our own side left on the queue for SQS to retry."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.certificates import OTHER_SDK_APP_ID, SDK_APP_ID
from tests.support.dispatch import DispatchHarness
from tests.support.jobs import MSG_KEY, ONE_TO_ONE, job_dict

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


def fail_when(client: Any, operation: str, when: Any) -> None:
    """``client``'s calls of ``operation`` whose parameters match fail as AWS would fail them (5xx)."""

    def hook(params: dict[str, Any], **_: Any) -> None:
        if when(params):
            raise ClientError({"Error": {"Code": "InternalServerError", "Message": "injected"}}, operation)

    service = client.meta.service_model.service_id.hyphenize()
    client.meta.events.register(f"provide-client-params.{service}.{operation}", hook, unique_id="fail-when")


def test_a_poison_job_goes_to_the_dead_letter_queue_with_its_reason_and_the_batch_succeeds(
    harness: DispatchHarness,
) -> None:
    # Given a batch with a good job, a job whose element type does not exist, and a body that is not JSON
    harness.upload_certificate()
    [token] = harness.register("vinson")["vinson"]
    broken = job_dict(ONE_TO_ONE, MsgKey="broken-1", MsgBody=[{"MsgType": "TIMMagicElem", "MsgContent": {}}])
    good_id, broken_id, garbage_id = harness.enqueue(ONE_TO_ONE, broken, "hello?")

    # When the batch is processed
    batch = harness.invoke(harness.receive())

    # Then nothing is left for retry, the good job was delivered, and both bad ones are dead letters with why
    assert batch.message_ids == (good_id, broken_id, garbage_id)
    assert batch.answer == {"batchItemFailures": []}
    assert len(harness.received(token)) == 1
    letters = harness.dead_letters()
    assert [letter["attributes"]["sourceMessageId"] for letter in letters] == [broken_id, garbage_id]
    assert letters[0] == {
        "body": json.dumps(broken, ensure_ascii=False),
        "attributes": {
            "code": "InvalidPushJob",
            "reason": "invalid push job: MsgBody[0].MsgType: unknown message element type 'TIMMagicElem' "
            "(one of TIMTextElem, TIMLocationElem, TIMFaceElem, TIMCustomElem, TIMSoundElem, TIMImageElem, "
            "TIMFileElem, TIMVideoFileElem, TIMRelayElem)",
            "sourceMessageId": broken_id,
        },
    }
    assert letters[1]["attributes"]["reason"].startswith("invalid push job: not valid JSON")
    assert harness.receive() == []

    # And the broken job's message summary says why it was not pushed
    status, summary = harness.message(SDK_APP_ID, "broken-1")
    assert (status, summary["invalidJob"]) == (200, letters[0]["attributes"]["reason"])


def test_a_task_of_a_newer_release_is_dead_lettered_not_misread(harness: DispatchHarness) -> None:
    # Given a task of a version this release does not know
    task = {"OfflinePushTask": {"version": 2, "kind": "retry"}, "Job": ONE_TO_ONE}
    harness.enqueue(task)

    # When it is processed
    batch = harness.invoke(harness.receive())

    # Then it is parked with the reason, for a redrive once that release is deployed
    assert batch.failed == []
    [letter] = harness.dead_letters()
    assert letter["attributes"]["reason"] == (
        "task version 2 is not supported by this release (it reads version 1): redrive it once the release "
        "that wrote it is deployed"
    )


def test_a_storage_failure_leaves_exactly_the_affected_messages_on_the_queue(
    harness: DispatchHarness,
) -> None:
    # Given two apps' jobs in one batch, and the registration reads of the first app failing
    harness.upload_certificate()
    harness.upload_certificate(sdk_app_id=OTHER_SDK_APP_ID)
    harness.register("vinson")
    [other_token] = harness.register("vinson", sdk_app_id=OTHER_SDK_APP_ID)["vinson"]
    registrations = harness.app.dispatcher().registrations.client
    fail_when(
        registrations,
        "BatchGetItem",
        lambda params: f"user#{SDK_APP_ID}#" in json.dumps(params),
    )
    first_id, _ = harness.enqueue(ONE_TO_ONE, job_dict(ONE_TO_ONE, SdkAppId=OTHER_SDK_APP_ID))

    # When the batch is processed
    batch = harness.invoke(harness.receive())

    # Then only the first app's job is reported for SQS to retry (nothing of it was claimed or sent), the
    # other was delivered
    assert batch.answer == {"batchItemFailures": [{"itemIdentifier": first_id}]}
    assert [n["deviceToken"] for n in harness.received()] == [other_token]
    assert [json.loads(message["Body"])["MsgKey"] for message in harness.receive()] == [MSG_KEY]


def test_a_failing_fan_out_leaves_the_large_job_for_sqs_to_retry(
    harness: DispatchHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given chunks of 2 receivers, and SQS refusing the chunk tasks
    monkeypatch.setenv("DISPATCH_CHUNK_SIZE", "2")
    harness.upload_certificate()
    harness.register(["a", "b", "c", "d", "e"])
    fail_when(harness.app.dispatcher().queue.client, "SendMessageBatch", lambda params: True)
    [message_id] = harness.enqueue(job_dict(ONE_TO_ONE, To_Account=["a", "b", "c", "d", "e"]))

    # When the job is processed
    batch = harness.invoke(harness.receive())

    # Then the job stays on the queue, whole, and nothing was sent (its chunk comes back with it)
    assert (batch.failed, harness.received()) == ([message_id], [])
