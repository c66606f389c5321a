"""TEST ONLY: an SQS consumer whose messages say how to fare: {"outcome": "ok" | "fail" | "raise" |
"malformed" | "sleep"}. "fail" reports the message in batchItemFailures, "raise" fails the whole invocation,
"malformed" answers a batchItemFailures entry Lambda cannot match, "sleep" outlives the 1 s Timeout.

Every event it receives is kept in RECEIVED, in order, for the tests to read."""

from __future__ import annotations

import json
import time
from typing import Any

RECEIVED: list[dict[str, Any]] = []


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    RECEIVED.append(event)
    outcomes = {record["messageId"]: json.loads(record["body"])["outcome"] for record in event["Records"]}
    if "raise" in outcomes.values():
        raise RuntimeError("a job asked the handler to fail")
    if "sleep" in outcomes.values():
        time.sleep(1.5)
    if "malformed" in outcomes.values():
        return {"batchItemFailures": [{"itemIdentifier": "not-a-message-of-this-batch"}]}
    return {
        "batchItemFailures": [
            {"itemIdentifier": mid} for mid, outcome in outcomes.items() if outcome == "fail"
        ]
    }
