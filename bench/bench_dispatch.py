"""Dispatch end to end: notifications per second, memory, AWS requests and request units per 1,000 receivers,
a Lambda-duration estimate, and the AWS cost per million delivered pushes, per configuration.

    python -m bench.bench_dispatch [--receivers 10000] [--one-to-one 1000] [--quick]

Everything runs as in production except AWS and Apple: moto's server (its own process, so its CPU is not
ours) with template.yaml's resources, and the APNs sandbox (its own process, TLS, client certificate). The
dispatch function's handler takes Lambda's SQS batch events read from the push queue, the job's chunk tasks
and retry tasks included, exactly as the event source would give them.

Requests are counted with botocore event hooks on every client the function creates; DynamoDB request
units are computed from what each request writes or reads (DynamoDB bills per item, by size, not per
request: 1 WRU per 1 KB written, per index too; 0.5 RRU per 4 KB read eventually consistent, 1 RRU
strongly), SQS requests per 64 KB of payload as SQS bills them.

Configurations (one design: claims per unit of work, nothing written per delivered notification):

- ``group, badge counted``: a group job of ``--receivers`` receivers, one device each, the message counted
  toward each receiver's badge (the counter is written per receiver);
- ``group, no counter``: the job gives the badges (``Badges``) or leaves them alone (``BadgeMode: 1``);
- ``group, no counter, 1% refused``: the same with APNs refusing 1% of the notifications for good
  (400 BadExpirationDate): what each failure's record costs (batch writes, 25 per request);
- ``1:1, batches of 10``: ``--one-to-one`` one-to-one jobs in SQS batches of ten (one run per batch), badge
  counted, then with no counter.

The APNs client alone is measured in the same run, against the same sandbox (``bench.bench_apns``'s client,
500 in flight, ``--receivers`` notifications, median of 3, before and after the configurations), and each
configuration's notifications per CPU-second is given as a share of the client's: the targets are ratios.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import importlib
import json
import math
import os
import platform
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from bench.bench_apns import Setup as ApnsBenchSetup
from bench.bench_apns import measure, run_ours
from local.apns_sandbox import SandboxProcess, start_sandbox_process
from local.apple_pki import PushCertificateKind
from local.provision import provision
from local.sqs_poller import lambda_record
from offline_push.apns import run_in_warm_loop
from offline_push.apple_ca import TEST_CA_ENVIRONMENT_VARIABLE
from offline_push.dal.registration_store import device_to_attribute, user_key
from offline_push.models.credential import ApnsEnvironment, CertificateCredential
from offline_push.models.registration import DeviceRegistration, from_epoch_millis
from tests.support.events import LambdaContext, http_event, response_json

REGION = "us-east-1"
SDK_APP_ID = 1400000001
TOPIC = "com.example.chat"
PASSWORD = "Bench-Password-1"  # noqa: S105 - a throwaway certificate of the benchmark's own CA
MEMORY_MB = 1769  # template.yaml's DispatchFunction MemorySize: one full vCPU
VCPU_AT_MEMORY = min(1.0, MEMORY_MB / 1769)  # Lambda gives one vCPU at 1,769 MB, proportionally below

# AWS prices (us-east-1, on-demand, 2025): DynamoDB $0.625 per million write request units and $0.125 per
# million read request units; SQS $0.40 per million requests (64 KB each); Lambda $0.20 per million
# invocations and $0.0000166667 per GB-second (x86); KMS $0.03 per 10,000 requests.
PRICE_WRU = 0.625 / 1e6
PRICE_RRU = 0.125 / 1e6
PRICE_SQS = 0.40 / 1e6
PRICE_INVOCATION = 0.20 / 1e6
PRICE_GB_SECOND = 0.0000166667

# Latencies assumed for the estimate of a Lambda invocation's duration (same region).
DYNAMODB_MS = 6.0
SQS_MS = 15.0
APNS_RTT_MS = 60.0
WRITE_CONCURRENCY = 32


# --- moto's server as a process ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def moto_server() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = _free_port()
    process = subprocess.Popen(  # noqa: S603 - moto's own server module, fixed arguments
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()  # noqa: S310 - local
                break
            except OSError:
                time.sleep(0.05)
        yield url, process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:  # a loaded machine: it must not outlive the benchmark
            process.kill()
            process.wait()


def process_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- counting AWS requests --------------------------------------------------------------------------------


def item_size(item: Mapping[str, Any]) -> int:
    """DynamoDB's size of an item (attribute names + values), for request units."""

    def value_size(value: Mapping[str, Any]) -> int:  # noqa: PLR0911 - one line per DynamoDB type
        kind, content = next(iter(value.items()))
        if kind == "S":
            return len(str(content).encode())
        if kind == "N":
            return (len(str(content).lstrip("-").replace(".", "")) + 1) // 2 + 1
        if kind == "B":
            return len(content)
        if kind in ("BOOL", "NULL"):
            return 1
        if kind == "M":
            return 3 + sum(len(name.encode()) + value_size(inner) + 1 for name, inner in content.items())
        if kind == "L":
            return 3 + sum(value_size(inner) + 1 for inner in content)
        return sum(len(str(member)) for member in content)

    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


