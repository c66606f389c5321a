"""TEST ONLY: does what the request's JSON body asks, so tests can make a handler misbehave on purpose.

{"answer": X} returns X as the Lambda answer; {"raise": "message"} raises; {"sleep": seconds} sleeps first;
{"unencodable": true} returns what JSON cannot encode; {"answer_of_size": n} returns a string of n bytes.
PEAK_CONCURRENCY records how many invocations ever ran at once in this process."""

from __future__ import annotations

import base64
import json
import threading
import time
from typing import Any

PEAK_CONCURRENCY = 0
_running = 0
_lock = threading.Lock()


class RequestedFailure(RuntimeError):
    pass


def lambda_handler(event: dict[str, Any], context: Any) -> Any:
    global PEAK_CONCURRENCY, _running  # noqa: PLW0603 - the probe is this module's state by design
    with _lock:
        _running += 1
        PEAK_CONCURRENCY = max(PEAK_CONCURRENCY, _running)
    try:
        return _respond(event)
    finally:
        with _lock:
            _running -= 1


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
