"""TEST ONLY: an SQS consumer whose messages say how to fare: {"outcome": "ok" | "fail" | "raise" |
"malformed" | "sleep"}. "fail" reports the message in batchItemFailures, "raise" fails the whole invocation,
"malformed" answers a batchItemFailures entry Lambda cannot match, "sleep" outlives the 1 s Timeout.

Every event it receives is kept in tests.support.local_stack.observed.SQS_EVENTS, for the tests to read."""

from __future__ import annotations

import json
import time
from typing import Any

from tests.support.local_stack import observed


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    observed.SQS_EVENTS.append(event)
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
