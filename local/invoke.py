"""Invoke one function of template.yaml with a sample event, against the local AWS emulation.

    python -m local.invoke <function> <event.json> [--template template.yaml]
    make invoke FN=<function> EVENT=events/<file>.json

``<function>`` is a logical id (``DispatchFunction``) or a CodeUri folder (``dispatch``); ``-`` as the
event reads it from stdin. moto's server is started with the template's resources, the function's handler
runs in this process with the environment it has on AWS, and its answer is printed as JSON on stdout (the
function's logs go to stderr). The exit status is 0 for an answer, 1 for a function error, whose payload is
printed the way Lambda reports it, and 2 for a usage error. Where Docker exists, ``sam local invoke
<LogicalId> -e events/<file>.json`` does the same in Lambda's own container image. The emulated AWS starts
empty every time: an event that needs data (a certificate, a registration) needs it created first, e.g.
through the API of the running local stack.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
from pathlib import Path

from local.aws import LocalAws, ProcessEnvironment
from local.lambda_runtime import (
    FreshModules,
    InvocationRejected,
    LocalFunction,
    find_function,
    function_definitions,
    shared_environment,
)
from local.provision import LOCAL_PARAMETERS
from local.sam_transform import TemplateRejected, transform
from local.stack import LOCAL_RUNTIME_ENVIRONMENT
from local.template import TEMPLATE_PATH


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.invoke", description=__doc__.split("\n\n")[0])
    parser.add_argument("function", help="logical id or CodeUri folder of the function")
    parser.add_argument("event", help="path of a JSON event file, or - for stdin")
    parser.add_argument("--template", type=Path, default=TEMPLATE_PATH, help="SAM template (template.yaml)")
    parser.add_argument("--region", default="us-east-1")
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")

    try:
        source = sys.stdin.read() if arguments.event == "-" else Path(arguments.event).read_text("utf-8")
        event = json.loads(source)
    except (OSError, ValueError) as exc:
        print(f"cannot read the event {arguments.event}: {exc}", file=sys.stderr)
        return 2
    aws = LocalAws(arguments.template, region=arguments.region)
    try:  # what AWS's SAM transform refuses is refused here too, with its message
        declared = aws.template.get("Parameters", {})
        parameters = {name: value for name, value in LOCAL_PARAMETERS.items() if name in declared}
        transform(aws.template, parameters, region=arguments.region)
    except TemplateRejected as exc:
        print(f"the SAM transform refuses {arguments.template}: {exc}", file=sys.stderr)
        return 2
    definitions = function_definitions(aws.template, template_path=arguments.template)
    try:
        definition = find_function(definitions, arguments.function)
    except KeyError as exc:
        print(exc.args[0], file=sys.stderr)
        return 2

    with aws:
        environment = ProcessEnvironment(
            {
                **LOCAL_RUNTIME_ENVIRONMENT,
                **shared_environment(definitions, aws.provisioned),
                **aws.environment,
            }
        )
        environment.apply()
        modules = FreshModules(definitions)
        modules.enter()
        function = LocalFunction(definition, region=arguments.region)
        try:
            # The handler's own output (Powertools logs and metrics print to stdout) goes to stderr, so that
            # stdout carries the answer alone and can be piped.
            with contextlib.redirect_stdout(sys.stderr):
                result = function.invoke(event)
        except InvocationRejected as exc:
            print(json.dumps({"errorType": exc.error_type, "errorMessage": str(exc)}, indent=2))
            return 1
        finally:
            function.close()
            modules.exit()
            environment.restore()
    print(json.dumps(result.payload if result.ok else result.error, indent=2, ensure_ascii=False))
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
