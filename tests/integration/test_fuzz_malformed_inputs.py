"""Fuzzing every HTTP route and the push job with malformed input (a seeded mutator: the same cases every
run, reproducible from the route's name and the case number).

For each of the 12 routes, valid requests are mutated (body bytes, JSON values and shapes, encodings, nesting,
content types, bearer tokens, path values, query strings) and sent to the route's real handler in-process,
on moto with template.yaml's resources. Every answer must be below 500; every 4xx a JSON ``{code, message}``
and nothing else; a refused request must have written nothing (no successful write call to DynamoDB, S3,
KMS-backed stores or Secrets Manager); no log line may carry a secret of the request (passwords, keys,
bearer tokens). Push jobs are mutated the same way and fed to the dispatcher in SQS batches: no batch
fails, every message that is not a job is a dead letter with its ``code`` and ``reason``.

:data:`CASES` inputs per route and for the push job: 1,000 when ``CI=true`` (``make test`` in CI), 250
otherwise; ``FUZZ_CASES`` overrides both.
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any

import pytest

from local.apns_sandbox import ApnsSandbox
from local.apple_pki import PushCertificateKind
from local.provision import Provisioned
from offline_push.errors import InvalidPushJob
from offline_push.models.task import parse_queue_message
from tests.support.certificates import PASSWORD, b64, pki, push_certificate
from tests.support.dispatch import DispatchHarness, ThreadedSandbox, apns_environment, fresh_modules
from tests.support.events import LambdaContext
from tests.support.fuzz import (
    APP,
    APP_SECRET,
    FUZZ_PASSWORD,
    RAW_BODIES,
    TOKEN,
    USER,
    LogCapture,
    Mutator,
    Request,
    Route,
    WriteRecorder,
    bearer,
    routes,
)
from tests.support.jobs import GROUP, ONE_TO_ONE, job_dict

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

CASES = int(os.environ.get("FUZZ_CASES") or (1000 if os.environ.get("CI") == "true" else 250))

# --- the world the handlers run in ------------------------------------------------------------------------


@dataclass
class Api:
    handlers: dict[str, Callable[[dict[str, Any], Any], dict[str, Any]]]

    def handler_for(self, path: str) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
        if "/certificates" in path:
            return self.handlers["certificates"]
        if path.endswith("/settings"):
            return self.handlers["apps"]
        if "/deliveries" in path or "/messages/" in path:
            return self.handlers["deliveries"]
        return self.handlers["registrations"]


@pytest.fixture
def api(aws: Provisioned) -> Iterator[Api]:
    """Every HTTP function, cold (fresh modules), on this test's moto; the app set up with a user-auth key,
    one certificate (businessId 1) and vinson's device."""
    modules = {
        name: importlib.import_module(f"functions.{name}.app")
        for name in ("certificates", "apps", "registrations", "deliveries")
    }
    for module in modules.values():
        for cached in ("certificates", "administration", "components", "reports"):
            if hasattr(module, cached):
                getattr(module, cached).cache_clear()
    world = Api({name: module.lambda_handler for name, module in modules.items()})
    yield world
    for module in modules.values():
        for cached in ("certificates", "administration", "components", "reports"):
            if hasattr(module, cached):
                getattr(module, cached).cache_clear()


def _call(api: Api, request: Request) -> dict[str, Any]:
    return api.handler_for(request.path)(request.event(), LambdaContext())


def _set_up(api: Api) -> None:
    settings = Request(
        "PUT",
        f"/v1/apps/{APP}/settings",
        headers={"content-type": "application/json"},
        body=json.dumps({"userAuth": {"algorithm": "HS256", "secret": APP_SECRET}}).encode(),
    )
    assert _call(api, settings)["statusCode"] == HTTPStatus.OK
    upload = {
        "name": "Chat dev",
        "environment": "development",
        "password": PASSWORD,
        # universal: certificate 1 serves alerts and VoIP, so setVOIP's cases reach as deep as setAPNS's
        "file": b64(push_certificate(PushCertificateKind.UNIVERSAL).p12(PASSWORD)),
    }
    created = Request(
        "POST",
        f"/v1/apps/{APP}/certificates",
        headers={"content-type": "application/json"},
        body=json.dumps(upload).encode(),
    )
    assert _call(api, created)["statusCode"] == HTTPStatus.CREATED
    registered = Request(
        "PUT",
        f"/v1/apps/{APP}/users/{USER}/apns",
        headers={"content-type": "application/json", "authorization": f"Bearer {bearer()}", "x-user": "1"},
        body=json.dumps({"businessId": 1, "token": TOKEN}).encode(),
    )
    assert _call(api, registered)["statusCode"] == HTTPStatus.OK


def _problems_of_answer(number: int, raw: dict[str, Any], writes: list[str]) -> list[str]:
    status = raw["statusCode"]
    if status >= HTTPStatus.INTERNAL_SERVER_ERROR:
        return [f"case {number}: {status} {raw.get('body')!r:.300}"]
    if status < HTTPStatus.BAD_REQUEST:
        return []
    try:
        body = json.loads(raw["body"])
    except (ValueError, TypeError):
        return [f"case {number}: {status} with a body that is not JSON"]
    problems = []
    if not (
        isinstance(body, dict)
        and set(body) == {"code", "message"}
        and all(isinstance(value, str) and value for value in body.values())
    ):
        problems.append(f"case {number}: {status} with body {body!r:.300}")
    if writes:
        problems.append(f"case {number}: {status} {body.get('code')} after storing: {writes}")
    return problems


