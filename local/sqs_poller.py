"""Lambda's SQS event source mapping on moto's server: poll a queue, invoke, delete what succeeded.

Every ``Events`` entry of ``Type: SQS`` in template.yaml becomes a poller. Like Lambda's pollers it
long-polls the queue (asking for every system and message attribute), gathers a batch of up to
``BatchSize`` messages within ``MaximumBatchingWindowInSeconds``, and invokes the function with the batch
event Lambda builds (``Records`` with ``messageId``, ``receiptHandle``, ``body``, ``attributes``,
``messageAttributes`` in Lambda's camel-case shape, ``md5OfBody``, ``eventSource``, ``eventSourceARN``,
``awsRegion``).

After the invocation it deletes the messages that succeeded and leaves the others alone, so they come back
after the queue's visibility timeout and the queue's redrive policy moves them to the dead-letter queue
after ``maxReceiveCount`` receives, as on AWS (moto's server enforces ``maxReceiveCount`` on receive, the way
SQS does). What "succeeded" means follows Lambda's rules for ``ReportBatchItemFailures``:

- the function raised or timed out: nothing succeeded;
- no ``ReportBatchItemFailures``: everything succeeded;
- with it: ``None``, ``{}``, or a null or empty ``batchItemFailures`` is complete success; a list of
  ``{"itemIdentifier": <messageId of this batch>}`` fails exactly those; anything else (not an object, an
  entry without ``itemIdentifier``, an empty or unknown id) is a malformed answer and fails the whole batch.

The local runtime has one sandbox per function (see :mod:`local.lambda_runtime`), so a poller invokes one
batch at a time and ``ScalingConfig.MaximumConcurrency`` is read but cannot raise the concurrency above one.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Self

from local.lambda_runtime import FunctionDefinition, InvocationRejected, LocalFunction
from local.provision import Provisioned

logger = logging.getLogger("local.sqs")

DEFAULT_BATCH_SIZE = 10
SQS_MAX_RECEIVE = 10  # ReceiveMessage returns at most 10 messages per call


@dataclass(frozen=True)
class SqsEventSource:
    """One ``Type: SQS`` event of a function, with SAM's defaults applied."""

    function_id: str
    event_name: str
    queue_arn: str
    batch_size: int = DEFAULT_BATCH_SIZE
    batching_window_seconds: float = 0.0
    report_batch_item_failures: bool = False
    maximum_concurrency: int | None = None
    enabled: bool = True

    @property
    def queue_name(self) -> str:
        return self.queue_arn.rsplit(":", 1)[1]


def sqs_event_sources(
    functions: Mapping[str, FunctionDefinition], provisioned: Provisioned
) -> list[SqsEventSource]:
    sources = []
    for function in functions.values():
        for event_name, event in function.events_of_type("SQS").items():
            properties: dict[str, Any] = event.get("Properties") or {}
            scaling = properties.get("ScalingConfig") or {}
            sources.append(
                SqsEventSource(
                    function_id=function.logical_id,
                    event_name=event_name,
                    queue_arn=provisioned.resolve(properties["Queue"]),
                    batch_size=int(properties.get("BatchSize", DEFAULT_BATCH_SIZE)),
                    batching_window_seconds=float(properties.get("MaximumBatchingWindowInSeconds", 0)),
                    report_batch_item_failures="ReportBatchItemFailures"
                    in (properties.get("FunctionResponseTypes") or []),
                    maximum_concurrency=scaling.get("MaximumConcurrency"),
                    enabled=bool(properties.get("Enabled", True)),
                )
            )
    return sources


