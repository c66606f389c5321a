"""`make run` as a user runs it: the local stack in its own process, the seed's story, then the API over HTTP.

The notifications are checked byte for byte as the APNs sandbox received them, through its control endpoint;
the product's answers over the local HTTP API, with the admin key the stack wrote to its state directory.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any

import boto3
import pytest

ROOT = Path(__file__).resolve().parents[2]
SDK_APP_ID = 1400000001
START_TIMEOUT = 180.0

# What vinson's phone receives, exactly as sent: denny's text with ext, the group message shown with the name
# card and group name, the voice placeholder with the custom sound, the custom message's title and desc. The
# badge counts up from 0 (vinson never reported an unread count).
EXPECTED = [
    (
        "story-1-text",
        '{"aps":{"alert":{"body":"Denny:晚上一起吃饭吗？"},"badge":1,"sound":"default","thread-id":"denny"},'  # noqa: RUF001
        '"ext":"jump to denny"}',
        "043e9641aabff3b9b388df73b7d11cda",
    ),
    (
        "story-2-group",
        '{"aps":{"alert":{"body":"Dad(Family):周末回家吃饭"},"badge":2,"sound":"default",'
        '"thread-id":"@TGS#2J4SZEAEL"}}',
        "40e06b8fd4637d6fb7eed76ce5ac4287",
    ),
    (
        "story-3-voice",
        '{"aps":{"alert":{"body":"Denny:[语音]"},"badge":3,"sound":"ding.caf","thread-id":"denny"}}',
        "1f8c0f763c00012167885fc9eb08b032",
    ),
    (
        "story-4-custom-desc",
        '{"aps":{"alert":{"title":"Red packet","body":"Denny sent you a red packet"},"badge":4,'
        '"sound":"default","thread-id":"denny"}}',
        "48fb66787be169b4bd5f0ee7eb651a41",
    ),
]


@dataclass
class RunningStack:
    process: subprocess.Popen[str]
    state_dir: Path
    description: dict[str, Any]

    def api(self, method: str, path: str, *, admin: bool = True) -> tuple[int, Any]:
        headers = {"x-admin-key": self.description["adminKey"]} if admin else {}
        return _http(method, self.description["apiUrl"] + path, headers)

    def sandbox(self, path: str) -> Any:
        status, answer = _http("GET", self.description["sandbox"]["control"] + path, {})
        assert status == HTTPStatus.OK
        return answer


def _http(method: str, url: str, headers: dict[str, str]) -> tuple[int, Any]:
    request = urllib.request.Request(url, method=method, headers=headers)  # noqa: S310 - 127.0.0.1 only
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
            raw = answer.read()
            return answer.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        raw = error.read()
        return error.code, json.loads(raw) if raw else None


def _start(state_dir: Path, *extra: str, environment: dict[str, str] | None = None) -> subprocess.Popen[str]:
    shell = {**os.environ, "PYTHONPATH": f"{ROOT / 'layers' / 'offline_push'}{os.pathsep}{ROOT}"}
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        shell.pop(name, None)
    for name in ("APNS_PRODUCTION_URL", "APNS_SANDBOX_URL", "APNS_EXTRA_CA_BUNDLE"):
        shell.pop(name, None)
    shell.update(environment or {})
    return subprocess.Popen(  # noqa: S603 - our own entry point
        # `make run`, recording each function's AWS operations for the privilege test
        [
            sys.executable,
            "-m",
            "tests.support.recorded_run",
            "--state-dir",
            str(state_dir),
            "--port",
            "0",
            *extra,
        ],
        cwd=ROOT,
        env=shell,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """`make run` in its own process, once the story is told and the API serves."""
    state_dir = tmp_path_factory.mktemp("local-stack")
    process = _start(state_dir)
    deadline = time.monotonic() + START_TIMEOUT
    while not (state_dir / "ready").exists():
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            pytest.fail(f"the local stack exited with {process.returncode}:\n{output}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("the local stack did not finish its story in time")
        time.sleep(0.2)
    description = json.loads((state_dir / "stack.json").read_text())
    running = RunningStack(process, state_dir, description)
    yield running
    if process.poll() is None:
        process.kill()
        process.wait()


def test_the_phone_receives_the_story_notifications_byte_for_byte(stack: RunningStack) -> None:
    # When the story has run, the APNs sandbox has accepted exactly these, in order (then the calls)
    received = stack.sandbox("/notifications")["notifications"][: len(EXPECTED)]

    assert [record["rawPayload"] for record in received] == [payload for _, payload, _ in EXPECTED]
    assert [record["collapseId"] for record in received] == [collapse for _, _, collapse in EXPECTED]
    for record in received:
        assert (
            record["topic"],
            record["pushType"],
            record["priority"],
            record["environment"],
            record["auth"],
        ) == (
            "com.example.chat",
            "alert",
            10,
            "development",
            "certificate",
        )
    assert len({record["deviceToken"] for record in received}) == 1
    assert stack.sandbox("/stats")["duplicates"] == {}


def test_denny_calls_vinsons_pushkit_token_and_mum_gets_the_alert_fallback(stack: RunningStack) -> None:
    # When the story's call scenes have run, after its messages
    calls = stack.sandbox("/notifications")["notifications"][len(EXPECTED) :]

    # Then vinson's PushKit token got the VoIP push, and mum (no PushKit token) the alert in Chinese
    assert [
        (call["topic"], call["pushType"], call["priority"], call["expiration"], call["rawPayload"])
        for call in calls
    ] == [
        (
            "com.example.chat.voip",
            "voip",
            10,
            0,
            '{"call":{"callId":"call-denny-vinson","caller":"denny","callerName":"Denny","mediaType":"video"},'
            '"ext":"call:call-denny-vinson"}',
        ),
        (
            "com.example.chat",
            "alert",
            10,
            None,
            '{"aps":{"alert":{"body":"Denny邀请你视频通话"},"sound":"default","thread-id":"denny"},'
            '"ext":"call:call-denny-mum"}',
        ),
    ]


def test_the_uploaded_certificate_is_listed_over_http(stack: RunningStack) -> None:
    status, answer = stack.api("GET", f"/v1/apps/{SDK_APP_ID}/certificates")

    assert status == HTTPStatus.OK
    [certificate] = answer["certificates"]
    assert (
        certificate["businessId"],
        certificate["bundleId"],
        certificate["environment"],
        certificate["type"],
    ) == (
        1,
        "com.example.chat",
        "development",
        "p12",
    )


def test_the_console_is_served_at_console(stack: RunningStack) -> None:
    request = urllib.request.Request(stack.description["consoleUrl"])  # noqa: S310 - 127.0.0.1 only
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
        page = answer.read().decode()

    assert (answer.status, answer.headers["content-type"]) == (HTTPStatus.OK, "text/html; charset=utf-8")
    assert '<script src="/console/console.js" defer></script>' in page


def test_admin_routes_refuse_a_caller_without_the_admin_key(stack: RunningStack) -> None:
    assert stack.api("GET", f"/v1/apps/{SDK_APP_ID}/certificates", admin=False) == (
        HTTPStatus.FORBIDDEN,
        {"message": "Forbidden"},
    )


def test_a_custom_message_without_desc_is_recorded_as_not_pushed_with_its_reason(stack: RunningStack) -> None:
    status, answer = stack.api("GET", f"/v1/apps/{SDK_APP_ID}/messages/story-5-custom-no-desc")

    assert status == HTTPStatus.OK
    assert (answer["notifications"], answer["noPush"]["reason"]) == (0, "CustomWithoutDesc")


def test_vinsons_pushes_are_counted_delivered_and_none_is_listed_as_a_failure_over_http(
    stack: RunningStack,
) -> None:
    # Each story message's summary counts its push to vinson as delivered (nothing is stored per delivered
    # push: the summary counts it through its unit of work) ...
    for msg_key, _, _ in EXPECTED:
        status, summary = stack.api("GET", f"/v1/apps/{SDK_APP_ID}/messages/{msg_key}")
        assert (status, summary["notifications"], summary["outcomes"]["delivered"]) == (HTTPStatus.OK, 1, 1)

    # ... and vinson's answer shows his phone's two tokens (APNs, then PushKit for the call scene) and no
    # delivery that failed or waits for a retry
    status, answer = stack.api("GET", f"/v1/apps/{SDK_APP_ID}/users/vinson/deliveries")
    assert (status, sorted(device["pushKind"] for device in answer["devices"]), answer["deliveries"]) == (
        HTTPStatus.OK,
        ["alert", "voip"],
        [],
    )


def test_make_run_writes_the_env_vars_file_that_points_sam_local_invoke_at_this_stack(
    stack: RunningStack,
) -> None:
    # Given the running stack's moto endpoint and push queue, as a container on this host reaches them
    endpoint = stack.description["awsEndpoint"].replace("127.0.0.1", "host.docker.internal")
    queue_url = stack.description["queueUrl"].replace("127.0.0.1", "host.docker.internal")
    [key_id] = [key["KeyId"] for key in _moto_kms(stack).list_keys()["Keys"]]
    shared = {
        "APPS_TABLE": "AppsTable",
        "AWS_ENDPOINT_URL": endpoint,
        "CERTIFICATES_TABLE": "CertificatesTable",
        "CERTIFICATE_BUCKET": "offline-push-certificatebucket",
        "KMS_KEY_ID": key_id,
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "POWERTOOLS_METRICS_NAMESPACE": "OfflinePush",
        "POWERTOOLS_SERVICE_NAME": "offline-push",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "PROVIDER_TOKENS_TABLE": "ProviderTokensTable",
        "REGISTRATIONS_TABLE": "RegistrationsTable",
    }
    deliveries = {"DELIVERIES_TABLE": "DeliveriesTable"}
    secrets = {"APP_SECRETS_PREFIX": "offline-push/apps/"}

    # When `make run` has written its env-vars file for `sam local invoke`
    path = stack.state_dir / "sam-env.json"
    written = json.loads(path.read_text(encoding="utf-8"))

    # Then each function gets its own variables with the stack's names and the endpoint as a container sees it
    assert written == {
        "CertificatesFunction": shared,
        "RegistrationsFunction": {**shared, **secrets},
        "AppsFunction": {**shared, **secrets},
        "DispatchFunction": {
            **shared,
            **deliveries,
            "DELIVERY_RECORD_DAYS": "7",
            "DELIVERY_SUCCESS_SAMPLE_RATE": "100",
            "PUSH_DEAD_LETTER_QUEUE_URL": queue_url.replace("PushQueue", "PushDeadLetterQueue"),
            "PUSH_QUEUE_URL": queue_url,
        },
        "DeliveriesFunction": {**shared, **deliveries},
    }
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    # And SAM CLI's own resolution (what `sam local invoke` runs before it starts the container) passes them
    resolved = json.loads(
        subprocess.run(  # noqa: S603
            [
                str(ROOT / ".venv-sam" / "bin" / "python"),
                str(ROOT / "tests" / "support" / "sam_cli_environment.py"),
                str(ROOT / "template.yaml"),
                str(path),
            ],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
            timeout=300,
        ).stdout
    )
    for function, variables in written.items():
        assert {name: resolved[function][name] for name in variables} == variables, function


def test_ctrl_c_stops_the_stack_and_the_story_was_printed_as_the_phone_shows_it(stack: RunningStack) -> None:
    # When the user presses Ctrl-C
    stack.process.send_signal(signal.SIGINT)
    output, _ = stack.process.communicate(timeout=60)

    # Then it stops cleanly, having printed each notification as the lock screen shows it
    assert stack.process.returncode == 0, output
    for line in (
        "│ Denny:晚上一起吃饭吗？",  # noqa: RUF001
        '└─ sound: default · badge: 1 · ext: "jump to denny"',
        "│ Dad(Family):周末回家吃饭",
        "└─ sound: ding.caf · badge: 3",
        "│ Red packet",
        "not pushed: CustomWithoutDesc",
        "   ┌─ incoming video call (CallKit), woken by a VoIP push on com.example.chat.voip",
        "   │ Denny邀请你视频通话",
    ):
        assert line in output, output
    assert not (stack.state_dir / "ready").exists()


def test_exit_after_story_tells_the_story_and_exits(tmp_path: Path) -> None:
    process = _start(tmp_path, "--exit-after-story")
    output, _ = process.communicate(timeout=START_TIMEOUT)

    assert process.returncode == 0, output
    assert "│ Denny:[语音]" in output
    # ... with the console's address, and no metrics blob (CloudWatch's EMF JSON) in the middle of the story
    description = json.loads((tmp_path / "stack.json").read_text())
    assert f"  console: {description['apiUrl']}/console (sign in with the admin key)" in output.splitlines()
    assert description["consoleUrl"] == f"{description['apiUrl']}/console"
    assert '"_aws"' not in output
    assert [line for line in output.splitlines() if line.lstrip().startswith("{")] == []


def test_a_taken_port_gives_a_free_one_and_says_so(tmp_path: Path) -> None:
    # Given the port asked for is taken by another program
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        # When make run starts with that port
        process = _start(tmp_path, "--exit-after-story", "--port", str(port))
        output, _ = process.communicate(timeout=START_TIMEOUT)

    # Then it listens on another port, and says which flag chooses one
    assert process.returncode == 0, output
    assert (
        f"port {port} is in use: the API listens on a free port instead (choose one with --port N, "
        "e.g. make run RUN_ARGS='--port 3001')"
    ) in output.splitlines()
    api_url = json.loads((tmp_path / "stack.json").read_text())["apiUrl"]
    assert api_url.startswith("http://127.0.0.1:")
    assert not api_url.endswith(f":{port}")
    assert f"HTTP API OfflinePushApi: {api_url}" in output


def test_apns_urls_from_the_shell_are_used_and_the_story_is_skipped(tmp_path: Path) -> None:
    # When make run starts with the APNs hosts set in the shell
    process = _start(
        tmp_path, "--exit-after-story", environment={"APNS_PRODUCTION_URL": "https://127.0.0.1:9"}
    )
    output, _ = process.communicate(timeout=START_TIMEOUT)

    # Then the dispatcher is pointed there, and the story, which reads what the sandbox received, is skipped
    assert process.returncode == 0, output
    lines = output.splitlines()
    assert (
        "  APNS_PRODUCTION_URL from your shell: https://127.0.0.1:9 "
        "(the dispatcher uses it instead of the sandbox)"
    ) in lines
    assert "  the story is skipped: it reads what the APNs sandbox received" in lines
    assert "== 1. The operator uploads the app's APNs certificate" not in lines


def _moto_kms(stack: RunningStack) -> Any:
    return boto3.client(
        "kms",
        endpoint_url=stack.description["awsEndpoint"],
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
