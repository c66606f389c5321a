"""APNs refusing the credential (README "Dispatch", stage 6): after a credential-class answer (BadCertificate,
BadCertificateEnvironment, InvalidProviderToken, BadEnvironmentKeyInToken, TopicDisallowed) the cached
credential is checked again on its next use, even within ``CREDENTIAL_REVALIDATE_SECONDS``, so a certificate
replaced or deleted since is seen at once; any other final answer leaves the cache as it is."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from functions.dispatch.app import DispatchSettings, build_dispatcher
from local.apns_sandbox import Fault, FaultKind
from offline_push.apns import run_in_warm_loop
from offline_push.logic.dispatch import Dispatcher, QueueRecord
from tests.support.dispatch import DispatchHarness
from tests.support.jobs import ONE_TO_ONE, job_dict

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


@pytest.fixture
def dispatcher(harness: DispatchHarness, monkeypatch: pytest.MonkeyPatch) -> Iterator[Dispatcher]:
    # A credential is trusted for 5 minutes after it was read: only an invalidation makes it checked sooner.
    monkeypatch.setenv("CREDENTIAL_REVALIDATE_SECONDS", "300")
    built = build_dispatcher(DispatchSettings.from_environ(), clock=lambda: 1_795_000_000.0)
    yield built
    run_in_warm_loop(built.apns.close())


def refused_then_deleted(harness: DispatchHarness, dispatcher: Dispatcher, status: int, reason: str) -> str:
    """APNs answers ``status`` ``reason`` to vinson's push with certificate 1, then the operator deletes the
    certificate; mum's token."""
    harness.upload_certificate()
    [vinson] = harness.register("vinson")["vinson"]
    [mum] = harness.register("mum")["mum"]
    harness.sandbox.state.add_fault(Fault(FaultKind.STATUS, status=status, reason=reason, token=vinson))
    first = dispatcher.dispatch([QueueRecord("m-1", json.dumps(ONE_TO_ONE))], remaining_seconds=20.0)
    assert first.summary() == {f"NotDelivered:{reason}": 1}
    assert harness.certificates.delete(1).status == 204
    return mum


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (403, "BadCertificate"),
        (403, "BadCertificateEnvironment"),
        (403, "InvalidProviderToken"),
        (403, "BadEnvironmentKeyInToken"),
        (400, "TopicDisallowed"),
    ],
)
def test_after_apns_refuses_the_credential_a_deleted_certificate_is_seen_at_once(
    harness: DispatchHarness, dispatcher: Dispatcher, status: int, reason: str
) -> None:
    # Given APNs refused certificate 1's credential, and the operator deleted the certificate since
    mum = refused_then_deleted(harness, dispatcher, status, reason)

    # When the next message, to mum, comes to the same warm dispatcher within the trust period
    report = dispatcher.dispatch(
        [QueueRecord("m-2", json.dumps(job_dict(ONE_TO_ONE, MsgKey="m-2", To_Account=["mum"])))],
        remaining_seconds=20.0,
    )

    # Then the credential was checked again: nothing is sent, and the missing certificate is the reason
    assert report.summary() == {"NotDelivered:CertificateNotFound": 1}
    assert harness.received(mum) == []


def test_after_another_final_answer_the_cached_credential_is_trusted_for_its_period(
    harness: DispatchHarness, dispatcher: Dispatcher
) -> None:
    # Given APNs refused vinson's push for a reason that is not the credential's (403 Forbidden), and the
    # operator deleted certificate 1 since
    mum = refused_then_deleted(harness, dispatcher, 403, "Forbidden")

    # When the next message, to mum, comes to the same warm dispatcher within the trust period
    report = dispatcher.dispatch(
        [QueueRecord("m-2", json.dumps(job_dict(ONE_TO_ONE, MsgKey="m-2", To_Account=["mum"])))],
        remaining_seconds=20.0,
    )

    # Then the cached credential is used, as for any load within the period
    assert report.summary() == {"Delivered": 1}
    assert len(harness.received(mum)) == 1
