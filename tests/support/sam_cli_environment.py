"""What SAM CLI's own ``sam local invoke`` would give each function as its environment, without Docker.

Runs in the SAM venv (``.venv-sam``; imports nothing of this repository): it resolves the template's
functions with SAM CLI's providers and the ``--env-vars`` file with SAM CLI's ``LocalLambdaRunner``, the code
``sam local invoke`` runs just before it starts the container. Prints ``{FunctionLogicalId: {VAR: value}}``.

    .venv-sam/bin/python tests/support/sam_cli_environment.py template.yaml env-vars.json
"""

from __future__ import annotations

import json
import sys

from samcli.commands.local.lib.local_lambda import LocalLambdaRunner
from samcli.lib.providers.sam_function_provider import SamFunctionProvider
from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider


def main(template: str, env_vars_file: str) -> int:
    stacks, _ = SamLocalStackProvider.get_stacks(template)
    provider = SamFunctionProvider(stacks)
    with open(env_vars_file, encoding="utf-8") as stream:
        env_vars = json.load(stream)
    runner = LocalLambdaRunner(
        local_runtime=None,  # only the environment is asked for
        function_provider=provider,
        cwd=".",
        real_path=".",
        env_vars_values=env_vars,
    )
    resolved = {function.name: runner._make_env_vars(function).resolve() for function in provider.get_all()}
    json.dump(resolved, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
