"""Run template.yaml's functions in this process, the way the Lambda Python runtime runs them.

Each function is read from its ``AWS::Serverless::Function`` definition (``Globals.Function`` merged the
way SAM merges it): the handler is imported as ``<CodeUri as a package>.<module>`` (``functions/dispatch``
+ ``app.lambda_handler`` -> ``functions.dispatch.app``), its layers' ``ContentUri`` folders are put on the
import path the way Lambda mounts them under ``/opt/python``, and every invocation gets a context with the
function's name, ARN, memory size and a deadline from its ``Timeout``.

Like one warm Lambda sandbox, a function runs one invocation at a time, always on the same thread: the
module is imported (cold start) on the first invocation, its globals survive between invocations, and a
second concurrent invocation waits for the first. A handler that outlives its ``Timeout`` gets Lambda's
``Sandbox.Timedout`` error; a thread cannot be killed, so the function stays busy until it really returns.

Results go through JSON both ways, as on Lambda: the handler receives a fresh decoded event, and an answer
that cannot be encoded is ``Runtime.MarshalError``, not a silent success.
"""

from __future__ import annotations

import decimal
import importlib
import json
import logging
import queue
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local.provision import ACCOUNT_ID, Provisioned
from local.template import TEMPLATE_PATH, resources_of_type

logger = logging.getLogger("local.lambda")

REPO_ROOT = TEMPLATE_PATH.parent

# Lambda's defaults when neither the function nor Globals set them.
DEFAULT_TIMEOUT_SECONDS = 3
DEFAULT_MEMORY_MB = 128
# Synchronous invocation payload limits: the request (event) and the response, as Lambda enforces them.
MAX_REQUEST_PAYLOAD_BYTES = 6_291_456
MAX_RESPONSE_PAYLOAD_BYTES = 6_291_556


class TemplateFunctionError(ValueError):
    """template.yaml declares a function the local runtime cannot run as written."""


@dataclass(frozen=True)
class FunctionDefinition:
    """One ``AWS::Serverless::Function``, with ``Globals.Function`` applied."""

    logical_id: str
    function_name: str
    module_name: str
    handler_name: str
    code_dir: Path
    timeout_seconds: int
    memory_mb: int
    environment: Mapping[str, Any]
    layer_dirs: tuple[Path, ...]
    events: Mapping[str, Mapping[str, Any]]

    @property
    def folder(self) -> str:
        """The CodeUri folder's name (``functions/dispatch`` -> ``dispatch``), a second way to name it."""
        return self.code_dir.name

    def arn(self, region: str) -> str:
        return f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{self.function_name}"

    def events_of_type(self, event_type: str) -> dict[str, Mapping[str, Any]]:
        return {name: event for name, event in self.events.items() if event.get("Type") == event_type}


def function_definitions(
    template: dict[str, Any],
    *,
    template_path: Path = TEMPLATE_PATH,
    code_root: Path = REPO_ROOT,
    stack_name: str = "offline-push",
) -> dict[str, FunctionDefinition]:
    """Every function of the template by logical id.

    ``code_root`` is the folder the handlers are imported from (the repository root): a CodeUri outside it
    cannot be imported as a package and is refused with a message naming it.
    """
    template_dir = template_path.resolve().parent
    code_root = code_root.resolve()
    global_properties: dict[str, Any] = dict(template.get("Globals", {}).get("Function", {}))
    layers = {
        logical_id: (template_dir / str(body["Properties"]["ContentUri"])).resolve()
        for logical_id, body in resources_of_type("AWS::Serverless::LayerVersion", template).items()
    }
    definitions = {}
    for logical_id, body in resources_of_type("AWS::Serverless::Function", template).items():
        own: dict[str, Any] = body.get("Properties", {})
        properties = {**global_properties, **own}
        code_uri = properties.get("CodeUri")
        handler = properties.get("Handler")
        if not isinstance(code_uri, str) or not isinstance(handler, str) or "." not in handler:
            raise TemplateFunctionError(
                f"{logical_id}: the local runtime needs a CodeUri folder and a 'module.function' Handler"
            )
        code_dir = (template_dir / code_uri).resolve()
        if not code_dir.is_relative_to(code_root):
            raise TemplateFunctionError(f"{logical_id}: CodeUri {code_dir} is outside {code_root}")
        module, _, handler_name = handler.rpartition(".")
        package = code_dir.relative_to(code_root).parts
        environment = {
            **global_properties.get("Environment", {}).get("Variables", {}),
            **own.get("Environment", {}).get("Variables", {}),
        }
        # SAM concatenates list-valued Globals with the function's own list.
        layer_refs = [*global_properties.get("Layers", []), *own.get("Layers", [])]
        name = properties.get("FunctionName")
        definitions[logical_id] = FunctionDefinition(
            logical_id=logical_id,
            function_name=name if isinstance(name, str) else f"{stack_name}-{logical_id}",
            module_name=".".join([*package, *module.replace("/", ".").split(".")]),
            handler_name=handler_name,
            code_dir=code_dir,
            timeout_seconds=int(properties.get("Timeout", DEFAULT_TIMEOUT_SECONDS)),
            memory_mb=int(properties.get("MemorySize", DEFAULT_MEMORY_MB)),
            environment=environment,
            layer_dirs=tuple(_layer_dirs(logical_id, layer_refs, layers)),
            events=own.get("Events", {}),
        )
    return definitions


