"""The SAM transform, as CloudFormation runs it when ``sam deploy`` creates its change set.

The local stack reads routes, authorizers and functions from template.yaml itself, and is more lenient than
AWS: it would serve a template the SAM translator refuses, and so hide a stack that cannot deploy. So the
template goes through the pinned aws-sam-translator first (the one ``sam validate`` and ``sam deploy`` use,
in ``.venv-sam``), and a refusal stops everything with the translator's own message.

The translator runs as a child process (:mod:`local.sam_translator_main`) in the SAM venv: it pins a pydantic
older than the layer's. Results are cached per template and parameters for the life of the process.
"""

from __future__ import annotations

import copy
import itertools
import json
import os
import subprocess
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
SAM_PYTHON_ENVIRONMENT_VARIABLE = "OFFLINE_PUSH_SAM_PYTHON"
DEFAULT_SAM_PYTHON = REPO_ROOT / ".venv-sam" / "bin" / "python"
_TRANSLATOR_MAIN = Path(__file__).resolve().parent / "sam_translator_main.py"
PLACEHOLDER_CODE_BUCKET = "offline-push-code"

# The stack parameters whose values change which resources (or policies) the transform makes; the others
# only reach properties. The deploy rehearsal transforms and creates every combination of these values:
# a new switch is one line here.
RESOURCE_SWITCHES: dict[str, tuple[str, ...]] = {
    "Tracing": ("Active", "PassThrough"),
    "Console": ("false", "true"),
}


class TemplateRejected(ValueError):
    """The SAM translator refuses the template: CloudFormation would refuse to create its change set."""


class TranslatorUnavailable(RuntimeError):
    """The SAM venv is missing: ``make venv`` creates it."""


def parameter_combinations(
    switches: Mapping[str, tuple[str, ...]] = RESOURCE_SWITCHES,
) -> list[dict[str, str]]:
    """Every combination of the switches' values, in a stable order."""
    names = sorted(switches)
    return [
        dict(zip(names, values, strict=True))
        for values in itertools.product(*(switches[name] for name in names))
    ]


def with_code_uris(template: Mapping[str, Any], code_uris: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A copy of the template with every function's ``CodeUri`` and layer's ``ContentUri`` an S3 URI, as
    ``sam package`` leaves them: ``code_uris`` by logical id, else a placeholder (what ``sam validate`` does
    for local folders)."""
    document: dict[str, Any] = copy.deepcopy(dict(template))
    given = dict(code_uris or {})
    for logical_id, body in document.get("Resources", {}).items():
        key = {"AWS::Serverless::Function": "CodeUri", "AWS::Serverless::LayerVersion": "ContentUri"}.get(
            body.get("Type")
        )
        if key is None:
            continue
        properties = body.setdefault("Properties", {})
        if "InlineCode" in properties or "ImageUri" in properties:
            continue
        current = properties.get(key)
        if logical_id in given:
            properties[key] = given[logical_id]
        elif not (isinstance(current, str) and current.startswith("s3://")) and not isinstance(current, dict):
            properties[key] = f"s3://{PLACEHOLDER_CODE_BUCKET}/{logical_id}.zip"
    return document


def transform(
    template: Mapping[str, Any],
    parameters: Mapping[str, str] | None = None,
    *,
    region: str = "us-east-1",
    code_uris: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The CloudFormation template the SAM transform makes of ``template`` with these parameter values.

    Raises :class:`TemplateRejected` with the translator's message when it refuses the template."""
    request = {
        "template": with_code_uris(template, code_uris),
        "parameters": {"AWS::Region": region, **(parameters or {})},
        "region": region,
    }
    answer = json.loads(_run_translator(json.dumps(request, sort_keys=True)))
    if "error" in answer:
        raise TemplateRejected(str(answer["error"]))
    return dict(answer["template"])


def sam_python() -> Path:
    configured = os.environ.get(SAM_PYTHON_ENVIRONMENT_VARIABLE)
    return Path(configured) if configured else DEFAULT_SAM_PYTHON


@cache
def _run_translator(request: str) -> str:
    python = sam_python()
    if not python.is_file():
        raise TranslatorUnavailable(
            f"the SAM translator's venv is missing ({python}): run `make venv`, or set "
            f"{SAM_PYTHON_ENVIRONMENT_VARIABLE} to a Python with aws-sam-translator"
        )
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "PYTHON"))}
    environment.update({"AWS_DEFAULT_REGION": json.loads(request)["region"], "SAM_CLI_TELEMETRY": "0"})
    completed = subprocess.run(  # noqa: S603 - our own script, on our own venv's Python
        [str(python), str(_TRANSLATOR_MAIN)],
        input=request,
        capture_output=True,
        text=True,
        env=environment,
        check=False,
        timeout=300,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"the SAM translator failed (exit {completed.returncode}): {completed.stderr}")
    return completed.stdout
