"""Stage 2 counts every receiver it cannot push to, with its reason, and goes on with the receivers after them
(README "Dispatch" and "VoIP calls"): a receiver with no registration is `NoDeviceRegistered`, one with no
PushKit token for a call without alert fallback is `NoVoipRegistration`, and neither stops the receivers
listed after it from being pushed. Moto for AWS, the APNs sandbox over a real TLS socket."""

from __future__ import annotations

import json

import pytest

from local.apple_pki import PushCertificateKind
from offline_push.logic.dispatch import Dispatcher, QueueRecord
from offline_push.models.credential import PushKind
from tests.support.dispatch import DispatchHarness
from tests.support.jobs import GROUP, job_dict

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

CALL = {"CallId": "call-7f3a", "MediaType": "audio"}


def test_receivers_without_a_device_or_a_pushkit_token_are_counted_and_the_next_receivers_still_ring(
    harness: DispatchHarness, dispatcher: Dispatcher
) -> None:
    # Given a group call to ghost (never registered), mum (an APNs token only) and vinson (a PushKit token),
    # in that order
    harness.upload_certificate(kind=PushCertificateKind.UNIVERSAL)
    [mum] = harness.register("mum")["mum"]
    [voip] = harness.register("vinson", push_kind=PushKind.VOIP)["vinson"]
    job = job_dict(GROUP, To_Account=["ghost", "mum", "vinson"], Call=CALL)

    # When the call invitation (no alert fallback) is dispatched
    report = dispatcher.dispatch([QueueRecord("m-1", json.dumps(job))], remaining_seconds=30)

    # Then ghost and mum are counted with their reasons, and vinson's phone rings all the same
    assert report.summary() == {
        "Delivered": 1,
        "NotDelivered:NoDeviceRegistered": 1,
        "NotDelivered:NoVoipRegistration": 1,
    }
    assert ([n["pushType"] for n in harness.received(voip)], harness.received(mum)) == (["voip"], [])


def test_an_ordinary_message_counts_each_receiver_without_a_device_once(
    harness: DispatchHarness, dispatcher: Dispatcher
) -> None:
    # Given a group message to two unregistered receivers, then mum and vinson with APNs tokens
    harness.upload_certificate(kind=PushCertificateKind.UNIVERSAL)
    [mum] = harness.register("mum")["mum"]
    [vinson] = harness.register("vinson")["vinson"]
    job = job_dict(GROUP, To_Account=["ghost", "shade", "mum", "vinson"])

    # When it is dispatched
    report = dispatcher.dispatch([QueueRecord("m-1", json.dumps(job))], remaining_seconds=30)

    # Then the two are counted not delivered, and both registered receivers get the alert
    assert report.summary() == {"Delivered": 2, "NotDelivered:NoDeviceRegistered": 2}
    assert [len(harness.received(token)) for token in (mum, vinson)] == [1, 1]


def test_a_receiver_with_only_a_pushkit_token_has_no_device_for_a_message_and_the_next_receivers_still_get_it(
    harness: DispatchHarness, dispatcher: Dispatcher
) -> None:
    # Given a group message to vinson, who has only a PushKit token, then to mum, with an APNs token
    harness.upload_certificate(kind=PushCertificateKind.UNIVERSAL)
    [voip] = harness.register("vinson", push_kind=PushKind.VOIP)["vinson"]
    [mum] = harness.register("mum")["mum"]
    job = job_dict(GROUP, To_Account=["vinson", "mum"])

    # When it is dispatched
    report = dispatcher.dispatch([QueueRecord("m-1", json.dumps(job))], remaining_seconds=30)

    # Then vinson counts as a receiver without a device (a message never goes to a PushKit token), and mum
    # gets the alert
    assert report.summary() == {"Delivered": 1, "NotDelivered:NoDeviceRegistered": 1}
    assert (harness.received(voip), [n["pushType"] for n in harness.received(mum)]) == ([], ["alert"])


def test_a_job_sent_twice_in_one_batch_pushes_once_and_counts_each_receiver_of_the_copy_as_duplicate(
    harness: DispatchHarness, dispatcher: Dispatcher
) -> None:
    # Given mum and vinson registered, and a group message to both queued twice (a sender's retry)
    harness.upload_certificate(kind=PushCertificateKind.UNIVERSAL)
    tokens = [token for user in ("vinson", "mum") for token in harness.register(user)[user]]
    body = json.dumps(job_dict(GROUP, To_Account=["vinson", "mum"]))

    # When one run gets both copies
    report = dispatcher.dispatch([QueueRecord("m-1", body), QueueRecord("m-2", body)], remaining_seconds=30)

    # Then each phone gets one alert, and both notifications of the copy are counted as duplicates
    assert report.summary() == {"Delivered": 2, "Duplicate": 2}
    assert [len(harness.received(token)) for token in tokens] == [1, 1]