@dataclass
class Usage:
    """AWS requests and request units of the dispatch function during one configuration."""

    requests: Counter[str] = field(default_factory=Counter)  # "dynamodb.PutItem" -> count
    wru: float = 0.0
    rru: float = 0.0
    sqs_billed: int = 0
    max_item_bytes: int = 0
    hook_cpu: float = 0.0  # the counting's own CPU, taken out of the function's

    def before_call(
        self, event_name: str, params: Mapping[str, Any], context: dict[str, Any], **rest: Any
    ) -> None:
        self._timed(self._before_call, event_name, params, context)

    def after_call(
        self, event_name: str, parsed: Mapping[str, Any], context: dict[str, Any], **rest: Any
    ) -> None:
        self._timed(self._after_call, event_name, parsed, context)

    def _timed(self, hook: Callable[..., None], *arguments: Any) -> None:
        started = time.process_time()
        hook(*arguments)
        self.hook_cpu += time.process_time() - started

    def _before_call(self, event_name: str, params: Mapping[str, Any], context: dict[str, Any]) -> None:
        _, service, operation = event_name.split(".", 2)
        self.requests[f"{service}.{operation}"] += 1
        context["bench-params"] = params
        if service == "dynamodb":
            self._dynamodb_writes(operation, params)
        elif service == "sqs":
            payload = sum(len(entry["MessageBody"]) for entry in params.get("Entries", [])) or len(
                params.get("MessageBody", "")
            )
            self.sqs_billed += max(1, math.ceil(payload / 65_536))

    def _after_call(self, event_name: str, parsed: Mapping[str, Any], context: dict[str, Any]) -> None:
        _, service, operation = event_name.split(".", 2)
        params = context.get("bench-params", {})
        if service != "dynamodb":
            return
        if operation == "BatchGetItem":
            for name, request in params["RequestItems"].items():
                unit = 1.0 if request.get("ConsistentRead") else 0.5
                for item in parsed.get("Responses", {}).get(name, []):
                    self.rru += unit * math.ceil(max(item_size(item), 1) / 4096)
        elif operation == "GetItem":
            self.rru += 1.0 if params.get("ConsistentRead") else 0.5

    def _dynamodb_writes(self, operation: str, params: Mapping[str, Any]) -> None:
        table = str(params.get("TableName", ""))
        if operation == "PutItem":
            self._write(table, params["Item"])
        elif operation == "BatchWriteItem":
            for name, requests in params["RequestItems"].items():
                for request in requests:
                    self._write(name, request["PutRequest"]["Item"])
        elif operation in ("UpdateItem", "DeleteItem"):
            self.wru += 1  # every item updated here is under 1 KB (see max_item_bytes)
            names = params.get("ExpressionAttributeNames", {})
            if "Deliveries" in table and "#at" in names:
                self.wru += 1  # the ByUser index entry is written too

    def _write(self, table: str, item: Mapping[str, Any]) -> None:
        size = item_size(item)
        self.max_item_bytes = max(self.max_item_bytes, size)
        units = math.ceil(size / 1024)
        self.wru += units
        if "Deliveries" in table and "at" in item and "user" in item:
            self.wru += units


@contextlib.contextmanager
def counting(usage: Usage) -> Iterator[None]:
    """Count every call of the clients created meanwhile (the function creates its clients on first use)."""
    session = boto3.DEFAULT_SESSION._session  # type: ignore[union-attr]
    # botocore's stubs type handlers as **kwargs-only callables; these take the keywords botocore passes.
    session.register("before-parameter-build", usage.before_call, unique_id="bench-usage-before")  # type: ignore[arg-type]
    session.register("after-call", usage.after_call, unique_id="bench-usage-after")  # type: ignore[arg-type]
    try:
        yield
    finally:
        session.unregister("before-parameter-build", unique_id="bench-usage-before")
        session.unregister("after-call", unique_id="bench-usage-after")


