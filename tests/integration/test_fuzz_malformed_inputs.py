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

import base64
import importlib
import io
import json
import logging
import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import quote

import boto3
import jwt
import pytest

from local.apns_sandbox import ApnsSandbox
from local.apple_pki import PushCertificateKind
from local.provision import Provisioned
from offline_push.errors import InvalidPushJob
from offline_push.models.task import parse_queue_message
from tests.support.certificates import BUNDLE_ID, PASSWORD, SDK_APP_ID, b64, p8_key, pki, push_certificate
from tests.support.dispatch import DispatchHarness, ThreadedSandbox, apns_environment, fresh_modules
from tests.support.events import LambdaContext, http_event
from tests.support.jobs import GROUP, ONE_TO_ONE, job_dict

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

CASES = int(os.environ.get("FUZZ_CASES") or (1000 if os.environ.get("CI") == "true" else 250))

APP_SECRET = "Fuzz-App-Secret-7f3a9c2e41b8d6f0a5e3c1b9"
USER = "vinson"
TOKEN = "740f4707bebcf74f9b7c25d48e3358945f6aa01da5ddb387462c7eaf61bb78ad"
APP = str(SDK_APP_ID)

# --- values a mutation puts where a value was -----------------------------------------------------------

NASTY_STRINGS = [
    "",
    " ",
    "a\x00b",
    "\ud800",
    "x\udfffy",
    "\ufeff{}",
    "💥" * 300,
    "\u202e\u0000\u0007",
    "(推送)",
    "../../etc/passwd",
    "%00%ff",
    "${jndi:ldap://x}",
    "' OR 1=1 --",
    "A" * 70_000,
    "9" * 5_000,
    "²",
    "①",
    "١٢٣",
    "-1",
    "0",
    "1e309",
    "NaN",
    "\r\n\r\n",
    "<script>",
]
NASTY_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    2**63,
    10**400,
    1.5,
    [],
    {},
    [[[[[]]]]],
    {"$": {"$": None}},
    *NASTY_STRINGS,
]
NASTY_PATH_SEGMENTS = [
    "0",
    "-1",
    "01400000001",
    "1e9",
    "①",
    "١",  # noqa: RUF001 - a digit of another script, on purpose
    "9" * 5_000,
    "%00",
    "%ff%fe",
    "%2F",
    "%252F",
    "..",
    "%E2%80%AE",
    "a" * 2_000,
    "%F0%9F%92%A5",
    "%C3%28",
    " ",
    "%20",
]
QUERY_STRINGS = [
    "Token=" + TOKEN,
    "token[]=1",
    "&&&",
    "=",
    "token",
    "token=a&token=b",
    "limit=²",
    "limit=①",
    "limit=" + "9" * 5_000,
    "limit=-1",
    "limit=0",
    "limit=1.5",
    "limit=%20",
    "cursor=" + "A" * 10_000,
    "cursor=" + base64.urlsafe_b64encode(b"[" * 5_000 + b"]" * 5_000).decode(),
    "cursor=%ZZ",
    "%ff=1",
    "a=%ff",
    "x=1",
    "token=" + "f" * 3_000,
    ";;",
    "limit=5;cursor=x",
]
CONTENT_TYPES = [
    None,
    "",
    "text/plain",
    "application/json; charset=latin-1",
    "application/JSON",
    "application/json; charset=UTF-8",
    "application/json;;;",
    "application/octet-stream",
    "multipart/form-data",
    "multipart/form-data; boundary=",
    "multipart/form-data; boundary=" + "b" * 200,
    "application/x-www-form-urlencoded",
    "\x00",
    "application/json; boundary=\ud800",
]


def _deep(levels: int) -> str:
    return "[" * levels + "]" * levels


RAW_BODIES = [
    b"",
    b"null",
    b"[]",
    b"{",
    b"\xff\xfe\xfd",
    b'{"a": "\xc3\x28"}',
    b"\xc0\x80",
    _deep(20_000).encode(),
    ('{"a":' * 5_000 + "1" + "}" * 5_000).encode(),
    b"9" * 10_000,
    b'{"businessId": ' + b"9" * 10_000 + b"}",
    b'{"x": 1, "x": 2}',
    b"\x00" * 100,
    os.urandom(4096),
    b'"\\ud800"',
    b'{"token": "\\udc00"}',
    b"{}" * 50_000,
    b"NaN",
    b"[1e999]",
]


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    secrets: tuple[str, ...] = ()

    def event(self) -> dict[str, Any]:
        event = http_event(self.method, self.path, headers=self.headers, admin="x-user" not in self.headers)
        event["headers"].pop("x-user", None)
        event["rawQueryString"] = self.query
        if self.query:
            parameters: dict[str, str] = {}
            for part in self.query.split("&"):
                name, _, value = part.partition("=")
                parameters[name] = f"{parameters[name]},{value}" if name in parameters else value
            event["queryStringParameters"] = parameters
        if self.body is not None:
            event["body"] = base64.b64encode(self.body).decode()
            event["isBase64Encoded"] = True
        return event


