"""TEST ONLY: does what the request's JSON body asks, so tests can make a handler misbehave on purpose.

{"answer": X} returns X as the Lambda answer; {"raise": "message"} raises; {"sleep": seconds} sleeps first;
{"unencodable": true} returns what JSON cannot encode; {"answer_of_size": n} returns a string of n bytes.
How many invocations ever ran at once is recorded in tests.support.local_stack.observed."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from tests.support.local_stack import observed


class RequestedFailure(RuntimeError):
    pass


def lambda_handler(event: dict[str, Any], context: Any) -> Any:
    observed.entered()
    try:
        return _respond(event)
    finally:
        observed.left()


def _respond(event: dict[str, Any]) -> Any:
    body = event.get("body") or "{}"
    instructions = json.loads(base64.b64decode(body) if event.get("isBase64Encoded") else body)
    time.sleep(float(instructions.get("sleep", 0)))
    if "raise" in instructions:
        raise RequestedFailure(instructions["raise"])
    if instructions.get("unencodable"):
        return {"when": time}
    if "answer_of_size" in instructions:
        return "x" * int(instructions["answer_of_size"])
    return instructions.get("answer")
