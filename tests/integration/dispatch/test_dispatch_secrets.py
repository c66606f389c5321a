"""Device tokens never appear whole in logs, metrics or the deliveries API; certificate passwords nowhere."""

from __future__ import annotations

import pytest

from local.apns_sandbox import Fault, FaultKind
from offline_push.models.credential import ApnsEnvironment
from tests.support.certificates import PASSWORD, SDK_APP_ID
from tests.support.dispatch import DispatchHarness
from tests.support.jobs import GROUP, job_dict

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


def test_tokens_and_passwords_stay_out_of_logs_and_answers(
    harness: DispatchHarness, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    # Given a dead token, a retried one, a delivered one and an invalid job: every path that logs
    harness.upload_certificate()
    [dead] = harness.register("vinson", apple_environment=ApnsEnvironment.PRODUCTION)["vinson"]
    [retried] = harness.register("mum")["mum"]
    [fine] = harness.register("dad")["dad"]
    harness.sandbox.state.add_fault(Fault(FaultKind.STATUS, status=503, count=3, token=retried))
    harness.enqueue(
        job_dict(GROUP, To_Account=["vinson", "mum", "dad"]), '{"SdkAppId": 1400000001, "MsgKey": 7}'
    )

    # When everything is dispatched and the operator reads the records
    harness.drain()
    answers = [harness.deliveries(SDK_APP_ID, user) for user in ("vinson", "mum", "dad")]
    output = capsys.readouterr()

    # Then no token is whole anywhere, only its hint, and the password never shows
    text = output.out + output.err + caplog.text + repr(answers)
    assert "dead device token" in text
    assert f"{dead[:8]}…(32B)" in text
    for token in (dead, retried, fine):
        assert token not in text
    assert PASSWORD not in text
