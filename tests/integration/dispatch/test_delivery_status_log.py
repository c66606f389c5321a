"""Delivered pushes are logged, not stored: one delivery-status line each (as SNS's delivery status logging),
sampled at DELIVERY_SUCCESS_SAMPLE_RATE percent; a push not delivered always gets its line (and a record)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from local.apns_sandbox import Fault, FaultKind
from offline_push.models.delivery import DeliveryKey
from tests.support.certificates import SDK_APP_ID
from tests.support.dispatch import DispatchHarness
from tests.support.jobs import GROUP, MSG_KEY

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


def status_lines(output: str) -> list[dict[str, Any]]:
    """The delivery-status lines of the function's output, without the fields that change per run."""
    lines = []
    for line in output.splitlines():
        if not line.startswith("{"):
            continue
        document = json.loads(line)
        if document.get("message") == "delivery status":
            assert (document.pop("timestamp")[:2], len(document.pop("run"))) == ("20", 32)
            lines.append(document)
    return lines


def line(user: str, token: str, status: str, **fields: object) -> dict[str, object]:
    return {
        "level": "INFO",
        "message": "delivery status",
        "service": "offline-push",
        "status": status,
        "sdkAppId": SDK_APP_ID,
        "msgKey": MSG_KEY,
        "userId": user,
        "device": f"{token[:8]}…(32B)",
        "businessId": 1,
        "environment": "development",
        "apnsId": DeliveryKey(SDK_APP_ID, MSG_KEY, user, token).apns_id,
        "attempt": 1,
        "badge": 1,
        **fields,
    }


def test_each_push_gets_a_delivery_status_line_and_only_failures_a_record(
    harness: DispatchHarness, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given vinson's and mum's devices, mum's token refused by APNs
    harness.upload_certificate()
    tokens = harness.register(["vinson", "mum"])
    [vinson], [mum] = tokens["vinson"], tokens["mum"]
    harness.sandbox.state.add_fault(Fault(FaultKind.STATUS, status=400, reason="TopicDisallowed", token=mum))
    capsys.readouterr()

    # When a group message is dispatched
    harness.enqueue(GROUP)
    harness.drain()

    # Then the log says what became of each push, and only mum's failure is stored
    assert status_lines(capsys.readouterr().out) == [
        line("vinson", vinson, "SUCCESS", statusCode=200),
        line("mum", mum, "FAILURE", statusCode=400, reason="TopicDisallowed"),
    ]
    _, summary = harness.message(SDK_APP_ID, MSG_KEY)
    assert (summary["outcomes"]["delivered"], summary["failures"]) == (1, {"TopicDisallowed": 1})
    assert [d["outcome"] for d in harness.deliveries(SDK_APP_ID, "vinson")[1]["deliveries"]] == []


def test_with_a_zero_success_sample_rate_only_failures_are_logged(
    harness: DispatchHarness, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a stack logging no delivered push (DeliverySuccessSampleRate 0), and mum's token refused
    monkeypatch.setenv("DELIVERY_SUCCESS_SAMPLE_RATE", "0")
    harness.upload_certificate()
    tokens = harness.register(["vinson", "mum"])
    [mum] = tokens["mum"]
    harness.sandbox.state.add_fault(Fault(FaultKind.STATUS, status=400, reason="TopicDisallowed", token=mum))
    capsys.readouterr()

    # When a group message is dispatched
    harness.enqueue(GROUP)
    harness.drain()

    # Then vinson's delivery is not logged, mum's failure is
    assert status_lines(capsys.readouterr().out) == [
        line("mum", mum, "FAILURE", statusCode=400, reason="TopicDisallowed")
    ]
    assert len(harness.received(tokens["vinson"][0])) == 1
