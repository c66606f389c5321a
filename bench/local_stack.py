"""What the local stack itself costs: start and stop, an API round trip, and SQS pickup latency.

    .venv/bin/python -m bench.local_stack [--requests 500] [--messages 50]

Runs the test template (tests/support/local_stack/template.yaml), whose handlers do next to nothing, so the
numbers are the emulation's overhead (HTTP server, event building, moto), not the product's.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import time
from pathlib import Path
from urllib.parse import urlsplit

from local.stack import LocalStack
from tests.support.local_stack import observed

TEMPLATE = Path(__file__).resolve().parents[1] / "tests" / "support" / "local_stack" / "template.yaml"


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def api_round_trips(stack: LocalStack, count: int) -> list[float]:
    parts = urlsplit(stack.api_url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    samples = []
    try:
        for _ in range(count):
            started = time.perf_counter()
            connection.request("GET", "/pets/dog/1?x=1", headers={"Cookie": "a=1"})
            response = connection.getresponse()
            response.read()
            samples.append((time.perf_counter() - started) * 1000.0)
    finally:
        connection.close()
    return samples


def sqs_pickups(stack: LocalStack, count: int) -> list[float]:
    """Milliseconds from SendMessage returning to the handler having received the message."""
    sqs = stack.client("sqs")
    queue_url = stack.aws.provisioned.refs["JobsQueue"]
    samples = []
    for _ in range(count):
        seen = len(observed.SQS_EVENTS)
        sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps({"outcome": "ok"}))
        sent = time.perf_counter()
        while len(observed.SQS_EVENTS) == seen:
            time.sleep(0.0005)
        samples.append((time.perf_counter() - sent) * 1000.0)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--messages", type=int, default=50)
    arguments = parser.parse_args()

    started = time.perf_counter()
    stack = LocalStack(TEMPLATE).start()
    start_ms = (time.perf_counter() - started) * 1000.0
    try:
        api = api_round_trips(stack, arguments.requests)
        pickups = sqs_pickups(stack, arguments.messages)
    finally:
        stopping = time.perf_counter()
        stack.stop()
        stop_ms = (time.perf_counter() - stopping) * 1000.0

    rows = [
        ("stack start (moto + provisioning + API + poller)", f"{start_ms:.0f} ms", ""),
        ("stack stop (poller long poll + servers)", f"{stop_ms:.0f} ms", ""),
        (
            f"API round trip, keep-alive, {arguments.requests} requests",
            f"p50 {statistics.median(api):.2f} ms",
            f"p99 {percentile(api, 0.99):.2f} ms, {1000.0 / statistics.mean(api):.0f} req/s",
        ),
        (
            f"SQS send -> handler, {arguments.messages} messages",
            f"p50 {statistics.median(pickups):.1f} ms",
            f"p99 {percentile(pickups, 0.99):.1f} ms",
        ),
    ]
    width = max(len(row[0]) for row in rows)
    print(f"{'measure':<{width}}  {'value':<14}  detail")
    for name, value, detail in rows:
        print(f"{name:<{width}}  {value:<14}  {detail}")


if __name__ == "__main__":
    main()
