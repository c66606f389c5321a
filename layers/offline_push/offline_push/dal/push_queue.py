"""The push queue (SQS): the dispatcher's own tasks go back on it, and jobs it cannot read go to its
dead-letter queue with the reason."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import boto3
from aws_lambda_powertools import Logger
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from offline_push.errors import StorageError

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient

logger = Logger(child=True)

SEND_BATCH_LIMIT: Final = 10  # entries per SendMessageBatch
SEND_BATCH_BYTES: Final = 262_144  # the sum of the entries' bodies per SendMessageBatch
MAX_DELAY_SECONDS: Final = 900  # SQS's longest per-message delay
# The reason attribute of a dead letter is cut to this many characters (attributes count toward 256 KiB).
MAX_REASON_CHARS: Final = 1024
# SQS's largest message (body and attributes), which the dead-letter queue keeps by default.
MAX_MESSAGE_BYTES: Final = 1_048_576


@dataclass(frozen=True, slots=True)
class OutgoingTask:
    body: str
    delay_seconds: int = 0


class PushQueue:
    def __init__(self, queue_url: str, dead_letter_url: str, *, client: SQSClient | None = None) -> None:
        self.queue_url = queue_url
        self.dead_letter_url = dead_letter_url
        self._client = client

    @property
    def client(self) -> SQSClient:
        if self._client is None:
            self._client = boto3.client("sqs", config=Config(retries={"mode": "standard", "max_attempts": 5}))
        return self._client

    def send(self, tasks: Sequence[OutgoingTask]) -> list[bool]:
        """Put tasks on the push queue, ten (and at most 256 KiB) per request; True for each one accepted.

        An entry SQS refuses is tried again once in the next request; a failed request fails its entries.
        """
        accepted = [False] * len(tasks)
        batches: list[list[int]] = []
        current: list[int] = []
        size = 0
        for index, task in enumerate(tasks):
            body_size = len(task.body.encode())
            if current and (len(current) == SEND_BATCH_LIMIT or size + body_size > SEND_BATCH_BYTES):
                batches.append(current)
                current, size = [], 0
            current.append(index)
            size += body_size
        if current:
            batches.append(current)
        for batch in batches:
            remaining = batch
            for _ in range(2):
                remaining = self._send_batch(tasks, remaining, accepted)
                if not remaining:
                    break
        return accepted

    def _send_batch(
        self, tasks: Sequence[OutgoingTask], indexes: list[int], accepted: list[bool]
    ) -> list[int]:
        entries: list[Any] = [
            {
                "Id": str(index),
                "MessageBody": tasks[index].body,
                "DelaySeconds": max(0, min(MAX_DELAY_SECONDS, tasks[index].delay_seconds)),
            }
            for index in indexes
        ]
        try:
            answer = self.client.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
        except (ClientError, BotoCoreError) as exc:
            logger.warning("tasks not queued", extra={"count": len(indexes), "error": type(exc).__name__})
            return []
        for entry in answer.get("Successful", []):
            accepted[int(entry["Id"])] = True
        failed = [int(entry["Id"]) for entry in answer.get("Failed", [])]
        if failed:
            codes = sorted({str(entry.get("Code")) for entry in answer.get("Failed", [])})
            logger.warning("tasks refused by SQS", extra={"count": len(failed), "codes": codes})
        # Sender faults (a malformed entry) will not succeed on a second try.
        return [int(entry["Id"]) for entry in answer.get("Failed", []) if not entry.get("SenderFault", False)]

    def dead_letter(self, body: str, *, code: str, reason: str, message_id: str) -> None:
        """Move a message the dispatcher cannot process to the dead-letter queue, with why.

        SQS takes only some characters: a body that reached the function otherwise (a direct invocation with
        lone surrogates or control characters) is kept with those replaced by U+FFFD, and the reason says so.
        The reason is cut so that body and attributes fit in one SQS message.
        """
        kept_body = sqs_text(body)
        if kept_body != body:
            reason = f"{reason} (characters SQS cannot carry were replaced by U+FFFD in this copy)"
        attributes = {"code": sqs_text(code), "sourceMessageId": sqs_text(message_id)}
        room = (
            MAX_MESSAGE_BYTES
            - len(kept_body.encode())
            - _attributes_size(attributes)
            - _attributes_size({"reason": ""})
        )
        cut = _cut_utf8(sqs_text(reason)[:MAX_REASON_CHARS], max(room, 0))
        if cut:
            attributes["reason"] = cut
        try:
            self.client.send_message(
                QueueUrl=self.dead_letter_url,
                MessageBody=kept_body,
                MessageAttributes={
                    name: {"DataType": "String", "StringValue": value} for name, value in attributes.items()
                },
            )
        except (ClientError, BotoCoreError) as exc:
            raise StorageError("the message could not be moved to the dead-letter queue") from exc


# What SQS accepts in a message (#x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF).
_NOT_SQS_TEXT = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def sqs_text(text: str) -> str:
    """``text`` with every character SQS refuses replaced by U+FFFD."""
    return _NOT_SQS_TEXT.sub("\ufffd", text)


def _attributes_size(attributes: dict[str, str]) -> int:
    # SQS counts each attribute's name, data type and value toward the message size.
    return sum(
        len(name.encode()) + len(b"String") + len(value.encode()) for name, value in attributes.items()
    )


def _cut_utf8(text: str, limit: int) -> str:
    encoded = text.encode()
    return text if len(encoded) <= limit else encoded[:limit].decode(errors="ignore")
