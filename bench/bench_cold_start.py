"""Cold start: what a new Lambda instance pays to import each function, and the APNs clients side by side.

    python -m bench.bench_cold_start [--samples 15] [--source]

Each sample is a fresh interpreter that imports one module and reports the import's wall time and the
process's peak memory (RSS) after it; the table gives medians. Functions are imported from ``sam build``'s
output when it holds every function (``.aws-sam/build``: only the function's folder and the built layer on
the path, no site-packages, as in Lambda), else from the source tree with the test venv (``--source``).

The first row is bare ``import boto3`` from the same place: every function's import is given as a multiple
of it (the target: at most 1.5x). The APNs rows compare the client packages alone: this project's
``offline_push.apns`` (h2 + PyJWT), aioapns 4.0 (h2 + PyJWT + pyOpenSSL), and httpx with HTTP/2
(httpx[http2]), the usual general-purpose choice.
Lambda's Python runtime adds its own start (~100-200 ms, before any import) that no code can change.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from local.template import load_template, resources_of_type

ROOT = Path(__file__).resolve().parent.parent
BUILD_DIR = ROOT / ".aws-sam" / "build"

_PROBE = """
import json, resource, sys, time
started = time.perf_counter()
import {module}
seconds = time.perf_counter() - started
print(json.dumps({{"seconds": seconds, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "modules": len(sys.modules)}}))
"""

# What the functions read from their environment at import (template.yaml's Globals), and dummy names for
# the resources they look up lazily.
_FUNCTION_ENVIRONMENT = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_LAMBDA_FUNCTION_NAME": "offline-push-bench",
    "POWERTOOLS_SERVICE_NAME": "offline-push",
    "POWERTOOLS_METRICS_NAMESPACE": "OfflinePush",
    "POWERTOOLS_TRACE_DISABLED": "true",
}


@dataclass(frozen=True)
class Sample:
    seconds: float
    rss_mb: float
    modules: int


@dataclass(frozen=True)
class Row:
    name: str
    module: str
    samples: list[Sample]

    @property
    def import_ms(self) -> float:
        return statistics.median(sample.seconds for sample in self.samples) * 1e3

    @property
    def rss_mb(self) -> float:
        return statistics.median(sample.rss_mb for sample in self.samples)

    @property
    def modules(self) -> int:
        return int(statistics.median(sample.modules for sample in self.samples))


def probe(module: str, *, python_path: list[Path], isolated: bool) -> Sample:
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": os.pathsep.join(map(str, python_path)),
        **_FUNCTION_ENVIRONMENT,
    }
    command = [sys.executable, *(["-S"] if isolated else []), "-c", _PROBE.format(module=module)]
    result = subprocess.run(  # noqa: S603 - this interpreter, our own probe
        command, env=environment, capture_output=True, text=True, check=False, cwd=ROOT
    )
    if result.returncode != 0:
        raise SystemExit(f"importing {module} failed:\n{result.stderr.strip()}")
    data = json.loads(result.stdout)
    return Sample(float(data["seconds"]), float(data["rss_mb"]), int(data["modules"]))


def function_rows(samples: int, *, from_build: bool) -> list[Row]:
    template = load_template(ROOT / "template.yaml")
    layers = [
        BUILD_DIR / name / "python" for name in resources_of_type("AWS::Serverless::LayerVersion", template)
    ]
    rows = []
    for name, function in resources_of_type("AWS::Serverless::Function", template).items():
        handler_module = function["Properties"]["Handler"].partition(".")[0]
        if from_build:
            module, path, isolated = handler_module, [BUILD_DIR / name, *layers], True
        else:
            folder = Path(function["Properties"]["CodeUri"]).name
            module = f"functions.{folder}.{handler_module}"
            path, isolated = [ROOT / "layers" / "offline_push", ROOT], False
        rows.append(
            Row(name, module, [probe(module, python_path=path, isolated=isolated) for _ in range(samples)])
        )
    return rows


def boto3_row(samples: int, *, from_build: bool) -> Row:
    """Bare ``import boto3``, from where the functions import it: the target is a ratio to this."""
    if from_build:
        template = load_template(ROOT / "template.yaml")
        path = [
            BUILD_DIR / name / "python"
            for name in resources_of_type("AWS::Serverless::LayerVersion", template)
        ]
        isolated = True
    else:
        path, isolated = [ROOT / "layers" / "offline_push", ROOT], False
    return Row(
        "boto3 alone", "boto3", [probe("boto3", python_path=path, isolated=isolated) for _ in range(samples)]
    )


def client_rows(samples: int) -> list[Row]:
    path = [ROOT / "layers" / "offline_push", ROOT]
    clients = [
        ("APNs client: offline_push.apns", "offline_push.apns"),
        ("APNs client: aioapns 4.0", "aioapns"),
        ("HTTP/2 client: httpx[http2]", "httpx, h2"),
    ]
    return [
        Row(name, module, [probe(module, python_path=path, isolated=False) for _ in range(samples)])
        for name, module in clients
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--samples", type=int, default=15)
    parser.add_argument("--quick", action="store_true", help="3 samples")
    parser.add_argument("--source", action="store_true", help="import from the source tree, not the build")
    args = parser.parse_args()
    samples = 3 if args.quick else args.samples
    functions = resources_of_type("AWS::Serverless::Function", load_template(ROOT / "template.yaml"))
    from_build = not args.source and all(BUILD_DIR.joinpath(name).is_dir() for name in functions)
    baseline = boto3_row(samples, from_build=from_build)
    rows = [baseline, *function_rows(samples, from_build=from_build), *client_rows(samples)]
    origin = "sam build's output (.aws-sam/build), no site-packages" if from_build else "the source tree"
    print(
        f"\n{platform.python_implementation()} {platform.python_version()}; functions imported from {origin};"
        f" median of {samples} fresh interpreters.\n"
    )
    print("| module | import ms | vs boto3 | peak RSS MB | modules loaded |")
    print("|---|---:|---:|---:|---:|")
    for row in rows:
        ratio = row.import_ms / baseline.import_ms
        print(
            f"| {row.name} (`{row.module}`) | {row.import_ms:,.0f} | {ratio:.2f}x | {row.rss_mb:,.0f} |"
            f" {row.modules:,} |"
        )


if __name__ == "__main__":
    main()
