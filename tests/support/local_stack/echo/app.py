"""TEST ONLY: answers with the event it received, its Lambda context and its configuration, as JSON."""

from __future__ import annotations

import json
import os
from typing import Any

CONFIGURATION = (
    "ITEMS_TABLE",
    "JOBS_QUEUE_URL",
    "DEPLOYMENT_NAME",
    "AWS_ENDPOINT_URL",
    "AWS_REGION",
    "LOCAL_EXTRA",
)


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    echoed = {
        "event": event,
        "context": {
            "function_name": context.function_name,
            "function_version": context.function_version,
            "invoked_function_arn": context.invoked_function_arn,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "aws_request_id": context.aws_request_id,
            "remaining_time_in_millis": context.get_remaining_time_in_millis(),
        },
        "environment": {name: os.environ.get(name) for name in CONFIGURATION},
    }
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(echoed)}
