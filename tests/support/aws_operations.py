"""Every AWS operation each function performs in the tests, recorded through botocore's event hooks.

A pytest plugin (loaded by tests/conftest.py). Every botocore client made in the test process gets a
``provide-client-params`` hook, which records the operation with the parameters that name its resource (never
a payload: no item, secret value, plaintext or message body is kept). An operation belongs to the function
whose handler (``functions/<folder>/...``) is on the calling thread's stack; calls from a worker thread
(``asyncio.to_thread``) belong to the function that started it. Calls of the tests themselves (setup, checks)
and of moto belong to no function and are not recorded.

The e2e tests run `make run` in its own process: started through :mod:`tests.support.recorded_run`, it records
the same way and appends each new operation to the file named by ``OFFLINE_PUSH_AWS_OPERATIONS_LOG`` (set by
this plugin for the session), which :func:`recorded_operations` reads back.

:func:`iam_requests` turns a recorded operation into the IAM requests AWS authorizes for it, the implied ones
included: S3 with SSE-KMS asks KMS on the caller's behalf (``kms:ViaService`` = S3), Secrets Manager with a
customer-managed key too, and a function with an SQS event source needs the poller's permissions.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import os
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import botocore.session
import pytest

from local.provision import ACCOUNT_ID
from local.template import TEMPLATE_PATH, load_template
from tests.support.iam_policy import Request

ROOT = TEMPLATE_PATH.parent
REGION = "us-east-1"
_FUNCTIONS_DIR = str(ROOT / "functions") + os.sep
_ORIGIN: contextvars.ContextVar[str | None] = contextvars.ContextVar("aws_operations_origin", default=None)


@dataclass(frozen=True)
class Operation:
    function: str  # logical id
    service: str  # botocore's service name: dynamodb, s3, kms, secretsmanager, sqs...
    name: str  # the API operation: GetItem, PutObject...
    facts: tuple[tuple[str, str], ...]  # the parameters naming its resource

    def fact(self, name: str) -> str | None:
        return next((value for key, value in self.facts if key == name), None)

    def facts_named(self, name: str) -> list[str]:
        return [value for key, value in self.facts if key == name]


RECORDED: set[Operation] = set()
_lock = threading.Lock()
OPERATIONS_LOG_VARIABLE = "OFFLINE_PUSH_AWS_OPERATIONS_LOG"
_log_path: str | None = None  # set in a recorded process other than pytest's: where its operations go


# --- recording --------------------------------------------------------------------------------------------


@cache
def _function_by_folder() -> dict[str, str]:
    folders = {}
    for logical_id, body in load_template()["Resources"].items():
        if body.get("Type") == "AWS::Serverless::Function":
            folders[str(body["Properties"]["CodeUri"]).rstrip("/").rsplit("/", 1)[-1]] = logical_id
    return folders


def _function_on_stack() -> str | None:
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename.startswith(_FUNCTIONS_DIR):
            folder = filename[len(_FUNCTIONS_DIR) :].split(os.sep, 1)[0]
            return _function_by_folder().get(folder)
        frame = frame.f_back  # type: ignore[assignment]
    return None


def _facts(service: str, params: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    facts: list[tuple[str, str]] = []
    for name in ("TableName", "IndexName", "Bucket", "ServerSideEncryption", "SSEKMSKeyId", "KeyId"):
        if isinstance(params.get(name), str):
            facts.append((name, params[name]))
    if service == "s3" and isinstance(params.get("Key"), str):
        facts.append(("Key", params["Key"]))
    for name in ("SecretId", "Name", "KmsKeyId", "QueueUrl"):
        if isinstance(params.get(name), str):
            facts.append((name, params[name]))
    facts.extend(("RequestItems", table) for table in sorted(params.get("RequestItems") or {}))
    for item in params.get("TransactItems") or []:
        for kind, detail in item.items():
            facts.append(("TransactItem", f"{kind}:{detail.get('TableName', '')}"))
    for key, value in sorted((params.get("EncryptionContext") or {}).items()):
        facts.append((f"EncryptionContext:{key}", str(value)))
    return tuple(facts)


def _record(params: Mapping[str, Any], model: Any, **_: Any) -> None:
    function = _function_on_stack() or _ORIGIN.get()
    if function is None:
        return
    service = str(model.service_model.service_name)
    operation = Operation(function, service, str(model.name), _facts(service, params))
    with _lock:
        if operation in RECORDED:
            return
        RECORDED.add(operation)
        if _log_path is not None:
            with open(_log_path, "a", encoding="utf-8") as log:
                log.write(
                    json.dumps([operation.function, operation.service, operation.name, operation.facts])
                    + "\n"
                )


_original_create_client = botocore.session.Session.create_client
_original_to_thread = asyncio.to_thread


def _create_client(self: botocore.session.Session, *args: Any, **kwargs: Any) -> Any:
    client = _original_create_client(self, *args, **kwargs)
    client.meta.events.register("provide-client-params", _record)
    return client


async def _to_thread(func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    # asyncio.to_thread runs func in a copy of this context: name the function whose handler started it.
    token = _ORIGIN.set(_function_on_stack() or _ORIGIN.get())
    try:
        return await _original_to_thread(func, *args, **kwargs)
    finally:
        _ORIGIN.reset(token)


def install(log_path: str | None = None) -> None:
    """Record from now on, in this process; with ``log_path``, also append each new operation there."""
    global _log_path  # noqa: PLW0603 - one recorder per process
    _log_path = log_path
    botocore.session.Session.create_client = _create_client  # type: ignore[method-assign]
    asyncio.to_thread = _to_thread


def recorded_operations() -> set[Operation]:
    """What this process recorded, and what the processes it started through recorded_run logged."""
    operations = set(RECORDED)
    log = os.environ.get(OPERATIONS_LOG_VARIABLE)
    if log and os.path.exists(log):
        with open(log, encoding="utf-8") as lines:
            for line in lines:
                function, service, name, facts = json.loads(line)
                operations.add(Operation(function, service, name, tuple(tuple(fact) for fact in facts)))
    return operations


def pytest_configure(config: pytest.Config) -> None:
    if OPERATIONS_LOG_VARIABLE not in os.environ:
        folder = tempfile.mkdtemp(prefix="offline-push-operations-")
        os.environ[OPERATIONS_LOG_VARIABLE] = os.path.join(folder, "operations.jsonl")
    install(log_path=os.environ[OPERATIONS_LOG_VARIABLE])
    config.addinivalue_line(
        "markers", "after_every_other_test: runs once every other test of the session has run"
    )


def pytest_unconfigure(config: pytest.Config) -> None:
    botocore.session.Session.create_client = _original_create_client  # type: ignore[method-assign]
    asyncio.to_thread = _original_to_thread


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked ``after_every_other_test`` (the privilege test) go last, in their order."""
    last = [item for item in items if item.get_closest_marker("after_every_other_test")]
    items[:] = [item for item in items if not item.get_closest_marker("after_every_other_test")] + last


