"""The ``--env-vars`` file for ``sam local invoke`` against the running local stack.

``sam local invoke`` runs a function in Lambda's own image (Docker), with the variables the template declares
resolved by SAM CLI itself: table names as logical ids, and no endpoint, so the SDK would reach the real AWS
of whoever's credentials are in the shell. ``make run`` writes this file (``.local-stack/sam-env.json``) so
each function gets the local stack's values instead: its resources' names, and the moto endpoint as a
container sees it (``host.docker.internal`` for the host's 127.0.0.1).

SAM CLI overrides only variables the template declares for the function, so ``AWS_ENDPOINT_URL`` is declared
in the template's Globals, absent on AWS unless the ``LocalAwsEndpoint`` parameter is set.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from local.lambda_runtime import resolve_environment
from local.stack import LocalStack

CONTAINER_HOST = (
    "host.docker.internal"  # Docker Desktop's name for the host; Linux: --add-host ...:host-gateway
)
SAM_ENV_FILE = "sam-env.json"
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def container_view(url: str, container_host: str = CONTAINER_HOST) -> str:
    """``url`` as a container reaches it: a loopback host becomes ``container_host``."""
    parts = urlsplit(url)
    if parts.hostname not in _LOOPBACK:
        return url
    netloc = container_host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def sam_env_vars(stack: LocalStack, container_host: str = CONTAINER_HOST) -> dict[str, Any]:
    """``{FunctionLogicalId: {VARIABLE: value}}`` for every function of the running stack."""
    endpoint = container_view(stack.aws.endpoint_url, container_host)
    variables: dict[str, Any] = {}
    for logical_id, definition in stack.definitions.items():
        resolved = resolve_environment(definition, stack.aws.provisioned)
        values = {
            name: container_view(value, container_host) if value.startswith(stack.aws.endpoint_url) else value
            for name, value in resolved.items()
        }
        values["AWS_ENDPOINT_URL"] = endpoint
        variables[logical_id] = dict(sorted(values.items()))
    return variables
