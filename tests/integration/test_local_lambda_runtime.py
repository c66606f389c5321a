"""The local Lambda runtime with real handlers: one warm sandbox per function, Lambda's errors and limits."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local.lambda_runtime import (
    MAX_REQUEST_PAYLOAD_BYTES,
    MAX_RESPONSE_PAYLOAD_BYTES,
    FunctionDefinition,
    InvocationDeadlineExceeded,
    InvocationRejected,
    LocalFunction,
    function_definitions,
)
from local.template import load_template
from tests.support.local_stack import observed

TEMPLATE = Path(__file__).resolve().parents[1] / "support" / "local_stack" / "template.yaml"


def definition(logical_id: str) -> FunctionDefinition:
    return function_definitions(load_template(TEMPLATE), template_path=TEMPLATE)[logical_id]


def instructions(**what: Any) -> dict[str, Any]:
    """An event for the responder (its body says what to do)."""
    return {"body": json.dumps(what), "isBase64Encoded": False}


@pytest.fixture
def responder_function() -> Iterator[LocalFunction]:
    function = LocalFunction(definition("ResponderFunction"))
    yield function
    function.close()


def test_an_answer_comes_back_as_the_runtime_encoded_it(responder_function: LocalFunction) -> None:
    result = responder_function.invoke(instructions(answer={"b": 1, "a": [True, None]}))

    assert (result.ok, result.payload, result.raw_payload) == (
        True,
        {"b": 1, "a": [True, None]},
        b'{"b": 1, "a": [true, null]}',
    )


def test_concurrent_invocations_of_one_function_run_one_at_a_time(responder_function: LocalFunction) -> None:
    # Given three callers invoking the same function at once
    observed.reset()
    results: list[bool] = []
    callers = [
        threading.Thread(target=lambda: results.append(responder_function.invoke(instructions(sleep=0.1)).ok))
        for _ in range(3)
    ]

    # When they all run
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()

    # Then every invocation succeeded and never two ran together, as in one Lambda sandbox
    assert (results, observed.peak_concurrency) == ([True, True, True], 1)


def test_a_handler_exception_is_reported_as_lambda_reports_it(responder_function: LocalFunction) -> None:
    result = responder_function.invoke(instructions(**{"raise": "no certificate for businessId 9"}))

    assert result.error is not None
    frames = result.error.pop("stackTrace")
    assert result.error == {
        "errorMessage": "no certificate for businessId 9",
        "errorType": "RequestedFailure",
        "requestId": result.request_id,
    }
    assert any("responder/app.py" in frame for frame in frames)


def test_a_handler_past_its_timeout_is_sandbox_timedout(responder_function: LocalFunction) -> None:
    # Given the responder's Timeout of 1 s; When a handler sleeps past it
    result = responder_function.invoke(instructions(sleep=1.3))

    # Then Lambda's timeout error comes back without waiting for the handler
    assert (result.timed_out, result.error) == (
        True,
        {
            "errorMessage": f"RequestId: {result.request_id} Error: Task timed out after 1.00 seconds",
            "errorType": "Sandbox.Timedout",
            "requestId": result.request_id,
            "stackTrace": [],
        },
    )
    # and the sandbox is busy until the handler really returns: the next invocation still succeeds
    assert responder_function.invoke(instructions(answer="after")).payload == "after"


def test_a_caller_deadline_before_the_timeout_raises(responder_function: LocalFunction) -> None:
    with pytest.raises(InvocationDeadlineExceeded):
        responder_function.invoke(instructions(sleep=0.4), deadline=time.monotonic() + 0.1)
    time.sleep(0.4)  # let the handler finish before the sandbox is dropped


@pytest.mark.parametrize(
    ("what", "error_type", "message"),
    [
        ({"unencodable": True}, "Runtime.MarshalError", "Unable to marshal response: Object of type module"),
        (
            {"answer_of_size": MAX_RESPONSE_PAYLOAD_BYTES},
            "Function.ResponseSizeTooLarge",
            "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
        ),
    ],
)
def test_answers_lambda_cannot_return_are_function_errors(
    responder_function: LocalFunction, what: dict[str, Any], error_type: str, message: str
) -> None:
    result = responder_function.invoke(instructions(**what))

    assert result.error is not None
    assert (result.error["errorType"], result.error["errorMessage"][: len(message)]) == (error_type, message)


@pytest.mark.parametrize(
    ("event", "error_type"),
    [
        ({"body": "x" * MAX_REQUEST_PAYLOAD_BYTES}, "RequestEntityTooLargeException"),
        ({"when": object()}, "InvalidRequestContentException"),
    ],
)
def test_events_lambda_refuses_are_rejected_before_the_handler_runs(
    responder_function: LocalFunction, event: dict[str, Any], error_type: str
) -> None:
    with pytest.raises(InvocationRejected) as rejected:
        responder_function.invoke(event)

    assert (rejected.value.error_type, responder_function.invocations) == (error_type, 0)


@pytest.mark.parametrize(
    ("module_name", "handler_name", "error_type", "message"),
    [
        (
            "tests.support.local_stack.missing.app",
            "lambda_handler",
            "Runtime.ImportModuleError",
            "Unable to import module 'tests.support.local_stack.missing.app': No module named "
            "'tests.support.local_stack.missing'",
        ),
        (
            "tests.support.local_stack.responder.app",
            "handler",
            "Runtime.HandlerNotFound",
            "Handler 'handler' missing on module 'tests.support.local_stack.responder.app'",
        ),
    ],
)
def test_a_handler_that_cannot_be_loaded_is_lambdas_init_error(
    module_name: str, handler_name: str, error_type: str, message: str
) -> None:
    loaded = dataclasses.replace(
        definition("ResponderFunction"), module_name=module_name, handler_name=handler_name
    )
    function = LocalFunction(loaded)

    result = function.invoke({})

    assert result.error == {
        "errorMessage": message,
        "errorType": error_type,
        "requestId": result.request_id,
        "stackTrace": [],
    }
