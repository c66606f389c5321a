"""X-Ray is loaded only when the stack traces: with Tracing=PassThrough (POWERTOOLS_TRACE_DISABLED=true) a
function imports neither Powertools' tracing nor the X-Ray SDK, and its handler is left as it is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

_PROBE = """
import json, sys
import functions.{folder}.app as app
print(json.dumps({{
    "xray": any(name.startswith("aws_xray_sdk") for name in sys.modules),
    "tracer": type(app.tracer).__name__,
}}))
"""


def imported(folder: str, trace_disabled: str) -> dict[str, object]:
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "layers" / "offline_push"), str(ROOT)]),
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_SERVICE_NAME": "offline-push",
        "POWERTOOLS_TRACE_DISABLED": trace_disabled,
    }
    result = subprocess.run(  # noqa: S603 - this interpreter, our own probe
        [sys.executable, "-c", _PROBE.format(folder=folder)],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    answer: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return answer


@pytest.mark.parametrize("folder", ["dispatch", "certificates", "registrations", "apps", "deliveries"])
def test_with_tracing_off_a_function_imports_no_xray(folder: str) -> None:
    assert imported(folder, "true") == {"xray": False, "tracer": "Untraced"}


def test_with_tracing_on_a_function_traces_with_powertools() -> None:
    assert imported("dispatch", "false") == {"xray": True, "tracer": "Tracer"}
