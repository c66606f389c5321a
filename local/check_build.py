"""Import every built function as Lambda will: only its folder and the built layer on the path.

``sam build`` resolves the layer's requirements for the template's runtime; a layer built for another Python
minor version fails here (its compiled modules, ``_cffi_backend`` for one, do not import), as it would in
Lambda. Run with the runtime's Python (``make build-check``); it starts one clean interpreter per function
(``-S``: no site-packages, so nothing from the test venv can stand in for what the build forgot).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from local.template import load_template, resources_of_type

BUILD_DIR = Path(".aws-sam/build")

_PROBE = """
import importlib, sys
module = importlib.import_module({module!r})
handler = getattr(module, {handler!r})
assert callable(handler), "handler is not callable"
import cryptography.hazmat.bindings._rust  # compiled: fails when built for another Python
print("ok", {name!r}, sys.version.split()[0])
"""


def main() -> int:
    template = load_template()
    layers = [
        BUILD_DIR / name / "python" for name in resources_of_type("AWS::Serverless::LayerVersion", template)
    ]
    failures = 0
    for name, function in resources_of_type("AWS::Serverless::Function", template).items():
        module, _, handler = function["Properties"]["Handler"].partition(".")
        paths = [str(BUILD_DIR / name), *map(str, layers)]
        environment = {
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": os.pathsep.join(paths),
            "AWS_DEFAULT_REGION": "us-east-1",
            "POWERTOOLS_SERVICE_NAME": "offline-push",
            "POWERTOOLS_METRICS_NAMESPACE": "OfflinePush",
            "POWERTOOLS_TRACE_DISABLED": "true",
        }
        probe = _PROBE.format(module=module, handler=handler, name=name)
        result = subprocess.run(  # noqa: S603 - our own interpreter and probe
            [sys.executable, "-S", "-c", probe], env=environment, capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            failures += 1
            print(f"FAILED {name}:\n{result.stderr.strip()}", file=sys.stderr)
        else:
            print(result.stdout.strip())
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
