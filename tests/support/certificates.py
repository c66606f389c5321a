"""Helpers for the certificate tests: Apple-like credentials, calls of the certificate function, snapshots of
what is stored, and faults injected at the AWS boundary.

Faults are injected with botocore's own event hooks on the real boto3 clients talking to moto: the code under
test makes its real calls, and the chosen one fails the way AWS would make it fail.
"""

from __future__ import annotations

import atexit
import base64
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

from local.apple_pki import ApplePki, IssuedCertificate, PushCertificateKind, new_p8_key
from tests.support.events import LambdaContext, http_event, multipart_body, response_json

SDK_APP_ID = 1400000001
OTHER_SDK_APP_ID = 1400000002
BUNDLE_ID = "com.example.chat"
PASSWORD = "Correct-Horse-7!"
KEY_ID = "ABC123DEFG"
TEAM_ID = "DEF123GHIJ"


@cache
def pki() -> ApplePki:
    return ApplePki()


@cache
def test_ca_file() -> Path:
    """The tests' CA as a PEM file, for the test-only trust setting (removed when the process exits)."""
    directory = Path(tempfile.mkdtemp(prefix="offline-push-test-ca-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    return pki().write_ca(directory / "ca.pem")


def push_certificate(
    kind: PushCertificateKind = PushCertificateKind.DEVELOPMENT, bundle_id: str = BUNDLE_ID
) -> IssuedCertificate:
    """One certificate per (kind, bundle id) for the whole session: the same one however it is asked for."""
    return _push_certificate(kind, bundle_id)


@cache
def _push_certificate(kind: PushCertificateKind, bundle_id: str) -> IssuedCertificate:
    return pki().issue_push_certificate(bundle_id, kind)


@cache
def p8_key() -> bytes:
    return new_p8_key()


def b64(content: bytes) -> str:
    return base64.b64encode(content).decode()


def p12_upload(
    kind: PushCertificateKind = PushCertificateKind.DEVELOPMENT,
    *,
    environment: str = "development",
    name: str = "Chat dev",
    bundle_id: str = BUNDLE_ID,
    password: str = PASSWORD,
) -> dict[str, str]:
    """JSON body of a p12 upload."""
    return {
        "type": "p12",
        "name": name,
        "environment": environment,
        "password": password,
        "file": b64(push_certificate(kind, bundle_id).p12(password)),
    }


def p8_upload(
    *, environment: str = "production", name: str = "Chat token key", bundle_id: str = BUNDLE_ID
) -> dict[str, str]:
    return {
        "type": "p8",
        "name": name,
        "environment": environment,
        "keyId": KEY_ID,
        "teamId": TEAM_ID,
        "bundleId": bundle_id,
        "file": b64(p8_key()),
    }


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    headers: dict[str, str]
    raw: dict[str, Any]


class CertificateApi:
    """Calls the certificate function's handler with API Gateway HTTP API events, as an admin by default."""

    def __init__(self, handler: Callable[[dict[str, Any], Any], dict[str, Any]]) -> None:
        self.handler = handler

    def call(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        body: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        admin: bool = True,
    ) -> Answer:
        event = http_event(method, path, json_body=json_body, body=body, headers=headers, admin=admin)
        raw = self.handler(event, LambdaContext())
        return Answer(raw["statusCode"], response_json(raw), dict(raw.get("headers") or {}), raw)

    def create(self, upload: dict[str, str], sdk_app_id: int | str = SDK_APP_ID) -> Answer:
        return self.call("POST", f"/v1/apps/{sdk_app_id}/certificates", json_body=upload)

    def create_multipart(
        self, fields: dict[str, str], file: bytes | None, sdk_app_id: int | str = SDK_APP_ID
    ) -> Answer:
        files = {"file": ("push.p12", file)} if file is not None else {}
        body, content_type = multipart_body(fields, files)
        return self.call(
            "POST", f"/v1/apps/{sdk_app_id}/certificates", body=body, headers={"content-type": content_type}
        )

    def list(self, sdk_app_id: int | str = SDK_APP_ID) -> Answer:
        return self.call("GET", f"/v1/apps/{sdk_app_id}/certificates")

    def get(self, business_id: int | str, sdk_app_id: int | str = SDK_APP_ID) -> Answer:
        return self.call("GET", f"/v1/apps/{sdk_app_id}/certificates/{business_id}")

    def rotate(
        self, business_id: int | str, upload: dict[str, str], sdk_app_id: int | str = SDK_APP_ID
    ) -> Answer:
        return self.call("PUT", f"/v1/apps/{sdk_app_id}/certificates/{business_id}", json_body=upload)

    def delete(self, business_id: int | str, sdk_app_id: int | str = SDK_APP_ID) -> Answer:
        return self.call("DELETE", f"/v1/apps/{sdk_app_id}/certificates/{business_id}")


@dataclass(frozen=True)
class StoredState:
    """Everything the certificate component can write: objects (with their ETags) and table items."""

    objects: dict[str, str]
    items: list[dict[str, Any]]


def stored_state(bucket: str, table: str, *, s3: Any = None, dynamodb: Any = None) -> StoredState:
    s3 = s3 or boto3.client("s3")
    dynamodb = dynamodb or boto3.client("dynamodb")
    objects = {entry["Key"]: entry["ETag"] for entry in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}
    items = dynamodb.scan(TableName=table, ConsistentRead=True)["Items"]
    return StoredState(
        objects, sorted(items, key=lambda item: (item["sdkAppId"]["S"], item["businessId"]["N"]))
    )


@contextmanager
def failing(
    client: Any, operation: str, *, times: int = 1, code: str = "InternalError"
) -> Iterator[list[int]]:
    """Make the next ``times`` calls of ``operation`` on ``client`` fail as AWS would (a ClientError).

    Yields a one-element list counting the calls that were failed.
    """
    failed = [0]
    event = f"before-call.{client.meta.service_model.service_id.hyphenize()}.{operation}"

    def fail(**_: Any) -> None:
        if failed[0] < times:
            failed[0] += 1
            raise ClientError({"Error": {"Code": code, "Message": "injected fault"}}, operation)

    client.meta.events.register(event, fail, unique_id=f"fault-{operation}")
    try:
        yield failed
    finally:
        client.meta.events.unregister(event, unique_id=f"fault-{operation}")


@contextmanager
def counting_calls(*clients: Any) -> Iterator[list[str]]:
    """Record the operation name of every call the clients make."""
    calls: list[str] = []

    def record(model: Any, **_: Any) -> None:
        calls.append(model.name)

    for client in clients:
        client.meta.events.register("before-call", record, unique_id="count-calls")
    try:
        yield calls
    finally:
        for client in clients:
            client.meta.events.unregister("before-call", unique_id="count-calls")


@contextmanager
def one_request_at_a_time(*clients: Any) -> Iterator[None]:
    """Serve each AWS request atomically, as DynamoDB does, while threads still interleave between requests.

    moto's in-process backend checks a condition and applies a write in separate Python steps without a
    lock; real DynamoDB evaluates a conditional write or a transaction atomically. This restores that
    guarantee so that a concurrency test exercises our allocation, not moto's thread safety.
    """
    lock = threading.RLock()

    def acquire(**_: Any) -> None:
        lock.acquire()

    def release(**_: Any) -> None:
        lock.release()

    for client in clients:
        client.meta.events.register("before-call", acquire, unique_id="serialize-acquire")
        client.meta.events.register("after-call", release, unique_id="serialize-release")
        client.meta.events.register("after-call-error", release, unique_id="serialize-release-error")
    try:
        yield
    finally:
        for client in clients:
            client.meta.events.unregister("before-call", unique_id="serialize-acquire")
            client.meta.events.unregister("after-call", unique_id="serialize-release")
            client.meta.events.unregister("after-call-error", unique_id="serialize-release-error")
