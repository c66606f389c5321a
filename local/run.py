"""``make run``: the whole product on this machine, no AWS account, no Docker.

Starts the APNs sandbox (its own process, HTTP/2 + TLS, both Apple environments), then the local stack
(moto's server with template.yaml's resources, the HTTP API, the SQS poller feeding the dispatcher) with the
APNs client pointed at the sandbox; walks the seed's story (:mod:`local.story`, then the calls of
:mod:`local.story_calls`) and prints what vinson's phone shows; then keeps serving the API until Ctrl-C
(``--exit-after-story`` to stop after the story).

Everything it writes lives in ``--state-dir`` (default ``.local-stack/``): the sandbox's CA, and
``stack.json`` with the URLs and the admin key, for scripts and tests that talk to the running stack, and
``sam-env.json``, the ``--env-vars`` file for ``sam local invoke`` against this stack (:mod:`local.sam_env`).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import sys
import threading
from pathlib import Path
from typing import Any

from local.apns_sandbox.process import SandboxProcess, start_sandbox_process
from local.apple_pki import ApplePki
from local.sam_env import SAM_ENV_FILE, sam_env_vars
from local.stack import LocalStack
from local.story import SDK_APP_ID, Api, Story, StoryError
from local.story_calls import CallScenes
from local.template import TEMPLATE_PATH
from offline_push.apple_ca import TEST_CA_ENVIRONMENT_VARIABLE

PUSH_QUEUE = "PushQueue"
DEFAULT_STATE_DIR = Path(".local-stack")
DEFAULT_PORT = 3000
# Where the dispatcher's APNs client connects (see offline_push.apns.settings). From the shell they are
# honoured: the dispatcher sends there instead of the sandbox, and the story (which reads what the sandbox
# received) is skipped.
APNS_SHELL_VARIABLES = ("APNS_PRODUCTION_URL", "APNS_SANDBOX_URL", "APNS_EXTRA_CA_BUNDLE")


def port_to_use(requested: int, host: str = "127.0.0.1") -> tuple[int, str | None]:
    """The port to listen on, and a line for the user when the requested one is taken (then 0: a free one)."""
    if requested == 0:
        return 0, None
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the API server binds
        try:
            probe.bind((host, requested))
        except OSError:
            note = (
                f"port {requested} is in use: the API listens on a free port instead "
                "(choose one with --port N, e.g. make run RUN_ARGS='--port 3001')"
            )
            return 0, note
    return requested, None


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m local.run", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR, help="default: .local-stack/")
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"HTTP API port on 127.0.0.1 (default {DEFAULT_PORT}, a free one if taken; 0: any free port)",
    )
    parser.add_argument("--admin-key", help="admin key for the AWS_IAM routes (default: generated)")
    parser.add_argument("--no-story", action="store_true", help="only start the stack")
    parser.add_argument("--exit-after-story", action="store_true", help="stop once the story is told")
    parser.add_argument("--verbose", action="store_true", help="show the functions' logs")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    logging.basicConfig(
        level=logging.INFO if arguments.verbose else logging.WARNING, format="%(name)s: %(message)s"
    )
    # The functions log JSON lines and metrics for CloudWatch; on a terminal the story is the readable output.
    quiet = (
        {}
        if arguments.verbose
        else {"POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"}
    )
    state_dir = arguments.state_dir.resolve()
    (state_dir / "apns").mkdir(parents=True, exist_ok=True)

    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())

    port, port_note = port_to_use(arguments.port)
    from_shell = {name: os.environ[name] for name in APNS_SHELL_VARIABLES if os.environ.get(name)}
    sandbox = start_sandbox_process(state_dir / "apns")
    try:
        stack = LocalStack(
            TEMPLATE_PATH,
            api_port=port,
            admin_key=arguments.admin_key,
            extra_environment={
                "APNS_PRODUCTION_URL": sandbox.production_url,
                "APNS_SANDBOX_URL": sandbox.development_url,
                "APNS_EXTRA_CA_BUNDLE": str(sandbox.ca_path),
                # The story's certificates are issued by the sandbox's Apple-like CA: trusted here only.
                TEST_CA_ENVIRONMENT_VARIABLE: str(sandbox.ca_path),
                **from_shell,
                **quiet,
            },
        )
        with stack:
            description = describe(stack, sandbox)
            write_private(state_dir / "stack.json", json.dumps(description, indent=2))
            write_private(state_dir / SAM_ENV_FILE, json.dumps(sam_env_vars(stack), indent=2))
            if port_note:
                print(port_note)
            print_summary(stack, sandbox)
            for name, value in from_shell.items():
                print(f"  {name} from your shell: {value} (the dispatcher uses it instead of the sandbox)")
            if from_shell and not arguments.no_story:
                print("  the story is skipped: it reads what the APNs sandbox received\n")
            if not arguments.no_story and not from_shell:
                story = Story(
                    api=Api(stack.api_url, stack.admin_key),
                    send_job=lambda job: stack.client("sqs").send_message(
                        QueueUrl=description["queueUrl"], MessageBody=json.dumps(job, ensure_ascii=False)
                    ),
                    sandbox=sandbox.control,
                    pki=ApplePki.load(state_dir / "apns"),
                )
                try:
                    report = story.run()
                    CallScenes(story).run(report.business_id)
                except StoryError as error:
                    print(f"\nThe story failed: {error}", file=sys.stderr)
                    return 1
            write_private(state_dir / "ready", "ready\n")
            if arguments.exit_after_story:
                return 0
            print_try_it(stack, state_dir / SAM_ENV_FILE)
            stopping.wait()
            print("\nstopping…")
    finally:
        (state_dir / "ready").unlink(missing_ok=True)
        sandbox.stop()
    return 0


def describe(stack: LocalStack, sandbox: SandboxProcess) -> dict[str, Any]:
    return {
        "apiUrl": stack.api_url,
        "consoleUrl": stack.console_url,
        "adminKey": stack.admin_key,
        "awsEndpoint": stack.aws.endpoint_url,
        "queueUrl": stack.aws.provisioned.refs[PUSH_QUEUE],
        "sandbox": {
            "production": sandbox.production_url,
            "development": sandbox.development_url,
            "control": sandbox.control_url,
            "ca": str(sandbox.ca_path),
        },
    }


def write_private(path: Path, text: str) -> None:
    """Write a file only this user can read: stack.json holds the admin key."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
        stream.write(text)


def print_summary(stack: LocalStack, sandbox: SandboxProcess) -> None:
    print("offline-push local stack")
    for line in stack.summary(show_admin_key=True):
        print(f"  {line}")
    print(f"  APNs sandbox: production {sandbox.production_url}, development {sandbox.development_url}")
    print(f"  APNs sandbox control: {sandbox.control_url} (GET /notifications, /stats)")
    print()


def print_try_it(stack: LocalStack, sam_env: Path) -> None:
    api, key = stack.api_url, stack.admin_key
    print(
        f"""
The API keeps serving until Ctrl-C. Try it:
  open {stack.console_url} and sign in with the admin key above
  curl -H 'X-Admin-Key: {key}' {api}/v1/apps/{SDK_APP_ID}/certificates
  curl -H 'X-Admin-Key: {key}' {api}/v1/apps/{SDK_APP_ID}/users/vinson/deliveries
  make invoke FN=DispatchFunction EVENT=events/dispatch-one-to-one.json
With Docker, a function in Lambda's own image against this stack's AWS (see README, "Local stack"):
  sam local invoke DispatchFunction -e events/dispatch-one-to-one.json --env-vars {sam_env}"""
    )


if __name__ == "__main__":
    sys.exit(main())
