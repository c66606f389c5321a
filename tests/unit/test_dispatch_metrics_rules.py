"""The dispatch run's metrics (README "Operating"): the messages of the batch as `QueueMessages`, one metric
per outcome, and per reason a metric with a `reason` dimension, in the namespace Powertools is given (the
service dimension `offline-push` unless set otherwise)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_lambda_powertools import Metrics

from offline_push.api.dispatch import publish_metrics
from offline_push.logic.dispatch import BatchReport


def emitted(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """The EMF documents printed so far, each as namespace, dimensions and metric values."""
    found = []
    for line in capsys.readouterr().out.splitlines():
        document = json.loads(line)
        [directive] = document["_aws"]["CloudWatchMetrics"]
        names = [metric["Name"] for metric in directive["Metrics"]]
        found.append(
            {
                "namespace": directive["Namespace"],
                "dimensions": {name: document[name] for name in directive["Dimensions"][0]},
                "values": {name: document[name] for name in names},
            }
        )
    return found


def test_a_run_publishes_its_messages_its_outcomes_and_each_reason_with_its_dimension(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a run of 3 messages: 2 delivered, 1 not (BadDeviceToken), 1 duplicate; no service name set
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "OfflinePush")
    monkeypatch.delenv("POWERTOOLS_SERVICE_NAME")
    report = BatchReport(run="run-1", messages=3)
    report.count("Delivered", n=2)
    report.count("NotDelivered", "BadDeviceToken")
    report.count("Duplicate")
    metrics = Metrics(namespace="OfflinePush", service="offline-push")

    # When its metrics are published and flushed, as the handler's decorator does
    publish_metrics(report, metrics)
    metrics.flush_metrics()

    # Then the reason's metric went out on its own with its dimension, the others together
    assert emitted(capsys) == [
        {
            "namespace": "OfflinePush",
            "dimensions": {"service": "offline-push", "reason": "BadDeviceToken"},
            "values": {"NotDelivered": [1.0]},
        },
        {
            "namespace": "OfflinePush",
            "dimensions": {"service": "offline-push"},
            "values": {"QueueMessages": [3.0], "Delivered": [2.0], "Duplicate": [1.0]},
        },
    ]


def test_the_reason_metrics_follow_the_service_name_and_namespace_given(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "ChatPush")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "chat-push")
    report = BatchReport(run="run-1", messages=1)
    report.count("RetryScheduled", "ServiceUnavailable")

    publish_metrics(report, Metrics(namespace="ChatPush", service="chat-push"))

    assert emitted(capsys) == [
        {
            "namespace": "ChatPush",
            "dimensions": {"service": "chat-push", "reason": "ServiceUnavailable"},
            "values": {"RetryScheduled": [1.0]},
        }
    ]


def test_nothing_is_printed_when_metrics_are_disabled(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given metrics disabled (POWERTOOLS_METRICS_DISABLED), and a run with a reason and without
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    report = BatchReport(run="run-1", messages=2)
    report.count("Delivered")
    report.count("NotDelivered", "Unregistered")
    metrics = Metrics(namespace="OfflinePush", service="offline-push")

    publish_metrics(report, metrics)
    metrics.flush_metrics()

    # Then no EMF line: Powertools' single metrics would print even then, so reasons are not sent as such
    assert capsys.readouterr().out == ""
