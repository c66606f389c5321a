"""The fuzz suite's mutator: valid requests of every HTTP route and valid push jobs, made malformed by seeded
mutations (the same cases every run), and what the suite records (write calls, log text). Used by
tests/integration/test_fuzz_malformed_inputs.py."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import logging
import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import boto3
import jwt

from local.apple_pki import PushCertificateKind
from tests.support.certificates import BUNDLE_ID, SDK_APP_ID, b64, p8_key, push_certificate
from tests.support.events import http_event

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
            "PUT voip",
            "PUT",
            lambda v: (user + "/voip").format(*v),
            [APP, USER],
            {"businessId": 1, "token": TOKEN[::-1]},
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
