"""TEST ONLY: what the test handlers observed, kept outside their packages.

A local stack gives its functions fresh copies of their modules (local.lambda_runtime.FreshModules), so a
handler's own globals are not the ones a test imported; this module is not a function's, so both see it."""

from __future__ import annotations

import threading
from typing import Any

SQS_EVENTS: list[dict[str, Any]] = []  # every event the jobs handler received, in order

_lock = threading.Lock()
_running = 0
peak_concurrency = 0  # the most responder invocations that ever ran at once


def entered() -> None:
    global _running, peak_concurrency  # noqa: PLW0603 - a process-wide probe by design
    with _lock:
        _running += 1
        peak_concurrency = max(peak_concurrency, _running)


def left() -> None:
    global _running  # noqa: PLW0603 - a process-wide probe by design
    with _lock:
        _running -= 1


def reset() -> None:
    global peak_concurrency  # noqa: PLW0603 - a process-wide probe by design
    SQS_EVENTS.clear()
    peak_concurrency = 0