@pytest.mark.parametrize("route", routes(), ids=lambda route: route.name)
def test_malformed_requests_get_a_4xx_json_error_store_nothing_and_log_no_secret(
    aws: Provisioned, api: Api, route: Route, capfd: pytest.CaptureFixture[str]
) -> None:
    problems: list[str] = []
    statuses: dict[int, int] = {}
    with WriteRecorder() as recorder, LogCapture() as logs:
        # Given the app set up (its clients created now, so each carries the write recorder)
        _set_up(api)

        # When every malformed case of the route is sent to its handler
        for number, request in enumerate(route.cases(CASES)):
            recorder.writes.clear()
            start = logs.position()
            try:
                raw = _call(api, request)
            except BaseException as exc:  # a crash of the function, which Lambda would answer 502 for
                problems.append(f"case {number}: the handler raised {type(exc).__name__}")
                continue
            statuses[raw["statusCode"]] = statuses.get(raw["statusCode"], 0) + 1
            # Then the answer is below 500, a 4xx is {code, message} and stored nothing
            problems += _problems_of_answer(number, raw, list(recorder.writes))
            # and no secret of the request reached a log line or the answer
            logged = logs.since(start) + str(raw.get("body"))
            problems += [
                f"case {number}: a secret was logged" for secret in request.secrets if secret in logged
            ]

    printed = capfd.readouterr()
    for secret in (APP_SECRET, FUZZ_PASSWORD, PASSWORD):
        assert secret not in printed.out + printed.err
    assert "panicked" not in printed.err
    assert problems == []
    # and the cases did reach the route's checks: most were refused, by more than one rule
    refused = sum(count for status, count in statuses.items() if status >= HTTPStatus.BAD_REQUEST)
    assert refused >= CASES // 3, statuses


# --- the push job ------------------------------------------------------------------------------------


def job_cases(count: int) -> Iterator[str]:
    mutator = Mutator("push job")
    seeds: list[Any] = [
        job_dict(ONE_TO_ONE),
        job_dict(GROUP),
        {"OfflinePushTask": {"version": 1, "kind": "chunk"}, "Job": job_dict(GROUP)},
        {
            "OfflinePushTask": {"version": 1, "kind": "retry", "run": "r1"},
            "Job": job_dict(ONE_TO_ONE),
            "Deliveries": [{"userId": "vinson", "token": TOKEN, "businessId": 1, "badge": 1, "attempts": 1}],
        },
    ]
    for number in range(count):
        seed = seeds[number % len(seeds)]
        roll = mutator.rng.random()
        if roll < 0.7:
            body = mutator.body(seed).decode("utf-8", "surrogateescape")
        elif roll < 0.85:
            body = json.dumps(mutator.json_value(mutator.json_value(seed)), ensure_ascii=False)
        else:
            body = mutator.choice(RAW_BODIES).decode("utf-8", "replace")
        yield body


@pytest.fixture
def harness(aws: Provisioned, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DispatchHarness]:
    threaded = ThreadedSandbox()
    sandbox: ApnsSandbox = threaded.start()
    ca_bundle = pki().write_ca(tmp_path / "ca.pem")
    for name, value in apns_environment(sandbox, ca_bundle).items():
        monkeypatch.setenv(name, value)
    modules = fresh_modules()
    dispatch, deliveries = next(modules)
    yield DispatchHarness(aws, sandbox, dispatch, deliveries)
    next(modules, None)
    threaded.stop()


def test_malformed_push_jobs_never_fail_a_batch_and_each_is_a_dead_letter_with_its_reason(
    harness: DispatchHarness, capfd: pytest.CaptureFixture[str]
) -> None:
    # Given vinson's device, and the malformed jobs in batches of nine, each with one good job
    harness.upload_certificate()
    [token] = harness.register("vinson")["vinson"]
    bodies = list(job_cases(CASES))
    invalid = 0
    problems: list[str] = []
    for start in range(0, len(bodies), 9):
        chunk = bodies[start : start + 9]
        good = json.dumps(job_dict(ONE_TO_ONE, MsgKey=f"good-{start}"))
        event = harness.event_of(*chunk, good)
        expected_invalid = []
        for record, body in zip(event["Records"], chunk, strict=False):
            try:
                parse_queue_message(body)
            except InvalidPushJob:
                expected_invalid.append(record["messageId"])

        # When the batch is processed
        try:
            answer = harness.app.lambda_handler(event, LambdaContext())
        except BaseException as exc:  # the whole batch would be retried: the defect this guards against
            problems.append(f"batch {start // 9}: the handler raised {type(exc).__name__}")
            continue

        # Then nothing is left for retry, and exactly the messages that are not jobs are dead letters
        if answer != {"batchItemFailures": []}:
            problems.append(f"batch {start // 9}: {answer}")
        letters = harness.dead_letters()
        if sorted(letter["attributes"].get("sourceMessageId", "") for letter in letters) != sorted(
            expected_invalid
        ):
            problems.append(
                f"batch {start // 9}: dead letters {len(letters)}, expected {len(expected_invalid)}"
            )
        for letter in letters:
            attributes = letter["attributes"]
            if attributes.get("code") != "InvalidPushJob" or not attributes.get("reason"):
                problems.append(f"batch {start // 9}: dead letter without code or reason: {attributes}")
        invalid += len(expected_invalid)

    # and every good job was delivered
    assert problems == []
    assert len(harness.received(token)) >= len(range(0, len(bodies), 9))
    assert invalid >= CASES // 2
    assert "panicked" not in capfd.readouterr().err