# --- the stack --------------------------------------------------------------------------------------------


@dataclass
class Stack:
    sandbox: SandboxProcess
    moto_pid: int
    queue_url: str
    queue_arn: str
    registrations_table: str
    dispatch: Any  # the function's module
    sqs: Any
    client_setup: Any  # bench.bench_apns.Setup: the APNs client alone, on the same sandbox


def setup(moto_url: str, sandbox: SandboxProcess, receivers: int, *, with_badges: bool = True) -> Stack:
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": moto_url,
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": REGION,
            "POWERTOOLS_SERVICE_NAME": "offline-push",
            "POWERTOOLS_METRICS_NAMESPACE": "OfflinePushBench",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "APNS_PRODUCTION_URL": sandbox.production_url,
            "APNS_SANDBOX_URL": sandbox.development_url,
            "APNS_EXTRA_CA_BUNDLE": str(sandbox.ca_path),
            # The bench's certificate is issued by the sandbox's CA, trusted through the test-only setting.
            TEST_CA_ENVIRONMENT_VARIABLE: str(sandbox.ca_path),
            "DISPATCH_RETRY_BASE_SECONDS": "0",
        }
    )
    boto3.setup_default_session(region_name=REGION)
    provisioned = provision(boto3.DEFAULT_SESSION, endpoint_url=moto_url)
    os.environ.update(provisioned.environment)
    # The certificate, through the certificate function, as an operator uploads it.
    issued = sandbox.pki().issue_push_certificate(TOPIC, PushCertificateKind.DEVELOPMENT)
    upload = {
        "type": "p12",
        "name": "Bench",
        "environment": "development",
        "password": PASSWORD,
        "file": base64.b64encode(issued.p12(PASSWORD)).decode(),
    }
    certificates = importlib.import_module("functions.certificates.app")
    answer = certificates.lambda_handler(
        http_event("POST", f"/v1/apps/{SDK_APP_ID}/certificates", json_body=upload, admin=True),
        LambdaContext(),
    )
    assert answer["statusCode"] == 201, response_json(answer)
    tokens = register(
        provisioned.environment["REGISTRATIONS_TABLE"], sandbox, [f"member-{i:05d}" for i in range(receivers)]
    )
    credential = CertificateCredential(
        TOPIC, ApnsEnvironment.DEVELOPMENT, issued.certificate, issued.private_key, "bench"
    )
    return Stack(
        sandbox=sandbox,
        moto_pid=0,
        queue_url=provisioned.refs["PushQueue"],
        queue_arn=provisioned.attributes[("PushQueue", "Arn")],
        registrations_table=provisioned.environment["REGISTRATIONS_TABLE"],
        dispatch=importlib.import_module("functions.dispatch.app"),
        sqs=boto3.client("sqs"),
        client_setup=ApnsBenchSetup(sandbox, credential, Path(os.devnull), tokens),
    )


def register(table: str, sandbox: SandboxProcess, users: list[str]) -> list[str]:
    dynamodb = boto3.client("dynamodb")
    tokens = {user: os.urandom(32).hex() for user in users}
    requests: list[Any] = []
    for user, token in tokens.items():
        device = DeviceRegistration(
            token=token,
            business_id=1,
            environment=ApnsEnvironment.DEVELOPMENT,
            registered_at=from_epoch_millis(1_790_000_000_000),
        )
        requests.append(
            {
                "PutRequest": {
                    "Item": {
                        **user_key(SDK_APP_ID, user),
                        "devices": {"M": {token: device_to_attribute(device)}},
                        "badge": {"N": "0"},
                        "version": {"N": "1"},
                    }
                }
            }
        )
    for start in range(0, len(requests), 25):
        dynamodb.batch_write_item(RequestItems={table: requests[start : start + 25]})
    devices = [{"token": token, "topic": TOPIC, "environment": "development"} for token in tokens.values()]
    for start in range(0, len(devices), 2000):
        sandbox.control.register_devices(devices[start : start + 2000])
    return list(tokens.values())


