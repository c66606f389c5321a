"""X-Ray tracing of a function, loaded only when the stack traces (``Tracing=Active``).

Powertools' ``Tracer`` imports the AWS X-Ray SDK even when tracing is disabled, and the SDK is the largest
single import of a function (about 150 ms of a cold start). template.yaml sets ``POWERTOOLS_TRACE_DISABLED``
from the ``Tracing`` parameter; when it is true, :func:`function_tracer` gives decorators that return the
function unchanged, and neither Powertools' tracing nor the SDK is imported.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

_FALSE = frozenset({"", "0", "false", "no", "off"})


class FunctionTracer(Protocol):
    def capture_lambda_handler(self, *, capture_response: bool = ...) -> Callable[[F], F]: ...

    def capture_method(self, *, capture_response: bool = ...) -> Callable[[F], F]: ...


class Untraced:
    """Tracing off: the decorators leave the function as it is."""

    def capture_lambda_handler(self, *, capture_response: bool = True) -> Callable[[F], F]:
        return _unchanged

    def capture_method(self, *, capture_response: bool = True) -> Callable[[F], F]:
        return _unchanged


def _unchanged[G: Callable[..., Any]](function: G) -> G:
    return function


def tracing_enabled() -> bool:
    return os.environ.get("POWERTOOLS_TRACE_DISABLED", "false").strip().lower() in _FALSE


def function_tracer() -> FunctionTracer:
    """Powertools' ``Tracer`` when the function traces, else :class:`Untraced` (no X-Ray import)."""
    if not tracing_enabled():
        return Untraced()
    from aws_lambda_powertools import Tracer  # noqa: PLC0415 - imports the X-Ray SDK: only when tracing

    tracer: FunctionTracer = Tracer()
    return tracer
