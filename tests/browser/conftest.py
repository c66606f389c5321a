"""The console in a real browser: Debian's chromium, headless, driven by Playwright, against the local stack.

Nothing is downloaded: chromium comes from apt (``.ci/run`` installs it) and Playwright only drives it. The
local stack runs in this process (moto, the functions, the HTTP API serving /console) with the APNs sandbox in
its own; every test saves screenshots under ``.artifacts/console/`` (README "Console").
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from local.apns_sandbox.process import SandboxProcess, start_sandbox_process
from local.apple_pki import ApplePki
from local.stack import LocalStack
from local.template import TEMPLATE_PATH
from offline_push.apple_ca import TEST_CA_ENVIRONMENT_VARIABLE

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / ".artifacts" / "console"
SDK_APP_ID = 1400000001
BUNDLE_ID = "com.example.chat"
USER_SECRET = "console-test-user-token-secret-0123456789abcdef"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium for one test module. Playwright's sync API runs an event loop in this thread while it is
    open, so it is closed before other modules' asyncio tests run."""
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is needed for the console's tests: apt-get install -y chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@dataclass
class ConsoleWorld:
    """The local stack with the console, the APNs sandbox, and what a test needs beside the page."""

    stack: LocalStack
    sandbox: SandboxProcess
    pki: ApplePki

    @property
    def console_url(self) -> str:
        return self.stack.console_url

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 - the local stack on 127.0.0.1
            self.stack.api_url + path,
            data=data,
            method=method,
            headers={"content-type": "application/json", **(headers or {})},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
            raw = answer.read()
            return json.loads(raw) if raw else None

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        return self.call(method, path, body, {"x-admin-key": self.stack.admin_key})

    def set_apns(
        self, user: str, business_id: int, token: str, *, route: str = "apns", sdk_app_id: int = SDK_APP_ID
    ) -> Any:
        """The app after IM login: setAPNS (``route="voip"``: setVOIP) with the certificate ID the operator
        read from the console."""
        bearer = jwt.encode(
            {"sub": user, "aud": str(sdk_app_id), "exp": int(time.time()) + 600},
            USER_SECRET,
            algorithm="HS256",
        )
        return self.call(
            "PUT",
            f"/v1/apps/{sdk_app_id}/users/{user}/{route}",
            {"businessId": business_id, "token": token},
            {"authorization": f"Bearer {bearer}"},
        )

    def send_job(self, job: dict[str, Any]) -> None:
        queue_url = self.stack.aws.provisioned.refs["PushQueue"]
        self.stack.client("sqs").send_message(QueueUrl=queue_url, MessageBody=json.dumps(job))

    def wait_for(self, condition: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = condition()
            if value:
                return value
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(autouse=True)
def _isolated_aws_environment(
    _isolated_aws_environment: None, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As for every test, but a test of the console's stack trusts the sandbox's CA, which issues the
    certificates its pages upload, not the other tests' CA."""
    if "world" in request.fixturenames:
        world: ConsoleWorld = request.getfixturevalue("world")
        monkeypatch.setenv(TEST_CA_ENVIRONMENT_VARIABLE, str(world.sandbox.ca_path))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleWorld]:
    state = tmp_path_factory.mktemp("console-stack")
    sandbox = start_sandbox_process(state / "apns")
    try:
        stack = LocalStack(
            TEMPLATE_PATH,
            extra_environment={
                "APNS_PRODUCTION_URL": sandbox.production_url,
                "APNS_SANDBOX_URL": sandbox.development_url,
                "APNS_EXTRA_CA_BUNDLE": str(sandbox.ca_path),
                # The pages upload certificates issued by the sandbox's Apple-like CA, as `make run` trusts it
                TEST_CA_ENVIRONMENT_VARIABLE: str(sandbox.ca_path),
                # No POWERTOOLS_LOG_LEVEL here: a Powertools Logger sets the level of the stdlib logger of its
                # service, which outlives the stack and would hide the INFO records later tests read.
            },
        )
        with stack:
            yield ConsoleWorld(stack, sandbox, sandbox.pki())
    finally:
        sandbox.stop()


@pytest.fixture(autouse=True)
def _stack_environment(world: ConsoleWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    """The functions' environment again for each test: the shared isolation fixture unsets AWS_ENDPOINT_URL
    (and sets fake credentials) per test, after the module's stack set it."""
    for name, value in world.stack.environment.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert errors == [], f"the page raised: {errors}"


def screenshot(page: Page, name: str) -> Path:
    """Save what the user sees now as .artifacts/console/<name>.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page: Page, world: ConsoleWorld) -> None:
    page.goto(world.console_url)
    page.get_by_label("Admin key").fill(world.stack.admin_key)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Apps", exact=True).wait_for()


def open_app(page: Page, sdk_app_id: int = SDK_APP_ID) -> None:
    page.get_by_label("Open app").fill(str(sdk_app_id))
    page.get_by_role("button", name="Open app").click()
    page.get_by_role("heading", name=f"App {sdk_app_id}").wait_for()