def _layer_dirs(function_id: str, refs: list[Any], layers: dict[str, Path]) -> list[Path]:
    found = []
    for ref in refs:
        if isinstance(ref, dict) and ref.get("Ref") in layers:
            found.append(layers[ref["Ref"]])
        else:
            # A published layer (an ARN) has no local folder; its packages must be installed in the venv.
            logger.warning("%s: layer %r is not in the template; not mounted locally", function_id, ref)
    return found


def find_function(definitions: Mapping[str, FunctionDefinition], name: str) -> FunctionDefinition:
    """A function by logical id (``DispatchFunction``), function name, or CodeUri folder (``dispatch``)."""
    for definition in definitions.values():
        if name in (definition.logical_id, definition.function_name, definition.folder):
            return definition
    known = ", ".join(f"{d.logical_id} ({d.folder})" for d in definitions.values()) or "none"
    raise KeyError(f"no function {name!r} in the template; functions: {known}")


class FreshModules:
    """Give a stack's functions their own, cold copies of the handler and layer modules, as a new deployment
    gets new sandboxes; and give the process its own copies back afterwards.

    Handlers and the layer read settings once and cache boto3 clients. Without this, a stack would reuse
    what an earlier stack, or a test with moto's ``mock_aws``, left in those modules: a client bound to an
    endpoint that is gone, a table or key name of another account. On ``enter`` the function packages (e.g.
    ``functions.dispatch``) and the layers' top-level packages (e.g. ``offline_push``) leave ``sys.modules``,
    so the first invocation imports them anew; on ``exit`` the stack's copies go and the originals return.
    """

    def __init__(self, definitions: Mapping[str, FunctionDefinition]) -> None:
        prefixes = set()
        for definition in definitions.values():
            package, _, _ = definition.module_name.rpartition(".")
            prefixes.add(package or definition.module_name)
            for layer_dir in definition.layer_dirs:
                prefixes.update(_top_level_modules(layer_dir))
        self.prefixes = frozenset(prefixes)
        self._saved: dict[str, Any] | None = None

    def _covers(self, name: str) -> bool:
        return any(name == prefix or name.startswith(prefix + ".") for prefix in self.prefixes)

    def enter(self) -> None:
        if self._saved is not None:
            return
        self._saved = {name: module for name, module in sys.modules.items() if self._covers(name)}
        for name in self._saved:
            del sys.modules[name]

    def exit(self) -> None:
        if self._saved is None:
            return
        for name in [name for name in sys.modules if self._covers(name)]:
            del sys.modules[name]
        sys.modules.update(self._saved)
        # A package keeps its submodules as attributes: point them back at the originals too.
        for name in sorted(self._saved):
            parent, _, child = name.rpartition(".")
            if parent in sys.modules:
                setattr(sys.modules[parent], child, self._saved[name])
        self._saved = None


def _top_level_modules(layer_dir: Path) -> set[str]:
    if not layer_dir.is_dir():
        return set()
    return {
        entry.stem if entry.suffix == ".py" else entry.name
        for entry in layer_dir.iterdir()
        if (entry.is_dir() and (entry / "__init__.py").is_file()) or entry.suffix == ".py"
    }


class EnvironmentConflict(ValueError):
    """Two functions set one variable to different values; in one process they cannot both be right."""


def resolve_environment(definition: FunctionDefinition, provisioned: Provisioned) -> dict[str, str]:
    """The function's variables as CloudFormation would resolve them against the provisioned resources."""
    resolved = {name: provisioned.resolve_property(value) for name, value in definition.environment.items()}
    return {name: value for name, value in resolved.items() if value is not None}