# --- operations as IAM requests ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StackNames:
    """How the tests name the stack's resources (local.provision), as ARNs, by logical id."""

    stack_name: str = "offline-push"
    region: str = REGION
    account: str = ACCOUNT_ID

    def table_arn(self, table: str) -> str:
        return f"arn:aws:dynamodb:{self.region}:{self.account}:table/{table}"

    def queue_arn(self, queue_url: str) -> str:
        return f"arn:aws:sqs:{self.region}:{self.account}:{queue_url.rstrip('/').rsplit('/', 1)[-1]}"

    def key_arn(self, logical_id: str) -> str:
        return f"arn:aws:kms:{self.region}:{self.account}:key/{logical_id}"

    def secret_arn(self, secret: str) -> str:
        if secret.startswith("arn:"):
            return secret
        return f"arn:aws:secretsmanager:{self.region}:{self.account}:secret:{secret}-AbCdEf"


def _single_key(template: Mapping[str, Any]) -> str:
    keys = [name for name, body in template["Resources"].items() if body["Type"] == "AWS::KMS::Key"]
    if len(keys) != 1:
        raise AssertionError(f"the privilege test maps every key id to the template's one key: {keys}")
    return str(keys[0])


def iam_requests(operation: Operation, template: Mapping[str, Any], names: StackNames) -> Iterator[Request]:
    """The IAM requests AWS authorizes for one operation (the implied KMS ones included)."""
    service, name = operation.service, operation.name
    key = names.key_arn(_single_key(template))
    if service == "dynamodb":
        yield from _dynamodb_requests(operation, names)
    elif service == "s3":
        bucket, object_key = operation.fact("Bucket") or "", operation.fact("Key")
        resource = f"arn:aws:s3:::{bucket}" + (f"/{object_key}" if object_key is not None else "")
        action = {"HeadObject": "GetObject", "ListObjectsV2": "ListBucket"}.get(name, name)
        s3_context = [("aws:SecureTransport", "true")]
        if operation.fact("ServerSideEncryption") is not None:
            s3_context.append(
                ("s3:x-amz-server-side-encryption", operation.fact("ServerSideEncryption") or "")
            )
        yield Request(f"s3:{action}", resource, tuple(s3_context))
        via_s3 = (("kms:ViaService", f"s3.{names.region}.amazonaws.com"),)
        if name == "PutObject" and operation.fact("ServerSideEncryption") in (None, "aws:kms"):
            yield Request("kms:GenerateDataKey", key, via_s3)  # the bucket's default key, or the one named
        elif name == "GetObject":
            yield Request("kms:Decrypt", key, via_s3)
    elif service == "kms":
        context = tuple(
            (f"kms:{fact}", value) for fact, value in operation.facts if fact.startswith("EncryptionContext:")
        )
        yield Request(f"kms:{name}", key, context)
    elif service == "secretsmanager":
        secret = operation.fact("SecretId") or operation.fact("Name") or ""
        yield Request(f"secretsmanager:{name}", names.secret_arn(secret))
        via = (("kms:ViaService", f"secretsmanager.{names.region}.amazonaws.com"),)
        if name in ("CreateSecret", "PutSecretValue", "UpdateSecret"):
            yield Request("kms:GenerateDataKey", key, via)
        elif name == "GetSecretValue":
            yield Request("kms:Decrypt", key, via)
    elif service == "sqs":
        action = {"SendMessageBatch": "SendMessage", "DeleteMessageBatch": "DeleteMessage"}.get(name, name)
        yield Request(f"sqs:{action}", names.queue_arn(operation.fact("QueueUrl") or ""))
    else:
        yield Request(f"{service}:{name}", "*")


