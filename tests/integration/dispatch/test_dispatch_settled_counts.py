"""Stage 6 counts every owned notification (README "Dispatch"): one that could not be sent (its certificate
gone) is counted as not delivered with its reason, and the notifications after it are still counted; a
retryable answer on the last attempt is counted as retries exhausted."""

from __future__ import annotations

import json

import pytest

from functions.dispatch.app import DispatchSettings, build_dispatcher
from local.apns_sandbox import Fault, FaultKind
from offline_push.apns import run_in_warm_loop
from offline_push.logic.dispatch import Dispatcher, QueueRecord
from offline_push.models.credential import ApnsEnvironment
from tests.support.dispatch import DispatchHarness
from tests.support.jobs import GROUP, ONE_TO_ONE, job_dict

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


def test_a_notification_without_its_certificate_is_counted_and_the_next_ones_still_are(
    harness: DispatchHarness, dispatcher: Dispatcher
) -> None:
    # Given vinson's device registered under a certificate that does not exist, mum's under one that does
    harness.upload_certificate()
    harness.store_devices({"vinson": ["ab" * 32]}, business_id=2, environment=ApnsEnvironment.PRODUCTION)
    harness.register("mum")
    job = job_dict(GROUP, To_Account=["vinson", "mum"], OfflinePushInfo={"ApnsInfo": {"BadgeMode": 1}})

    # When the group message is dispatched
    report = dispatcher.dispatch([QueueRecord("m-1", json.dumps(job))], remaining_seconds=30)

    # Then vinson's is counted not delivered for its certificate, and mum's delivered
    assert report.summary() == {"Delivered": 1, "NotDelivered:CertificateNotFound": 1}
    assert (report.failed_message_ids, len(harness.received())) == ([], 1)


def test_a_retryable_answer_on_the_last_attempt_is_counted_as_retries_exhausted(
    harness: DispatchHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given one attempt per delivery, and APNs answering 503 to vinson's device (all the client's retries)
    monkeypatch.setenv("DISPATCH_MAX_ATTEMPTS", "1")
    harness.upload_certificate()
    [token] = harness.register("vinson")["vinson"]
    harness.sandbox.state.add_fault(Fault(FaultKind.STATUS, status=503, count=10, token=token))
    built = build_dispatcher(DispatchSettings.from_environ(), clock=lambda: 1_795_000_000.0)

    # When the message is dispatched
    try:
        report = built.dispatch([QueueRecord("m-1", json.dumps(ONE_TO_ONE))], remaining_seconds=30)
    finally:
        run_in_warm_loop(built.apns.close())

    # Then it is counted not delivered, its retries exhausted, and no retry task is queued
    assert report.summary() == {"NotDelivered:RetriesExhausted": 1}
    assert harness.queued_bodies() == []
