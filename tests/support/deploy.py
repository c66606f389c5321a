"""What the deploy rehearsal and the privilege test share: the template as it broke, and `sam build`'s output.

``with_todays_auth_blocks`` puts back the three ``Auth: Authorizer: NONE`` blocks that once made template.yaml
undeployable (the SAM transform refuses ``NONE`` without a ``DefaultAuthorizer``): the rehearsal and the
privilege test prove they fail on it.
"""

from __future__ import annotations

import copy
import io
import os
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import yaml

from local.template import TEMPLATE_PATH

ROOT = TEMPLATE_PATH.parent
BUILD_DIR = ROOT / ".aws-sam" / "build"
SAM = ROOT / ".venv-sam" / "bin" / "sam"
CFN_LINT = ROOT / ".venv-sam" / "bin" / "cfn-lint"

# The routes of RegistrationsFunction that carried `Auth: Authorizer: NONE` when `sam deploy` failed.
TODAYS_AUTH_NONE_EVENTS = ("RegisterDevice", "UnregisterDevices", "SetBadge")
# What the pinned SAM translator (and so `sam deploy`) answers to them.
TODAYS_TRANSFORM_ERROR = (
    "Invalid Serverless Application Specification document. Number of errors found: 1. "
    "Resource with id [RegistrationsFunction] is invalid. Event with id [RegisterDevice] is invalid. "
    "Unable to set Authorizer on API method [put] for path [/v1/apps/{sdkAppId}/users/{userId}/apns] "
    "because 'NONE' is only a valid value when a DefaultAuthorizer on the API is specified."
)


def with_todays_auth_blocks(template: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``template`` with the registration routes' ``Auth: {Authorizer: NONE}`` blocks back."""
    broken = copy.deepcopy(template)
    events = broken["Resources"]["RegistrationsFunction"]["Properties"]["Events"]
    for name in TODAYS_AUTH_NONE_EVENTS:
        events[name]["Properties"]["Auth"] = {"Authorizer": "NONE"}
    return broken


def write_template(template: dict[str, Any], path: Path) -> Path:
    """``template`` as YAML at ``path`` (intrinsics in their long form, which CloudFormation reads too)."""
    path.write_text(yaml.safe_dump(template, sort_keys=False), encoding="utf-8")
    return path


def _newest_source_mtime() -> float:
    newest = TEMPLATE_PATH.stat().st_mtime
    for folder in ("functions", "layers"):
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                newest = max(newest, path.stat().st_mtime)
    return newest


def built_template() -> Path:
    """`sam build`'s template (.aws-sam/build), built now if missing or older than the sources."""
    built = BUILD_DIR / "template.yaml"
    if built.is_file() and built.stat().st_mtime >= _newest_source_mtime():
        return built
    if not SAM.is_file():
        raise RuntimeError(f"{SAM} is missing: run `make venv` (or `make build`)")
    python = (
        os.environ.get("PYTHON")
        or subprocess.run(  # the runtime's Python on PATH, as `make build`
            ["make", "-s", "--no-print-directory", "-f", "Makefile", "print-python"],  # noqa: S607
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    environment = {**os.environ, "SAM_CLI_TELEMETRY": "0", "AWS_DEFAULT_REGION": "us-east-1"}
    environment["PATH"] = f"{Path(python).parent}:{environment['PATH']}"
    subprocess.run(  # noqa: S603
        [str(SAM), "build", "--template", str(TEMPLATE_PATH)],
        cwd=ROOT,
        env=environment,
        check=True,
        capture_output=True,
        timeout=900,
    )
    return built


def zip_folder(folder: Path) -> bytes:
    """A deployment package of ``folder``, as `sam package` makes it (paths relative to the folder)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()