# --- one configuration ------------------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    receivers: int
    delivered: int
    duplicates: int
    wall: float
    cpu: float
    moto_cpu: float
    invocations: int
    usage: Usage
    peak_rss_mb: float

    def per_1000(self, value: float) -> float:
        return value * 1000 / self.receivers

    @property
    def rate(self) -> float:
        return self.delivered / self.wall

    def dynamodb_requests(self) -> int:
        return sum(n for name, n in self.usage.requests.items() if name.startswith("dynamodb."))

    def sqs_requests(self) -> int:
        return sum(n for name, n in self.usage.requests.items() if name.startswith("sqs."))

    def lambda_ms_per_1000(self) -> float:
        """CPU time scaled to the function's vCPU share, plus the waits CPU does not cover."""
        requests = self.usage.requests
        batch_reads = requests["dynamodb.BatchGetItem"] + requests["dynamodb.GetItem"]
        writes = sum(
            requests[f"dynamodb.{op}"] for op in ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem")
        )
        waits_ms = (
            batch_reads * DYNAMODB_MS
            + math.ceil(writes / WRITE_CONCURRENCY) * DYNAMODB_MS
            + self.sqs_requests() * SQS_MS
            + math.ceil(self.delivered / 500) * APNS_RTT_MS
        )
        return self.per_1000(self.cpu * 1000 / VCPU_AT_MEMORY + waits_ms)

    def cost_per_million(self) -> dict[str, float]:
        million = 1e6 / self.delivered
        gb_seconds = self.lambda_ms_per_1000() / 1000 * (self.receivers / 1000) * MEMORY_MB / 1024
        invocations = self.invocations
        return {
            "dynamodb writes": self.usage.wru * PRICE_WRU * million,
            "dynamodb reads": self.usage.rru * PRICE_RRU * million,
            "sqs": (self.usage.sqs_billed + 2 * invocations)
            * PRICE_SQS
            * million,  # + the poller's receive/delete
            "lambda": (invocations * PRICE_INVOCATION + gb_seconds * PRICE_GB_SECOND) * million,
        }


