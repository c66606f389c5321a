"""The dispatch function on moto and the APNs sandbox: certificates uploaded through the certificate API,
devices registered in the registration store (and in the sandbox), jobs put on the real (moto) push queue and
fed to the handler as Lambda's SQS batch events, the queue drained the way Lambda's poller would.

The sandbox runs on its own thread and event loop: the handler runs its own (warm) loop on the test's thread,
as on Lambda, and talks to the sandbox over a real TLS socket.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3

from local.apns_sandbox import ApnsSandbox
from local.apple_pki import PushCertificateKind
from local.provision import Provisioned
from local.sqs_poller import lambda_record
from offline_push.apns import run_in_warm_loop
from offline_push.dal.registration_store import device_to_attribute, user_key
from offline_push.models.credential import ApnsEnvironment, PushKind, topic_for
from offline_push.models.registration import DeviceRegistration, from_epoch_millis
from tests.support.certificates import BUNDLE_ID, SDK_APP_ID, CertificateApi, p12_upload, pki
from tests.support.events import LambdaContext, http_event, response_json

REGION = "us-east-1"
OTHER_BUNDLE_ID = "com.example.chat.lite"
# Lambda's view of a batch's time: the dispatcher leases its claims for this (plus a margin).
REMAINING_MS = 30_000


class ThreadedSandbox:
    """:class:`ApnsSandbox` on a background thread with its own event loop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="apns-sandbox", daemon=True)
        self.sandbox = ApnsSandbox(pki())

    def start(self) -> ApnsSandbox:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.sandbox.start(), self.loop).result(10)
        return self.sandbox

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.sandbox.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def apns_environment(sandbox: ApnsSandbox, ca_bundle: Path) -> dict[str, str]:
    """The dispatch function's APNs variables pointing at the sandbox, with short timeouts and backoff."""
    return {
        "APNS_PRODUCTION_URL": sandbox.production_url,
        "APNS_SANDBOX_URL": sandbox.development_url,
        "APNS_EXTRA_CA_BUNDLE": str(ca_bundle),
        "APNS_CONNECT_TIMEOUT": "2",
        "APNS_READ_TIMEOUT": "2",
        "APNS_POOL_TIMEOUT": "2",
        "APNS_BACKOFF_BASE": "0.01",
        "APNS_BACKOFF_MAX": "0.05",
        # Retry tasks are due at once: the tests read them from the queue and feed them back.
        "DISPATCH_RETRY_BASE_SECONDS": "0",
        # moto answers in-process, holding the GIL: parallel writes only make it slower (DynamoDB's latency,
        # which threads hide on Lambda, is not there to hide).
        "DISPATCH_WRITE_CONCURRENCY": "1",
    }


@dataclass(frozen=True)
class Batch:
    """One invocation: the messages it was given and what it answered."""

    message_ids: tuple[str, ...]
    answer: dict[str, Any]

    @property
    def failed(self) -> list[str]:
        return [failure["itemIdentifier"] for failure in self.answer["batchItemFailures"]]