# --- the mutator ---------------------------------------------------------------------------------------


class Mutator:
    """Seeded: the same route name gives the same cases every run."""

    def __init__(self, seed: str) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - reproducible test inputs, not secrets

    def choice(self, options: list[Any]) -> Any:
        return self.rng.choice(options)

    def json_value(self, value: Any, depth: int = 0) -> Any:
        """``value`` with one part changed: a value replaced, a key removed or added, a list cut."""
        rng = self.rng
        if isinstance(value, dict) and value and depth < 4 and rng.random() < 0.7:
            key = rng.choice(list(value))
            changed = dict(value)
            roll = rng.random()
            if roll < 0.55:
                changed[key] = self.json_value(value[key], depth + 1)
            elif roll < 0.7:
                del changed[key]
            elif roll < 0.85:
                changed[self.choice(NASTY_STRINGS[:20]) or "extra"] = self.choice(NASTY_VALUES)
            else:
                changed[key.upper()] = changed.pop(key)
            return changed
        if isinstance(value, list) and value and depth < 4 and rng.random() < 0.6:
            changed_list = list(value)
            index = rng.randrange(len(changed_list))
            if rng.random() < 0.6:
                changed_list[index] = self.json_value(changed_list[index], depth + 1)
            else:
                changed_list = changed_list * rng.choice([0, 2, 1000])
            return changed_list
        if isinstance(value, str) and rng.random() < 0.4:
            position = rng.randrange(len(value) + 1)
            return value[:position] + self.choice(NASTY_STRINGS[:12]) + value[position:]
        return self.choice(NASTY_VALUES)

    def body(self, document: Any) -> bytes:
        """A malformed body from a valid JSON ``document``."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.45:
            return json.dumps(self.json_value(document), ensure_ascii=rng.random() < 0.5).encode(
                "utf-8", "surrogatepass"
            )
        text = json.dumps(document).encode()
        if roll < 0.6:
            return bytes(self.choice(RAW_BODIES))
        if roll < 0.7:
            return text[: rng.randrange(len(text) + 1)]
        if roll < 0.8:
            data = bytearray(text)
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            return bytes(data)
        if roll < 0.9:
            levels = rng.choice([33, 100, 999, 3_000, 30_000])
            return ("[" * levels + text.decode() + "]" * levels).encode()
        position = rng.randrange(len(text) + 1)
        broken: bytes = self.choice([b"\xff", b"\xed\xa0\x80", b"\x00", b"\xc3"])
        return text[:position] + broken + text[position:]


@dataclass(frozen=True)
class Route:
    """One route of the API: a valid request, and how to make it malformed."""

    name: str
    method: str
    path: Callable[[list[str]], str]  # from its path values
    values: list[str]
    document: Any = None  # a valid JSON body
    query: str = ""
    user: bool = False  # a user route (bearer JWT) rather than an admin route
    secrets: Callable[[Any], tuple[str, ...]] = lambda _document: ()

    def cases(self, count: int) -> Iterator[Request]:
        mutator = Mutator(self.name)
        for _ in range(count):
            yield self.mutate(mutator)

    def mutate(self, mutator: Mutator) -> Request:
        """One malformed request: its body (routes with one), query, a path value, a header, or the body
        where the route takes none; which part is drawn at random."""
        rng = mutator.rng
        values = list(self.values)
        query = self.query
        headers = {"content-type": "application/json"} if self.document is not None else {}
        if self.user:
            headers["authorization"] = f"Bearer {bearer()}"
            headers["x-user"] = "1"
        body = json.dumps(self.document).encode() if self.document is not None else None
        secrets = [*self.secrets(self.document), APP_SECRET]
        part = rng.choices(
            ["body", "query", "path", "header"],
            weights=[50, 15, 15, 20] if self.document else [10, 35, 35, 20],
        )[0]
        if part == "body":
            body = mutator.body(self.document if self.document is not None else {"unexpected": "body"})
            secrets += self._secrets_in(body)
        elif part == "query":
            query = mutator.choice(QUERY_STRINGS)
        elif part == "path":
            values[rng.randrange(len(values))] = mutator.choice(NASTY_PATH_SEGMENTS)
        else:
            self._mutate_header(mutator, headers)
        if "authorization" in headers:
            secrets.append(headers["authorization"].removeprefix("Bearer ").strip())
        # Only what could not be in a log line by chance: a secret of a few characters ("Bearer") could.
        distinctive = tuple(secret for secret in secrets if len(secret) >= MIN_SECRET_CHARS)
        return Request(self.method, self.path(values), query, headers, body, distinctive)

    def _secrets_in(self, body: bytes) -> list[str]:
        try:
            return list(self.secrets(json.loads(body)))
        except (ValueError, RecursionError, TypeError, AttributeError):
            return []

    def _mutate_header(self, mutator: Mutator, headers: dict[str, str]) -> None:
        if self.user and mutator.rng.random() < 0.5:
            headers["authorization"] = mutator.choice(bad_authorizations())
            return
        content_type = mutator.choice(CONTENT_TYPES)
        if content_type is None:
            headers.pop("content-type", None)
        else:
            headers["content-type"] = content_type


def bearer(**claims: Any) -> str:
    payload = {"sub": USER, "aud": APP, "exp": int(time.time()) + 3600, **claims}
    return jwt.encode(payload, APP_SECRET, algorithm="HS256")


def _raw_jwt(header: bytes, payload: bytes, secret: str = APP_SECRET) -> str:
    import hashlib  # noqa: PLC0415
    import hmac  # noqa: PLC0415

    encoded = (
        base64.urlsafe_b64encode(header).rstrip(b"=") + b"." + base64.urlsafe_b64encode(payload).rstrip(b"=")
    )
    signature = hmac.new(secret.encode(), encoded, hashlib.sha256).digest()
    return (encoded + b"." + base64.urlsafe_b64encode(signature).rstrip(b"=")).decode()


def _unsigned_jwt(payload: dict[str, Any]) -> str:
    """``alg: none``: a token without a signature."""
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=")
    body = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=")
    return (header + b"." + body + b".").decode()


def bad_authorizations() -> list[str]:
    header = b'{"alg":"HS256","typ":"JWT"}'
    return [
        "",
        "Bearer",
        "Bearer ",
        "Basic dmluc29uOnB3",
        "Bearer " + "x" * 9_000,
        "Bearer a.b.c",
        "Bearer " + bearer(exp=str(int(time.time()) + 3600)),
        "Bearer " + bearer(exp=int(time.time()) - 3600),
        "Bearer " + bearer(nbf=int(time.time()) + 3600),
        "Bearer " + bearer(iat="now"),
        "Bearer " + bearer(sub="denny"),
        "Bearer " + bearer(aud="1400000002"),
        "Bearer " + bearer(aud="9" * 5_000),
        "Bearer " + bearer(sub="\ud800"),
        "Bearer " + bearer(sub=["vinson"]),
        "Bearer " + jwt.encode({"sub": USER, "aud": APP, "exp": 9e9}, "wrong-secret-" * 4, algorithm="HS256"),
        "Bearer " + _unsigned_jwt({"sub": USER, "aud": APP, "exp": 9e9}),
        "Bearer " + _raw_jwt(header, _deep(2_000).encode()),
        "Bearer " + _raw_jwt(header, b'{"sub":"vinson","aud":"1400000001","exp":NaN}'),
        "Bearer " + _raw_jwt(header, b'{"sub":"vinson","aud":"1400000001","exp":' + b"9" * 5_000 + b"}"),
        "Bearer " + _raw_jwt(b"\xff\xfe", b"{}"),
        "Bearer " + _raw_jwt(header, b'{"sub":"vinson","aud":"1400000001","exp":1e999}'),
    ]


def _upload_secrets(document: Any) -> tuple[str, ...]:
    if isinstance(document, dict) and isinstance(document.get("password"), str):
        password = document["password"]
        return (password,) if len(password) >= 12 else ()
    return ()


def _settings_secrets(document: Any) -> tuple[str, ...]:
    auth = document.get("userAuth") if isinstance(document, dict) else None
    secret = auth.get("secret") if isinstance(auth, dict) else None
    return (secret,) if isinstance(secret, str) and len(secret) >= 12 else ()


FUZZ_PASSWORD = "Fuzz-P12-Password-5b1e"
MIN_SECRET_CHARS = 16


def routes() -> list[Route]:
    upload = {
        "type": "p12",
        "name": "Chat dev",
        "environment": "development",
        "password": FUZZ_PASSWORD,
        "file": b64(push_certificate(PushCertificateKind.DEVELOPMENT).p12(FUZZ_PASSWORD)),
    }
    p8 = {
        "type": "p8",
        "name": "Token key",
        "environment": "production",
        "keyId": "ABC123DEFG",
        "teamId": "DEF123GHIJ",
        "bundleId": BUNDLE_ID,
        "file": b64(p8_key()),
    }
    certificates = "/v1/apps/{}/certificates"
    one = "/v1/apps/{}/certificates/{}"
    settings_body = {
        "kickPolicy": "multi",
        "placeholderLanguage": "en",
        "userAuth": {"algorithm": "HS256", "secret": APP_SECRET},
    }
    user = "/v1/apps/{}/users/{}"
    return [
        Route(
            "POST certificates",
            "POST",
            lambda v: certificates.format(*v),
            [APP],
            upload,
            secrets=_upload_secrets,
        ),
        Route("POST certificates p8", "POST", lambda v: certificates.format(*v), [APP], p8),
        Route("GET certificates", "GET", lambda v: certificates.format(*v), [APP]),
        Route("GET certificate", "GET", lambda v: one.format(*v), [APP, "1"]),
        Route(
            "PUT certificate", "PUT", lambda v: one.format(*v), [APP, "1"], upload, secrets=_upload_secrets
        ),
        Route("DELETE certificate", "DELETE", lambda v: one.format(*v), [APP, "9"]),
        Route(
            "PUT settings",
            "PUT",
            lambda v: f"/v1/apps/{v[0]}/settings",
            [APP],
            settings_body,
            secrets=_settings_secrets,
        ),
        Route("GET settings", "GET", lambda v: f"/v1/apps/{v[0]}/settings", [APP]),
        Route(
            "PUT apns",
            "PUT",
            lambda v: (user + "/apns").format(*v),
            [APP, USER],
            {"businessId": 1, "token": TOKEN},
            user=True,
        ),
        Route(
            "DELETE apns",
            "DELETE",
            lambda v: (user + "/apns").format(*v),
            [APP, USER],
            query=f"token={TOKEN}",
            user=True,
        ),
        Route(
            "PUT badge", "PUT", lambda v: (user + "/badge").format(*v), [APP, USER], {"unread": 3}, user=True
        ),
        Route(
            "GET deliveries",
            "GET",
            lambda v: (user + "/deliveries").format(*v),
            [APP, USER],
            query="limit=5",
        ),
        Route("GET message", "GET", lambda v: f"/v1/apps/{v[0]}/messages/{v[1]}", [APP, quote("msg-1")]),
    ]


# --- the world the handlers run in ------------------------------------------------------------------------

WRITE_PREFIXES = (
    "Put",
    "Update",
    "Delete",
    "Create",
    "BatchWrite",
    "TransactWrite",
    "Restore",
    "Copy",
    "Send",
)


class WriteRecorder:
    """Every successful write call any boto3 client made (clients inherit the hook from the session)."""

    def __init__(self) -> None:
        self.writes: list[str] = []
        self.session = boto3._get_default_session()._session

    def __enter__(self) -> WriteRecorder:
        self.session.register("after-call", self._record, unique_id="fuzz-writes")  # type: ignore[arg-type]
        return self

    def __exit__(self, *_: object) -> None:
        self.session.unregister("after-call", unique_id="fuzz-writes")

    def _record(self, http_response: Any, model: Any, **_: Any) -> None:
        if model.name.startswith(WRITE_PREFIXES) and http_response.status_code < 300:
            self.writes.append(model.name)


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
        "file": b64(push_certificate().p12(PASSWORD)),
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


class LogCapture:
    """Everything logged, by the product's loggers and any other (the tracer logs exceptions), as text."""

    NAMES = ("", "offline-push", "aws_lambda_powertools")

    def __init__(self) -> None:
        self.buffer = io.StringIO()
        self.handler = logging.StreamHandler(self.buffer)
        self.handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s %(exc_info)s"))

    def __enter__(self) -> LogCapture:
        for name in self.NAMES:
            logging.getLogger(name).addHandler(self.handler)
        return self

    def __exit__(self, *_: object) -> None:
        for name in self.NAMES:
            logging.getLogger(name).removeHandler(self.handler)

    def since(self, position: int) -> str:
        self.handler.flush()
        return self.buffer.getvalue()[position:]

    def position(self) -> int:
        return len(self.buffer.getvalue())


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
