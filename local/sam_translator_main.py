"""Run the pinned aws-sam-translator on one template: JSON in on stdin, JSON out on stdout.

This file runs in the SAM venv (``.venv-sam``, the one ``sam validate`` and ``sam deploy`` use): the
translator pins a pydantic older than the layer's, so it cannot share the test venv. It imports nothing of
this repository. :mod:`local.sam_transform` is its caller.

Input: ``{"template": {...}, "parameters": {...}, "region": "us-east-1"}``. Output: ``{"template": {...}}``,
or ``{"error": "..."}`` with the message ``sam validate`` prints when the transform refuses the template.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import boto3
from samtranslator.model.exceptions import InvalidDocumentException
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator


def translate(request: dict[str, Any]) -> dict[str, Any]:
    session = boto3.session.Session(region_name=request.get("region", "us-east-1"))
    translator = Translator(None, Parser(), boto_session=session)
    try:
        template = translator.translate(
            request["template"],
            parameter_values=dict(request.get("parameters") or {}),
            get_managed_policy_map=lambda: {},
        )
    except InvalidDocumentException as error:
        # The message `sam validate` builds: the document's, then every cause's.
        causes = " ".join(str(cause.message) for cause in error.causes)
        return {"error": f"{error.message} {causes}"}
    return {"template": template}


def main() -> int:
    request = json.load(sys.stdin)
    json.dump(translate(request), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