class DispatchHarness:
    """Drives the dispatch function the way its SQS event source does, and sets up what it reads."""

    def __init__(
        self, aws: Provisioned, sandbox: ApnsSandbox, app: ModuleType, deliveries_app: ModuleType
    ) -> None:
        self.aws = aws
        self.sandbox = sandbox
        self.app = app
        self.deliveries_app = deliveries_app
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.dynamodb = boto3.client("dynamodb", region_name=REGION)
        self.queue_url = aws.refs["PushQueue"]
        self.dead_letter_url = aws.refs["PushDeadLetterQueue"]
        self.queue_arn = aws.attributes[("PushQueue", "Arn")]
        self.certificates = CertificateApi(
            importlib.import_module("functions.certificates.app").lambda_handler
        )
        self.topics: dict[int, str] = {}

    # --- setup ---------------------------------------------------------------------------------------------

    def upload_certificate(
        self,
        *,
        environment: ApnsEnvironment = ApnsEnvironment.DEVELOPMENT,
        bundle_id: str = BUNDLE_ID,
        kind: PushCertificateKind | None = None,
        sdk_app_id: int = SDK_APP_ID,
    ) -> int:
        """Upload a p12 through the certificate API; its businessId."""
        if kind is None:
            kind = (
                PushCertificateKind.DEVELOPMENT
                if environment is ApnsEnvironment.DEVELOPMENT
                else PushCertificateKind.UNIVERSAL
            )
        answer = self.certificates.create(
            p12_upload(kind, environment=environment.value, name="Chat", bundle_id=bundle_id), sdk_app_id
        )
        assert answer.status == 201, answer.body
        business_id = int(answer.body["businessId"])
        self.topics[business_id] = bundle_id
        return business_id

    def register(
        self,
        users: Iterable[str] | str,
        *,
        business_id: int = 1,
        environment: ApnsEnvironment = ApnsEnvironment.DEVELOPMENT,
        topic: str | None = None,
        sdk_app_id: int = SDK_APP_ID,
        devices_per_user: int = 1,
        at_apple: bool = True,
        apple_environment: ApnsEnvironment | None = None,
        push_kind: PushKind = PushKind.ALERT,
        keep: bool = False,
    ) -> dict[str, list[str]]:
        """Register devices (new tokens) for ``users`` in the registration table, and at Apple (the sandbox)
        for the topic of ``business_id`` (``<bundle>.voip`` for PushKit tokens) unless told otherwise; the
        tokens by user."""
        names = [users] if isinstance(users, str) else list(users)
        tokens = {user: [os.urandom(32).hex() for _ in range(devices_per_user)] for user in names}
        self.store_devices(
            tokens,
            business_id=business_id,
            environment=environment,
            sdk_app_id=sdk_app_id,
            push_kind=push_kind,
            keep=keep,
        )
        if at_apple:
            apple_topic = topic or topic_for(self.topics.get(business_id, BUNDLE_ID), push_kind)
            for user_tokens in tokens.values():
                for token in user_tokens:
                    self.sandbox.state.register_device(token, apple_topic, apple_environment or environment)
        return tokens

    def store_devices(
        self,
        tokens: dict[str, list[str]],
        *,
        business_id: int,
        environment: ApnsEnvironment,
        sdk_app_id: int = SDK_APP_ID,
        registered_at_ms: int = 1_790_000_000_000,
        badge: int = 0,
        push_kind: PushKind = PushKind.ALERT,
        keep: bool = False,
    ) -> None:
        """User items in the registration store's layout (its own key and device codecs), 25 per write;
        ``keep``: the users' devices already stored are kept beside these."""
        requests: list[Any] = []
        for user, user_tokens in tokens.items():
            devices = (
                dict(self.registration(user, sdk_app_id).get("devices", {}).get("M", {})) if keep else {}
            )
            devices |= {
                token: device_to_attribute(
                    DeviceRegistration(
                        token=token,
                        business_id=business_id,
                        environment=environment,
                        registered_at=from_epoch_millis(registered_at_ms),
                        push_kind=push_kind,
                    )
                )
                for token in user_tokens
            }
            item = {
                **user_key(sdk_app_id, user),
                "sdkAppId": {"S": str(sdk_app_id)},
                "userId": {"S": user},
                "devices": {"M": devices},
                "badge": {"N": str(badge)},
                "version": {"N": "1"},
            }
            requests.append({"PutRequest": {"Item": item}})
        table = self.aws.environment["REGISTRATIONS_TABLE"]
        for start in range(0, len(requests), 25):
            self.dynamodb.batch_write_item(RequestItems={table: requests[start : start + 25]})

    def registration(self, user: str, sdk_app_id: int = SDK_APP_ID) -> dict[str, Any]:
        item = self.dynamodb.get_item(
            TableName=self.aws.environment["REGISTRATIONS_TABLE"], Key=user_key(sdk_app_id, user)
        ).get("Item", {})
        return dict(item)

    def devices_of(self, user: str, sdk_app_id: int = SDK_APP_ID) -> list[str]:
        return sorted(self.registration(user, sdk_app_id).get("devices", {}).get("M", {}))

    def badge_of(self, user: str, sdk_app_id: int = SDK_APP_ID) -> int:
        return int(self.registration(user, sdk_app_id).get("badge", {}).get("N", "0"))

    # --- the queue and the handler -----------------------------------------------------------------------

    def enqueue(self, *jobs: dict[str, Any] | str) -> list[str]:
        """Put jobs on the push queue, as the IM backend does; their message ids."""
        ids = []
        for job in jobs:
            body = job if isinstance(job, str) else json.dumps(job, ensure_ascii=False)
            ids.append(self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=body)["MessageId"])
        return ids

    def receive(self, *, limit: int = 10, visibility: int = 0) -> list[dict[str, Any]]:
        """Up to ``limit`` visible messages of the push queue, as Lambda's poller receives them."""
        answer = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=limit,
            VisibilityTimeout=visibility,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return [dict(message) for message in answer.get("Messages", [])]

    def invoke(self, messages: Sequence[dict[str, Any]], *, remaining_ms: int = REMAINING_MS) -> Batch:
        """Invoke the handler with Lambda's SQS event for ``messages`` and apply its answer to the queue:
        the messages it did not report are deleted."""
        event = {
            "Records": [
                lambda_record(message, queue_arn=self.queue_arn, region=REGION) for message in messages
            ]
        }
        answer = self.app.lambda_handler(event, LambdaContext(remaining_ms=remaining_ms))
        batch = Batch(tuple(message["MessageId"] for message in messages), answer)
        for message in messages:
            if message["MessageId"] not in batch.failed:
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return batch

    def event_of(self, *bodies: str) -> dict[str, Any]:
        """An SQS batch event for ``bodies`` without the queue (as in events/dispatch-*.json)."""
        records = []
        for body in bodies:
            records.append(
                {
                    "messageId": str(uuid.uuid4()),
                    "receiptHandle": "AQEB" + uuid.uuid4().hex,
                    "body": body,
                    "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1790000000000"},
                    "messageAttributes": {},
                    "md5OfBody": "0" * 32,
                    "eventSource": "aws:sqs",
                    "eventSourceARN": self.queue_arn,
                    "awsRegion": REGION,
                }
            )
        return {"Records": records}

    def drain(self, *, max_batches: int = 10_000, remaining_ms: int = REMAINING_MS) -> list[Batch]:
        """Process the push queue until it is empty (chunks and retry tasks included), ten at a time."""
        batches: list[Batch] = []
        for _ in range(max_batches):
            messages = self.receive()
            if not messages:
                return batches
            batches.append(self.invoke(messages, remaining_ms=remaining_ms))
        raise AssertionError(f"the push queue was not empty after {max_batches} batches")

    def queued_bodies(self) -> list[dict[str, Any]]:
        """What is on the push queue now (left there, visible again at once)."""
        bodies: list[dict[str, Any]] = []
        while messages := self.receive(visibility=30):
            bodies.extend(json.loads(message["Body"]) for message in messages)
            for message in messages:
                self.sqs.change_message_visibility(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
            if len(messages) < 10:
                break
        return bodies

    def dead_letters(self) -> list[dict[str, Any]]:
        letters: list[dict[str, Any]] = []
        while True:
            answer = self.sqs.receive_message(
                QueueUrl=self.dead_letter_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
            )
            messages = answer.get("Messages", [])
            if not messages:
                return letters
            for message in messages:
                letters.append(
                    {
                        "body": message["Body"],
                        "attributes": {
                            name: value["StringValue"]
                            for name, value in message.get("MessageAttributes", {}).items()
                        },
                    }
                )
                self.sqs.delete_message(QueueUrl=self.dead_letter_url, ReceiptHandle=message["ReceiptHandle"])

    # --- what happened -------------------------------------------------------------------------------------

    def received(self, token: str | None = None) -> list[dict[str, Any]]:
        """What the sandbox accepted (to ``token``), in order."""
        return [
            notification.to_json() for notification in self.sandbox.state.notifications(device_token=token)
        ]

    def deliveries(self, sdk_app_id: int, user: str, **query: str) -> tuple[int, Any]:
        path = f"/v1/apps/{sdk_app_id}/users/{user}/deliveries"
        raw = self.deliveries_app.lambda_handler(
            http_event("GET", path, query=query or None, admin=True), LambdaContext()
        )
        return raw["statusCode"], response_json(raw)

    def message(self, sdk_app_id: int, msg_key: str) -> tuple[int, Any]:
        raw = self.deliveries_app.lambda_handler(
            http_event("GET", f"/v1/apps/{sdk_app_id}/messages/{msg_key}", admin=True), LambdaContext()
        )
        return raw["statusCode"], response_json(raw)


def close_dispatcher(app: ModuleType) -> None:
    """Close the cached dispatcher's APNs connections (on the warm loop) and forget it."""
    if app.dispatcher.cache_info().currsize:
        run_in_warm_loop(app.dispatcher().apns.close())
    app.dispatcher.cache_clear()


def fresh_modules() -> Iterator[tuple[ModuleType, ModuleType]]:
    dispatch = importlib.import_module("functions.dispatch.app")
    deliveries = importlib.import_module("functions.deliveries.app")
    close_dispatcher(dispatch)
    deliveries.reports.cache_clear()
    certificates = importlib.import_module("functions.certificates.app")
    certificates.certificates.cache_clear()
    yield dispatch, deliveries
    close_dispatcher(dispatch)
    deliveries.reports.cache_clear()
    certificates.certificates.cache_clear()