def _dynamodb_requests(operation: Operation, names: StackNames) -> Iterator[Request]:
    name = operation.name
    table = operation.fact("TableName")
    if table is not None:
        index = operation.fact("IndexName")
        yield Request(
            f"dynamodb:{name}", names.table_arn(table) + (f"/index/{index}" if index is not None else "")
        )
    for batched in operation.facts_named("RequestItems"):
        yield Request(f"dynamodb:{name}", names.table_arn(batched))
    transact = {
        "Put": "PutItem",
        "Update": "UpdateItem",
        "Delete": "DeleteItem",
        "ConditionCheck": "ConditionCheckItem",
        "Get": "GetItem",
    }
    for item in operation.facts_named("TransactItem"):
        kind, _, item_table = item.partition(":")
        yield Request(f"dynamodb:{transact[kind]}", names.table_arn(item_table))


def runtime_requests(template: Mapping[str, Any], function: str, names: StackNames) -> list[Request]:
    """What Lambda does with the function's role: writing its logs (to the log group of the function's name,
    which CloudFormation generates, so any), and polling each of its SQS event sources."""
    logs = f"arn:aws:logs:{names.region}:{names.account}"
    log_group = f"{logs}:log-group:/aws/lambda/{names.stack_name}-{function}"
    requests = [
        Request("logs:CreateLogStream", f"{log_group}-GeneratedSuffix:*"),
        Request("logs:PutLogEvents", f"{log_group}-GeneratedSuffix:log-stream:*"),
    ]
    events = template["Resources"][function]["Properties"].get("Events") or {}
    for event in events.values():
        if event.get("Type") != "SQS":
            continue
        queue = event["Properties"]["Queue"]["Fn::GetAtt"][0]
        arn = f"arn:aws:sqs:{names.region}:{names.account}:{names.stack_name}-{queue}"
        for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"):
            requests.append(Request(action, arn))
    return requests