def shared_environment(
    definitions: Mapping[str, FunctionDefinition], provisioned: Provisioned
) -> dict[str, str]:
    """The union of every function's resolved variables, for the one process they all run in.

    Functions run in one process and read ``os.environ``, so a variable two functions set differently would be
    wrong for one of them: that is refused here, by name, instead of surfacing later as a puzzling bug.
    """
    merged: dict[str, str] = {}
    owners: dict[str, str] = {}
    for definition in definitions.values():
        for name, value in resolve_environment(definition, provisioned).items():
            if name in merged and merged[name] != value:
                raise EnvironmentConflict(
                    f"{name} is {merged[name]!r} for {owners[name]} but {value!r} for "
                    f"{definition.logical_id}; the local runtime runs every function in one process, "
                    "so they must agree"
                )
            merged[name] = value
            owners.setdefault(name, definition.logical_id)
    return merged


@dataclass
class CognitoIdentity:
    cognito_identity_id: str | None = None
    cognito_identity_pool_id: str | None = None


class LambdaContext:
    """The context object the Python runtime passes to a handler (``awslambdaric``'s attributes and types).

    ``memory_limit_in_mb`` is a string, as on Lambda, where the runtime reads it from an environment variable.
    """

    def __init__(self, definition: FunctionDefinition, request_id: str, region: str, started: float) -> None:
        self.aws_request_id = request_id
        self.function_name = definition.function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = definition.arn(region)
        self.memory_limit_in_mb = str(definition.memory_mb)
        self.log_group_name = f"/aws/lambda/{definition.function_name}"
        self.log_stream_name = time.strftime("%Y/%m/%d/[$LATEST]", time.gmtime()) + uuid.uuid4().hex
        self.identity = CognitoIdentity()
        self.client_context: Any = None
        self.tenant_id: str | None = None
        self._deadline = started + definition.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass(frozen=True)
class InvocationResult:
    """What Lambda's Invoke API returns: the decoded answer, or the function error payload."""

    request_id: str
    payload: Any = None
    error: dict[str, Any] | None = None
    duration_ms: float = 0.0
    # The answer as the runtime encoded it (what API Gateway's "simple response" passes on as the body).
    raw_payload: bytes = b"null"

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def timed_out(self) -> bool:
        return self.error is not None and self.error.get("errorType") == "Sandbox.Timedout"


