"""Cold start: what a new Lambda instance pays to import each function, and the APNs clients side by side.

    python -m bench.bench_cold_start [--samples 15] [--source]

Each sample is a fresh interpreter that imports one module and reports the import's wall time, its CPU time
and the process's peak memory (RSS) after it; the table gives medians. The rows are sampled in turns (one
sample of every row, then the next round), so a change in the machine's load during the run weighs on every
row alike and the ratios stay comparable; CPU time is what the import itself computed, without the time it
waited for a core on a busy machine. Functions are imported from ``sam build``'s
output when it holds every function (``.aws-sam/build``: only the function's folder and the built layer on
the path, no site-packages, as in Lambda), else from the source tree with the test venv (``--source``).

The first row is bare ``import boto3`` from the same place: every function's import is given as a multiple
of it (the target: at most 1.5x). The library rows give what each heavy library adds once boto3 (and what
the library needs before it, not timed) is loaded: the parts a function's import is made of. The APNs rows
compare the client packages alone: this project's ``offline_push.apns`` (h2 + PyJWT), aioapns 4.0 (h2 +
PyJWT + pyOpenSSL), and httpx with HTTP/2 (httpx[http2]), the usual general-purpose choice.
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
{before}
started, cpu_started = time.perf_counter(), time.process_time()
import {module}
seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
print(json.dumps({{"seconds": seconds, "cpu_seconds": cpu_seconds,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
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
    cpu_seconds: float
    rss_mb: float
    modules: int


@dataclass(frozen=True)
class Probe:
    """One row's import: ``module`` timed, ``before`` imported first and not timed; its samples come later."""

    name: str
    module: str
    python_path: list[Path]
    isolated: bool
    before: str = ""


@dataclass(frozen=True)
class Row:
    name: str
    module: str
    samples: list[Sample]
    before: str = ""

    @property
    def import_ms(self) -> float:
        return statistics.median(sample.seconds for sample in self.samples) * 1e3

    @property
    def cpu_ms(self) -> float:
        return statistics.median(sample.cpu_seconds for sample in self.samples) * 1e3

    @property
    def rss_mb(self) -> float:
        return statistics.median(sample.rss_mb for sample in self.samples)

    @property
    def modules(self) -> int:
        return int(statistics.median(sample.modules for sample in self.samples))


def probe(row: Probe) -> Sample:
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": os.pathsep.join(map(str, row.python_path)),
        **_FUNCTION_ENVIRONMENT,
    }
    code = _PROBE.format(module=row.module, before=row.before)
    command = [sys.executable, *(["-S"] if row.isolated else []), "-c", code]
    result = subprocess.run(  # noqa: S603 - this interpreter, our own probe
        command, env=environment, capture_output=True, text=True, check=False, cwd=ROOT
    )
    if result.returncode != 0:
        raise SystemExit(f"importing {row.module} failed:\n{result.stderr.strip()}")
    data = json.loads(result.stdout)
    return Sample(
        float(data["seconds"]), float(data["cpu_seconds"]), float(data["rss_mb"]), int(data["modules"])
    )


def sample_in_turns(probes: list[Probe], samples: int) -> list[Row]:
    """``samples`` rounds, each one sample of every probe, so that the machine's load weighs on all alike."""
    taken: list[list[Sample]] = [[] for _ in probes]
    for _ in range(samples):
        for index, row in enumerate(probes):
            taken[index].append(probe(row))
    return [Row(row.name, row.module, found, row.before) for row, found in zip(probes, taken, strict=True)]


def layer_path(*, from_build: bool) -> tuple[list[Path], bool]:
    """Where the functions find boto3 and the layer: the built layer alone, or the source tree and venv."""
    if not from_build:
        return [ROOT / "layers" / "offline_push", ROOT], False
    template = load_template(ROOT / "template.yaml")
    return [
        BUILD_DIR / name / "python" for name in resources_of_type("AWS::Serverless::LayerVersion", template)
    ], True


def function_probes(*, from_build: bool) -> list[Probe]:
    template = load_template(ROOT / "template.yaml")
    layers, isolated = layer_path(from_build=from_build)
    probes = []
    for name, function in resources_of_type("AWS::Serverless::Function", template).items():
        handler_module = function["Properties"]["Handler"].partition(".")[0]
        if from_build:
            probes.append(Probe(name, handler_module, [BUILD_DIR / name, *layers], isolated))
        else:
            folder = Path(function["Properties"]["CodeUri"]).name
            probes.append(Probe(name, f"functions.{folder}.{handler_module}", layers, isolated))
    return probes


def boto3_probe(*, from_build: bool) -> Probe:
    """Bare ``import boto3``, from where the functions import it: the target is a ratio to this."""
    path, isolated = layer_path(from_build=from_build)
    return Probe("boto3 alone", "boto3", path, isolated)


# What a function's import is made of beyond boto3: each library timed alone, once boto3 and what the library
# needs first are loaded (the event handler comes after Powertools' logger, PyJWT and the APNs client after
# cryptography, as in the functions).
_LIBRARIES = [
    ("+ pydantic", "pydantic.main", "import boto3"),
    (
        "+ Powertools logger and metrics",
        "aws_lambda_powertools.logging, aws_lambda_powertools.metrics",
        "import boto3",
    ),
    (
        "+ Powertools event handler",
        "aws_lambda_powertools.event_handler",
        "import boto3, aws_lambda_powertools.logging, aws_lambda_powertools.metrics",
    ),
    (
        "+ cryptography (x509, pkcs12)",
        "cryptography.x509, cryptography.hazmat.primitives.serialization.pkcs12",
        "import boto3",
    ),
    ("+ PyJWT", "jwt", "import boto3, cryptography.x509"),
    (
        "+ APNs client (asyncio, ssl, h2)",
        "offline_push.apns",
        "import boto3, pydantic.main, cryptography.x509, jwt",
    ),
]


def library_probes(*, from_build: bool) -> list[Probe]:
    path, isolated = layer_path(from_build=from_build)
    return [Probe(name, module, path, isolated, before=before) for name, module, before in _LIBRARIES]


def client_probes() -> list[Probe]:
    path = [ROOT / "layers" / "offline_push", ROOT]
    clients = [
        ("APNs client: offline_push.apns", "offline_push.apns"),
        ("APNs client: aioapns 4.0", "aioapns"),
        ("HTTP/2 client: httpx[http2]", "httpx, h2"),
    ]
    return [Probe(name, module, path, isolated=False) for name, module in clients]


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
    probes = [
        boto3_probe(from_build=from_build),
        *function_probes(from_build=from_build),
        *library_probes(from_build=from_build),
        *client_probes(),
    ]
    rows = sample_in_turns(probes, samples)
    baseline = rows[0]
    origin = "sam build's output (.aws-sam/build), no site-packages" if from_build else "the source tree"
    print(
        f"\n{platform.python_implementation()} {platform.python_version()}; functions imported from {origin};"
        f" median of {samples} fresh interpreters.\n"
    )
    print("| module | import ms | vs boto3 | CPU ms | CPU vs boto3 | peak RSS MB | modules loaded |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        ratio, cpu_ratio = row.import_ms / baseline.import_ms, row.cpu_ms / baseline.cpu_ms
        print(
            f"| {row.name} (`{row.module}`) | {row.import_ms:,.0f} | {ratio:.2f}x | {row.cpu_ms:,.0f} |"
            f" {cpu_ratio:.2f}x | {row.rss_mb:,.0f} | {row.modules:,} |"
        )


if __name__ == "__main__":
    main()