def drain(stack: Stack, usage: Usage) -> tuple[int, float]:
    """Process the push queue as the event source does (batches of ten); the number of invocations and the
    CPU seconds spent in the handler (the poller's receive and delete are Lambda's, not the function's)."""
    invocations = 0
    handler_cpu = 0.0
    while True:
        answer = stack.sqs.receive_message(
            QueueUrl=stack.queue_url,
            MaxNumberOfMessages=10,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = answer.get("Messages", [])
        if not messages:
            return invocations, handler_cpu
        event = {"Records": [lambda_record(m, queue_arn=stack.queue_arn, region=REGION) for m in messages]}
        context = LambdaContext(remaining_ms=60_000, memory_limit_in_mb=MEMORY_MB)
        started, counting_cpu = time.process_time(), usage.hook_cpu
        stack.dispatch.lambda_handler(event, context)
        handler_cpu += time.process_time() - started - (usage.hook_cpu - counting_cpu)
        invocations += 1
        stack.sqs.delete_message_batch(
            QueueUrl=stack.queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
        )


def run(
    stack: Stack,
    name: str,
    jobs: list[dict[str, Any]],
    receivers: int,
    *,
    faults: list[dict[str, Any]] | None = None,
) -> Result:
    if stack.dispatch.dispatcher.cache_info().currsize:
        run_in_warm_loop(stack.dispatch.dispatcher().apns.close())
    stack.dispatch.dispatcher.cache_clear()
    stack.sandbox.control.clear_notifications()
    stack.sandbox.control.clear_faults()
    if faults:
        stack.sandbox.control.add_faults(faults)
    for start in range(0, len(jobs), 10):
        stack.sqs.send_message_batch(
            QueueUrl=stack.queue_url,
            Entries=[
                {"Id": str(i), "MessageBody": json.dumps(job)}
                for i, job in enumerate(jobs[start : start + 10])
            ],
        )
    usage = Usage()
    moto_before = process_cpu(stack.moto_pid)
    with counting(usage):
        # A warm container: the first invocation's cold start (credential load, TLS) is part of the run.
        wall = time.perf_counter()
        invocations, cpu = drain(stack, usage)
        wall = time.perf_counter() - wall
    moto_cpu = process_cpu(stack.moto_pid) - moto_before
    stats = stack.sandbox.control.stats()
    for skip in ("sqs.ReceiveMessage", "sqs.DeleteMessageBatch"):  # the poller's, not the function's
        usage.requests.pop(skip, None)
    return Result(
        name=name,
        receivers=receivers,
        delivered=int(stats["distinct"]),
        duplicates=len(stats["duplicates"]),
        wall=wall,
        cpu=cpu,
        moto_cpu=moto_cpu,
        invocations=invocations,
        usage=usage,
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    )


def group_job(users: list[str], msg_key: str, *, counted: bool = True) -> dict[str, Any]:
    job: dict[str, Any] = {
        "SdkAppId": SDK_APP_ID,
        "MsgKey": msg_key,
        "From_Account": "denny",
        "SenderNickname": "Denny",
        "To_Account": users,
        "GroupId": "@TGS#2J4SZEAEL",
        "GroupName": "Family",
        "SenderNameCard": "Dad",
        "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "dinner at 7"}}],
    }
    if not counted:
        job["OfflinePushInfo"] = {"ApnsInfo": {"BadgeMode": 1}}
    return job


def one_to_one(user: str, msg_key: str) -> dict[str, Any]:
    job = group_job([user], msg_key)
    for name in ("GroupId", "GroupName", "SenderNameCard"):
        job.pop(name)
    return job


def cpu_per_call(count: int = 200) -> float:
    """Client CPU seconds of one small DynamoDB call against moto's server. Its server (werkzeug) closes
    every connection after answering, so each call here also pays a TCP connect and close that AWS's
    keep-alive endpoints do not: the function's figures below carry that cost on every request."""
    client = boto3.client("dynamodb")
    table = "bench-calibration"
    client.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    started = time.process_time()
    for index in range(count):
        client.put_item(TableName=table, Item={"pk": {"S": str(index)}})
    return (time.process_time() - started) / count


def client_alone(stack: Stack, count: int, repeat: int = 3) -> float:
    """The APNs client's own notifications per CPU-second (median of ``repeat``), 500 in flight."""
    stack.sandbox.control.clear_faults()
    setup = stack.client_setup
    runner = run_ours(TOPIC)

    async def warm_up() -> None:
        await runner(setup, setup.tokens[:200], 100)  # connect

    run_in_warm_loop(warm_up())
    rates = []
    for _ in range(repeat):
        sample = run_in_warm_loop(measure("client", runner, setup, count=count, in_flight=500))
        rates.append(sample.count / sample.client_cpu)
    return statistics.median(rates)


# --- report -----------------------------------------------------------------------------------------------

# The issue's targets per configuration: (share of the client's rate per CPU-second, DynamoDB requests per
# 1,000 receivers or jobs, US$ per million delivered).
TARGETS: dict[str, tuple[float, float, float]] = {
    "group, badge counted": (0.30, 60, 0.75),
    "group, no counter": (0.50, 15, 0.09),
    "1:1, batches of 10, badge counted": (0.15, 400, 0.90),
    "1:1, batches of 10, no counter": (0.20, 200, 0.50),
}


def print_results(results: list[Result], client_rate: float) -> None:
    machine = f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores"
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"\n{machine}, load average {load} at the end; moto's server and the APNs sandbox in their own")
    print("processes.")
    print(f"The APNs client alone: {client_rate:,.0f} notifications per CPU-second (median of its runs).")
    print("Per 1,000 receivers unless said otherwise.\n")
    header = (
        "| configuration | receivers | notifications/s | per CPU-second | CPU s | moto CPU s |"
        " DynamoDB requests | WRU | RRU | SQS requests | invocations | Lambda ms (est.) | peak RSS MB |"
        " duplicates |"
    )
    print(header)
    print("|" + "---|" * 14)
    for result in results:
        print(
            f"| {result.name} | {result.receivers:,} | {result.rate:,.0f} |"
            f" {result.delivered / result.cpu:,.0f} | {result.per_1000(result.cpu):.2f} |"
            f" {result.per_1000(result.moto_cpu):.2f} | {result.per_1000(result.dynamodb_requests()):,.0f} |"
            f" {result.per_1000(result.usage.wru):,.0f} | {result.per_1000(result.usage.rru):,.0f} |"
            f" {result.per_1000(result.usage.sqs_billed):.1f} | {result.per_1000(result.invocations):.2f} |"
            f" {result.lambda_ms_per_1000():,.0f} | {result.peak_rss_mb:,.0f} | {result.duplicates} |"
        )
    print("\nDynamoDB requests per 1,000 receivers, by operation:\n")
    operations = sorted(
        {name for result in results for name in result.usage.requests if name.startswith("dynamodb.")}
    )
    print("| configuration | " + " | ".join(name.removeprefix("dynamodb.") for name in operations) + " |")
    print("|" + "---|" * (len(operations) + 1))
    for result in results:
        cells = " | ".join(f"{result.per_1000(result.usage.requests[name]):,.1f}" for name in operations)
        print(f"| {result.name} | {cells} |")
    print("\nAWS cost per million delivered pushes (US$, on-demand, us-east-1):\n")
    print("| configuration | DynamoDB writes | DynamoDB reads | SQS | Lambda | total |")
    print("|---|---|---|---|---|---|")
    for result in results:
        cost = result.cost_per_million()
        cells = " | ".join(f"{value:.3f}" for value in cost.values())
        print(f"| {result.name} | {cells} | {sum(cost.values()):.3f} |")
    print(
        f"\nLargest item written: {max(r.usage.max_item_bytes for r in results)} bytes (1 WRU up to 1,024)."
    )
    print("\nAgainst the targets (per CPU-second as a share of the client's; per 1,000 receivers or jobs):\n")
    print("| configuration | per CPU-second vs the client | DynamoDB requests | $ per million delivered |")
    print("|---|---|---|---|")
    for result in results:
        target = TARGETS.get(result.name)
        if target is None:
            continue
        share = result.delivered / result.cpu / client_rate
        requests = result.per_1000(result.dynamodb_requests())
        dollars = sum(result.cost_per_million().values())
        print(
            f"| {result.name} | {share:.0%} (target >= {target[0]:.0%}: {_met(share >= target[0])}) |"
            f" {requests:,.0f} (target <= {target[1]:,.0f}: {_met(requests <= target[1])}) |"
            f" {dollars:.3f} (target <= {target[2]:.2f}: {_met(dollars <= target[2])}) |"
        )


