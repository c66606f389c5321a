"""The dispatch function's interface: SQS batch events in, ``batchItemFailures`` and metrics out."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from offline_push.logic.dispatch import BatchReport, QueueRecord


def queue_records(event: Mapping[str, Any]) -> list[QueueRecord]:
    """The batch's messages, in order (Lambda's SQS event: ``Records``, each with ``messageId`` and ``body``).

    Read directly rather than through Powertools' ``SQSEvent``, whose data classes add ~40 ms to a cold start
    for two fields."""
    return [QueueRecord(str(record["messageId"]), str(record["body"])) for record in event.get("Records", [])]


def batch_response(report: BatchReport) -> dict[str, list[dict[str, str]]]:
    """ReportBatchItemFailures: the messages to leave on the queue (everything else is deleted)."""
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in report.failed_message_ids]}


def publish_metrics(report: BatchReport, metrics: Metrics) -> None:
    """One metric per outcome (``Delivered``, ``NotDelivered``, ``RetryScheduled``, ``NoPush``, ...), with a
    ``reason`` dimension where the outcome has reasons (Apple's, the formatter's or the dispatcher's)."""
    metrics.add_metric(name="QueueMessages", unit=MetricUnit.Count, value=report.messages)
    service = os.environ.get("POWERTOOLS_SERVICE_NAME", "offline-push")
    for (outcome, reason), count in sorted(report.counts.items()):
        if not reason or is_metrics_disabled():  # single_metric prints even when metrics are disabled
            metrics.add_metric(name=outcome, unit=MetricUnit.Count, value=count)
            continue
        with single_metric(
            name=outcome,
            unit=MetricUnit.Count,
            value=count,  # the namespace: Powertools reads POWERTOOLS_METRICS_NAMESPACE, as for `metrics`
            default_dimensions={"service": service},
        ) as metric:
            metric.add_dimension(name="reason", value=reason)
