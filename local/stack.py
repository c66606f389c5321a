"""The local stack: template.yaml's functions running on one machine, with no AWS account and no Docker.

The template goes through the pinned SAM translator first (:mod:`local.sam_transform`): a template AWS would
refuse is refused here too, with the translator's message.

:class:`LocalStack` starts, in order: moto's server with the template's resources (:mod:`local.aws`), the
functions' environment in this process, one API Gateway emulator per HTTP API of the template
(:mod:`local.api_gateway`) and one poller per SQS event source (:mod:`local.sqs_poller`); ``stop`` undoes
it all, the environment included. Everything is read from the template given, so the same machinery runs
the product's template.yaml and the small test templates of the local stack's own tests.

Pieces that are not part of the template (the APNs sandbox, say) are started by whoever composes the stack
and handed to the functions through ``extra_environment``.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self

import boto3

from local.api_gateway import (
    ADMIN_KEY_ENVIRONMENT_VARIABLE,
    ADMIN_KEY_HEADER,
    AdminIdentity,
    HttpApiServer,
    http_apis,
)
from local.aws import LocalAws, ProcessEnvironment
from local.console import CONSOLE_PREFIX, serve_console
from local.lambda_runtime import (
    REPO_ROOT,
    FreshModules,
    FunctionDefinition,
    LocalFunction,
    find_function,
    function_definitions,
    shared_environment,
)
from local.provision import LOCAL_PARAMETERS
from local.sam_transform import transform
from local.sqs_poller import SqsPoller, sqs_event_sources
from local.template import TEMPLATE_PATH

logger = logging.getLogger("local.stack")

# Set for every function, before the template's own variables (which win): no X-Ray daemon runs here.
LOCAL_RUNTIME_ENVIRONMENT = {"POWERTOOLS_TRACE_DISABLED": "true"}


class LocalStack:
    """Start with ``with LocalStack() as stack:`` (or ``start()`` / ``stop()``); then use ``api_url``,
    ``admin_key``, ``aws.endpoint_url``, ``client(service)``, ``function(name)`` and ``pollers``."""

    def __init__(
        self,
        template_path: Path = TEMPLATE_PATH,
        *,
        host: str = "127.0.0.1",
        api_port: int = 0,
        admin_key: str | None = None,
        region: str = "us-east-1",
        stack_name: str = "offline-push",
        code_root: Path = REPO_ROOT,
        extra_environment: Mapping[str, str] | None = None,
        poll_queues: bool = True,
        receive_wait_seconds: int = 1,
        console: bool = True,
    ) -> None:
        self.template_path = template_path
        self.host = host
        self.api_port = api_port
        self.admin_key = (
            admin_key or os.environ.get(ADMIN_KEY_ENVIRONMENT_VARIABLE) or secrets.token_urlsafe(24)
        )
        self.region = region
        self.poll_queues = poll_queues
        self.console = console
        self.receive_wait_seconds = receive_wait_seconds
        self.extra_environment = dict(extra_environment or {})
        self.aws = LocalAws(template_path, host=host, region=region, stack_name=stack_name)
        # AWS runs the SAM transform before anything is created, and refuses what it refuses: so does this
        # stack (local.sam_transform.TemplateRejected, with the translator's message), rather than serve a
        # template that cannot deploy.
        declared = self.aws.template.get("Parameters", {})
        transform(
            self.aws.template,
            {name: value for name, value in LOCAL_PARAMETERS.items() if name in declared},
            region=region,
        )
        self.definitions: dict[str, FunctionDefinition] = function_definitions(
            self.aws.template, template_path=template_path, code_root=code_root, stack_name=stack_name
        )
        self.functions = {
            logical_id: LocalFunction(definition, region=region)
            for logical_id, definition in self.definitions.items()
        }
        self.apis: dict[str, HttpApiServer] = {}
        self.pollers: list[SqsPoller] = []
        self.environment: dict[str, str] = {}
        self._process_environment: ProcessEnvironment | None = None
        self._modules = FreshModules(self.definitions)

    def start(self) -> Self:
        try:
            self.aws.start()
            self.environment = {
                **LOCAL_RUNTIME_ENVIRONMENT,
                **shared_environment(self.definitions, self.aws.provisioned),
                **self.extra_environment,
                **self.aws.environment,
            }
            self._process_environment = ProcessEnvironment(self.environment)
            self._process_environment.apply()
            self._modules.enter()
            admin = AdminIdentity()
            for api_id, api in http_apis(self.aws.template, self.definitions).items():
                port = self.api_port if not self.apis else 0
                server = HttpApiServer(
                    api,
                    self.functions,
                    admin_key=self.admin_key,
                    host=self.host,
                    port=port,
                    admin=admin,
                    pages=serve_console if self.console and not self.apis else None,
                )
                self.apis[api_id] = server.start()
            sqs = self.aws.client("sqs")
            for source in sqs_event_sources(self.definitions, self.aws.provisioned):
                poller = SqsPoller(
                    source,
                    self.functions[source.function_id],
                    sqs,
                    region=self.region,
                    receive_wait_seconds=self.receive_wait_seconds,
                )
                self.pollers.append(poller.start() if self.poll_queues else poller)
        except BaseException:
            self.stop()
            raise
        for line in self.summary(show_admin_key=False):
            logger.info("%s", line)
        return self

    def stop(self) -> None:
        for poller in self.pollers:
            poller.stop()
        self.pollers = []
        for server in self.apis.values():
            server.stop()
        self.apis = {}
        for function in self.functions.values():
            function.close()
        self._modules.exit()
        if self._process_environment is not None:
            self._process_environment.restore()
            self._process_environment = None
        self.aws.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def console_url(self) -> str:
        """The console's page (served by the local stack itself, signing in with the admin key)."""
        return f"{self.api_url}{CONSOLE_PREFIX}"

    @property
    def api_url(self) -> str:
        """The URL of the template's HTTP API (there must be exactly one; else see ``apis``)."""
        if len(self.apis) != 1:
            raise RuntimeError(f"the template has {len(self.apis)} HTTP APIs: {', '.join(self.apis) or '-'}")
        return next(iter(self.apis.values())).url

    def function(self, name: str) -> LocalFunction:
        """A function by logical id, function name or CodeUri folder."""
        return self.functions[find_function(self.definitions, name).logical_id]

    def session(self) -> boto3.Session:
        return self.aws.session()

    def client(self, service: str) -> Any:
        """A boto3 client of the emulated AWS (what the handlers reach through ``AWS_ENDPOINT_URL``)."""
        return self.aws.client(service)

    def poller(self, function_name: str) -> SqsPoller:
        logical_id = find_function(self.definitions, function_name).logical_id
        matching = [poller for poller in self.pollers if poller.source.function_id == logical_id]
        if len(matching) != 1:
            raise KeyError(f"{function_name} has {len(matching)} SQS event sources")
        return matching[0]

    def summary(self, *, show_admin_key: bool = True) -> list[str]:
        """What runs where, for a person: one line each. The admin key is shown only when asked."""
        lines = [f"AWS (moto): {self.aws.endpoint_url}"]
        for api_id, server in self.apis.items():
            lines.append(f"HTTP API {api_id}: {server.url}")
        if self.apis and self.console:
            lines.append(f"console: {self.console_url} (sign in with the admin key)")
        if self.apis:
            key = self.admin_key if show_admin_key else "(hidden)"
            lines.append(f"admin routes (AWS_IAM): send header {ADMIN_KEY_HEADER}: {key}")
        for poller in self.pollers:
            state = "polling" if self.poll_queues and poller.source.enabled else "not polling"
            lines.append(f"SQS {poller.source.queue_name} -> {poller.function.name} ({state})")
        return lines