class InvocationRejected(Exception):
    """Lambda refused the invocation before running the function (as its Invoke API does with a 4xx)."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


class InvocationDeadlineExceeded(Exception):
    """The caller stopped waiting (an API Gateway integration timeout); the function may still be running."""


@dataclass
class _Invocation:
    event: Any
    request_id: str
    started: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)
    start_time: float = 0.0
    raw_payload: bytes = b"null"
    error: dict[str, Any] | None = None


def _encode_decimal(value: Any) -> Any:
    # The Python runtime's encoder turns a Decimal (what DynamoDB gives) into a number; other types fail.
    if isinstance(value, decimal.Decimal):
        return float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _error(error_type: str, message: str, request_id: str, stack: list[str] | None = None) -> dict[str, Any]:
    return {
        "errorMessage": message,
        "errorType": error_type,
        "requestId": request_id,
        "stackTrace": stack or [],
    }


class LocalFunction:
    """One function's warm sandbox: a dedicated thread that imports the handler once and runs invocations."""

    def __init__(self, definition: FunctionDefinition, *, region: str = "us-east-1") -> None:
        self.definition = definition
        self.region = region
        self._handler: Callable[[Any, Any], Any] | None = None
        self._queue: queue.SimpleQueue[_Invocation | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self.invocations = 0

    @property
    def name(self) -> str:
        return self.definition.function_name

    def invoke(self, event: Any, *, deadline: float | None = None) -> InvocationResult:
        """Run the handler on ``event`` and return its answer or its error, like a synchronous Invoke.

        ``deadline`` (a ``time.monotonic()`` value) is how long the caller waits in all, queueing included;
        past it :class:`InvocationDeadlineExceeded` is raised (API Gateway's integration timeout). The
        function's own ``Timeout`` gives a ``Sandbox.Timedout`` error result, as on Lambda.
        """
        request_id = str(uuid.uuid4())
        try:
            encoded = json.dumps(event).encode()
        except (TypeError, ValueError) as exc:
            raise InvocationRejected("InvalidRequestContentException", f"event is not JSON: {exc}") from None
        if len(encoded) > MAX_REQUEST_PAYLOAD_BYTES:
            raise InvocationRejected(
                "RequestEntityTooLargeException",
                f"{len(encoded)} byte payload is too large for the RequestResponse invocation type "
                f"(limit {MAX_REQUEST_PAYLOAD_BYTES} bytes)",
            )
        self._ensure_sandbox()
        invocation = _Invocation(json.loads(encoded), request_id)
        self._queue.put(invocation)
        if not invocation.started.wait(self._seconds_until(deadline)):
            raise InvocationDeadlineExceeded(f"{self.name} did not start before the caller's deadline")
        timeout_at = invocation.start_time + self.definition.timeout_seconds
        wait_until = timeout_at if deadline is None else min(timeout_at, deadline)
        if not invocation.finished.wait(max(0.0, wait_until - time.monotonic())):
            if deadline is not None and deadline < timeout_at:
                raise InvocationDeadlineExceeded(f"{self.name} did not answer before the caller's deadline")
            logger.error(
                "%s: task timed out after %d seconds; the handler is still running, and this function's next "
                "invocations wait for it (a thread cannot be stopped)",
                self.name,
                self.definition.timeout_seconds,
            )
            timeout = self.definition.timeout_seconds
            message = f"RequestId: {request_id} Error: Task timed out after {timeout:.2f} seconds"
            return InvocationResult(
                request_id,
                error=_error("Sandbox.Timedout", message, request_id),
                duration_ms=self.definition.timeout_seconds * 1000.0,
            )
        return InvocationResult(
            request_id,
            payload=None if invocation.error else json.loads(invocation.raw_payload),
            error=invocation.error,
            duration_ms=(time.monotonic() - invocation.start_time) * 1000.0,
            raw_payload=invocation.raw_payload,
        )

    @staticmethod
    def _seconds_until(deadline: float | None) -> float | None:
        return None if deadline is None else max(0.0, deadline - time.monotonic())

    def close(self) -> None:
        """Let the sandbox thread end once it is idle (it is a daemon: a stuck handler cannot block exit)."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread = None

    def _ensure_sandbox(self) -> None:
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._serve, name=f"lambda-{self.definition.logical_id}", daemon=True
                )
                self._thread.start()

    def _serve(self) -> None:
        while (invocation := self._queue.get()) is not None:
            invocation.start_time = time.monotonic()
            invocation.started.set()
            try:
                self._run(invocation)
            finally:
                invocation.finished.set()

    def _run(self, invocation: _Invocation) -> None:
        request_id = invocation.request_id
        context = LambdaContext(self.definition, request_id, self.region, invocation.start_time)
        init_ms = None
        if self._handler is None:
            init_started = time.monotonic()
            invocation.error = self._init(request_id)
            init_ms = (time.monotonic() - init_started) * 1000.0
        if self._handler is not None:
            try:
                result = self._handler(invocation.event, context)
            except Exception as exc:  # any handler failure is a function error, as on Lambda
                logger.error("%s: %s", self.name, "".join(traceback.format_exception(exc)).rstrip())
                frames = traceback.format_list(traceback.extract_tb(exc.__traceback__))
                invocation.error = _error(type(exc).__name__, str(exc), request_id, frames)
            else:
                invocation.raw_payload, invocation.error = self._marshal(result, request_id)
        self.invocations += 1
        duration = (time.monotonic() - invocation.start_time) * 1000.0
        logger.info(
            "REPORT %s RequestId: %s Duration: %.2f ms Memory Size: %d MB%s%s",
            self.name,
            request_id,
            duration,
            self.definition.memory_mb,
            f" Init Duration: {init_ms:.2f} ms" if init_ms is not None else "",
            f" Status: error ({invocation.error['errorType']})" if invocation.error else "",
        )

    def _init(self, request_id: str) -> dict[str, Any] | None:
        """Cold start: import the handler's module; a failure is retried next invocation, like Lambda."""
        for layer_dir in self.definition.layer_dirs:
            if str(layer_dir) not in sys.path:
                sys.path.append(str(layer_dir))
        module_name = self.definition.module_name
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:  # an import failure is Lambda's Runtime.ImportModuleError
            trace = "".join(traceback.format_exception(exc))
            logger.error("%s: cannot import %s: %s", self.name, module_name, trace)
            return _error(
                "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}", request_id
            )
        handler = getattr(module, self.definition.handler_name, None)
        if not callable(handler):
            return _error(
                "Runtime.HandlerNotFound",
                f"Handler '{self.definition.handler_name}' missing on module '{module_name}'",
                request_id,
            )
        self._handler = handler
        return None

    @staticmethod
    def _marshal(result: Any, request_id: str) -> tuple[bytes, dict[str, Any] | None]:
        try:
            encoded = json.dumps(result, default=_encode_decimal).encode()
        except (TypeError, ValueError) as exc:
            return b"null", _error("Runtime.MarshalError", f"Unable to marshal response: {exc}", request_id)
        if len(encoded) > MAX_RESPONSE_PAYLOAD_BYTES:
            limit = MAX_RESPONSE_PAYLOAD_BYTES
            message = f"Response payload size exceeded maximum allowed payload size ({limit} bytes)."
            return b"null", _error("Function.ResponseSizeTooLarge", message, request_id)
        return encoded, None