def lambda_record(message: Mapping[str, Any], *, queue_arn: str, region: str) -> dict[str, Any]:
    """One SQS message as Lambda puts it in ``Records``."""
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {
            name: _lambda_message_attribute(value)
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message["MD5OfBody"],
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    record.update(eventSource="aws:sqs", eventSourceARN=queue_arn, awsRegion=region)
    return record


def _lambda_message_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    shaped: dict[str, Any] = {}
    if "StringValue" in value:
        shaped["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        shaped["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode("ascii")
    shaped["stringListValues"] = list(value.get("StringListValues", []))
    shaped["binaryListValues"] = [
        base64.b64encode(item).decode("ascii") for item in value.get("BinaryListValues", [])
    ]
    shaped["dataType"] = value["DataType"]
    return shaped


@dataclass(frozen=True)
class BatchOutcome:
    """What one invocation did to its batch."""

    message_ids: tuple[str, ...]
    deleted: tuple[str, ...]
    retried: tuple[str, ...]
    reason: str | None = None  # why messages were left for retry, when they were


def failed_message_ids(
    answer: Any, message_ids: tuple[str, ...], *, report_batch_item_failures: bool
) -> tuple[tuple[str, ...], str | None]:
    """The messages Lambda would leave on the queue after a successful invocation, and why."""
    if not report_batch_item_failures or answer is None:
        return (), None
    if not isinstance(answer, dict):
        return message_ids, f"malformed answer: a {type(answer).__name__}, not an object"
    failures = answer.get("batchItemFailures")
    if failures is None or failures == []:
        return (), None
    if not isinstance(failures, list):
        return message_ids, "malformed answer: batchItemFailures is not a list"
    failed = []
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(identifier, str) or identifier not in message_ids:
            return message_ids, f"malformed answer: itemIdentifier {identifier!r} is not in this batch"
        failed.append(identifier)
    return tuple(message_id for message_id in message_ids if message_id in failed), "batchItemFailures"


@dataclass
class SqsPoller:
    """Polls one event source's queue and feeds its function, on a thread (``start``) or step by step."""

    source: SqsEventSource
    function: LocalFunction
    sqs: Any  # a boto3 SQS client for the emulated endpoint
    region: str = "us-east-1"
    receive_wait_seconds: int = 1  # long polling; also how long ``stop`` may wait for a poll to return
    outcomes: list[BatchOutcome] = field(default_factory=list, init=False)
    _queue_url: str | None = field(default=None, init=False)
    _stop: threading.Event = field(default_factory=threading.Event, init=False)
    _thread: threading.Thread | None = field(default=None, init=False)
    _changed: threading.Condition = field(default_factory=threading.Condition, init=False)

    @property
    def queue_url(self) -> str:
        if self._queue_url is None:
            self._queue_url = self.sqs.get_queue_url(QueueName=self.source.queue_name)["QueueUrl"]
        return self._queue_url

    def start(self) -> Self:
        if self.source.enabled and self._thread is None:
            self._stop.clear()
            name = f"sqs-{self.source.function_id}-{self.source.event_name}"
            self._thread = threading.Thread(target=self._run, name=name, daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def wait_for(self, count: int, timeout: float) -> list[BatchOutcome]:
        """Block until ``count`` batches have been handled (or ``timeout`` seconds pass); return them all."""
        with self._changed:
            self._changed.wait_for(lambda: len(self.outcomes) >= count, timeout)
            return list(self.outcomes)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:
                logger.exception("%s: polling %s failed", self.function.name, self.source.queue_name)
                self._stop.wait(1.0)

    def poll_once(self) -> BatchOutcome | None:
        """Receive one batch (waiting up to ``receive_wait_seconds``), invoke, settle. None if no message."""
        messages = self._receive_batch()
        if not messages:
            return None
        records = [lambda_record(m, queue_arn=self.source.queue_arn, region=self.region) for m in messages]
        message_ids = tuple(record["messageId"] for record in records)
        failed: tuple[str, ...]
        reason: str | None
        try:
            result = self.function.invoke({"Records": records})
        except InvocationRejected as exc:
            failed, reason = message_ids, f"invocation rejected: {exc}"
        else:
            if result.ok:
                failed, reason = failed_message_ids(
                    result.payload,
                    message_ids,
                    report_batch_item_failures=self.source.report_batch_item_failures,
                )
            else:
                error = result.error or {}
                failed, reason = message_ids, f"function error: {error.get('errorType')}"
        succeeded = [record for record in records if record["messageId"] not in failed]
        self._delete(succeeded)
        outcome = BatchOutcome(message_ids, tuple(r["messageId"] for r in succeeded), failed, reason)
        if failed:
            logger.warning(
                "%s: %d of %d messages left for retry (%s)",
                self.function.name,
                len(failed),
                len(records),
                reason,
            )
        with self._changed:
            self.outcomes.append(outcome)
            self._changed.notify_all()
        return outcome

    def _receive_batch(self) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        window_ends = time.monotonic() + self.source.batching_window_seconds
        while len(messages) < self.source.batch_size and not self._stop.is_set():
            remaining_window = window_ends - time.monotonic()
            if messages and remaining_window <= 0:
                break
            # Before the first message: long-poll. After it: wait only within the batching window.
            wait = self.receive_wait_seconds if not messages else min(20, int(remaining_window))
            received = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(SQS_MAX_RECEIVE, self.source.batch_size - len(messages)),
                WaitTimeSeconds=wait,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            messages += received
            if not messages:
                break
            if not received and wait == 0:
                # Under a second of the window left: short polls, a moment apart, until it closes.
                self._stop.wait(min(0.1, max(0.0, window_ends - time.monotonic())))
        return messages

    def _delete(self, records: list[dict[str, Any]]) -> None:
        for start in range(0, len(records), SQS_MAX_RECEIVE):
            chunk = records[start : start + SQS_MAX_RECEIVE]
            answer = self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": r["receiptHandle"]} for i, r in enumerate(chunk)],
            )
            for failure in answer.get("Failed", []):
                logger.error("%s: could not delete a processed message: %s", self.function.name, failure)