def _met(ok: bool) -> str:
    return "met" if ok else "not met"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--receivers", type=int, default=10_000)
    parser.add_argument("--one-to-one", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="1,000 receivers and 100 one-to-one jobs")
    args = parser.parse_args()
    if args.quick:
        args.receivers, args.one_to_one = 1000, 100
    users = [f"member-{i:05d}" for i in range(args.receivers)]
    with (
        tempfile.TemporaryDirectory() as directory,
        moto_server() as (moto_url, moto_process),
        start_sandbox_process(Path(directory) / "apns") as sandbox,
    ):
        stack = setup(moto_url, sandbox, args.receivers)
        stack.moto_pid = moto_process.pid
        call_cpu = cpu_per_call()
        client_cpu = [client_alone(stack, args.receivers)]
        results = [
            run(stack, "group, badge counted", [group_job(users, "g-counted")], args.receivers),
            run(stack, "group, no counter", [group_job(users, "g-nocounter", counted=False)], args.receivers),
            run(
                stack,
                "group, no counter, 1% refused",
                [group_job(users, "g-refused", counted=False)],
                args.receivers,
                faults=[
                    {
                        "kind": "status",
                        "status": 400,
                        "reason": "BadExpirationDate",
                        "count": args.receivers // 100,
                        "skip": args.receivers // 2,
                    }
                ],
            ),
        ]
        singles = [one_to_one(users[i % len(users)], f"one-{i}") for i in range(args.one_to_one)]
        results.append(run(stack, "1:1, batches of 10, badge counted", singles, len(singles)))
        singles_uncounted = [
            {**job, "MsgKey": job["MsgKey"] + "-n", "OfflinePushInfo": {"ApnsInfo": {"BadgeMode": 1}}}
            for job in singles
        ]
        results.append(run(stack, "1:1, batches of 10, no counter", singles_uncounted, len(singles)))
        client_cpu.append(client_alone(stack, args.receivers))
        if stack.dispatch.dispatcher.cache_info().currsize:
            run_in_warm_loop(stack.dispatch.dispatcher().apns.close())
        print_results(results, statistics.median(client_cpu))
    print(f"\nOne DynamoDB call against moto's server: {call_cpu * 1000:.2f} ms of client CPU", end="")
    print(" (a new TCP connection each: moto's server closes every one).")


if __name__ == "__main__":
    main()
