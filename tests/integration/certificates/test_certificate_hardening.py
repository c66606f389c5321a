"""Hostile uploads: passwords no .p12 can have, look-alike certificates not issued by Apple, request bodies
that are not UTF-8 or JSON nested to exhaust the parser. Each is a 4xx JSON error, nothing is stored, and no
password reaches a log line, the answer, or the process's output."""

from __future__ import annotations

import json
from http import HTTPStatus

import pytest

from local.apple_pki import ApplePki, PushCertificateKind
from tests.support.certificates import (
    BUNDLE_ID,
    PASSWORD,
    SDK_APP_ID,
    CertificateApi,
    b64,
    p12_upload,
    push_certificate,
)

from .conftest import LogLines, Storage

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

PATH = f"/v1/apps/{SDK_APP_ID}/certificates"
NUL_PASSWORD = "My\x00Secret-Password-77"
NUL_MESSAGE = {
    "code": "InvalidPassword",
    "message": "the password contains a NUL character, which no .p12 password can contain",
}


@pytest.mark.parametrize("route", ["POST", "PUT"])
def test_a_nul_byte_in_a_p12_password_is_a_400_that_logs_and_prints_no_password(
    api: CertificateApi,
    storage: Storage,
    log_lines: LogLines,
    capfd: pytest.CaptureFixture[str],
    route: str,
) -> None:
    # Given an app with a certificate (the PUT rotates it)
    business_id = api.create(p12_upload()).body["businessId"]
    before = storage.state()
    upload = {**p12_upload(), "password": NUL_PASSWORD}

    # When the upload's password holds a NUL byte, as JSON
    path = PATH if route == "POST" else f"{PATH}/{business_id}"
    answer = api.call(route, path, json_body=upload)

    # Then it is a 400 naming the problem, nothing is stored, and the function keeps serving
    assert (answer.status, answer.body) == (HTTPStatus.BAD_REQUEST, NUL_MESSAGE)
    assert storage.state() == before
    assert api.get(business_id).status == HTTPStatus.OK
    # and the password (or its bytes, as Rust prints them) is nowhere in the logs or the process's output
    printed = capfd.readouterr()
    everything = json.dumps(log_lines()) + printed.out + printed.err + answer.raw["body"]
    for secret in ("Secret-Password-77", "83, 101, 99, 114, 101, 116", "NulError", "panicked"):
        assert secret not in everything


def test_a_nul_byte_in_a_multipart_password_is_a_400(api: CertificateApi, storage: Storage) -> None:
    # Given no certificate yet
    before = storage.state()
    p12 = push_certificate().p12(PASSWORD)

    # When the form's password holds a NUL byte
    answer = api.create_multipart(
        {"name": "Chat", "environment": "development", "password": NUL_PASSWORD}, p12
    )

    # Then it is refused like the JSON upload
    assert (answer.status, answer.body) == (HTTPStatus.BAD_REQUEST, NUL_MESSAGE)
    assert storage.state() == before


def test_a_look_alike_certificate_not_issued_by_apple_is_refused(
    api: CertificateApi, storage: Storage
) -> None:
    # Given a certificate with every Apple marker (names, push extensions, bundle ID) from a CA that is not
    # Apple's and not trusted (named exactly like the trusted test CA, so only the signature tells them apart)
    impostor = ApplePki().issue_push_certificate(BUNDLE_ID, PushCertificateKind.UNIVERSAL)
    before = storage.state()

    # When it is uploaded
    answer = api.create({**p12_upload(), "file": b64(impostor.p12(PASSWORD))})

    # Then it is refused as not Apple's, and nothing is stored
    assert (answer.status, answer.body) == (
        HTTPStatus.BAD_REQUEST,
        {
            "code": "NotIssuedByApple",
            "message": "the certificate was not issued by Apple (its chain does not end at Apple's Worldwide "
            "Developer Relations intermediates and Apple's root): create the push certificate in the "
            "Apple developer account and export it from Keychain",
        },
    )
    assert storage.state() == before


def test_without_the_test_ca_setting_the_tests_own_certificates_are_not_apples(
    api: CertificateApi, storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the deployment's default: only Apple's CAs (the test-only setting absent)
    monkeypatch.delenv("OFFLINE_PUSH_TEST_CA_FILE")

    # When a certificate of the tests' Apple-like CA is uploaded
    answer = api.create(p12_upload())

    # Then it is refused: the shipped trust is Apple's alone
    assert (answer.status, answer.body["code"]) == (HTTPStatus.BAD_REQUEST, "NotIssuedByApple")
    assert storage.state().items == []


@pytest.mark.parametrize(
    ("description", "body", "content_type", "message"),
    [
        (
            "invalid UTF-8 as JSON",
            b'{"name": "\xff\xfe"}',
            "application/json",
            "request body is not valid UTF-8",
        ),
        ("invalid UTF-8, no content type", b"\xc3\x28\xa0\xa1", "", "request body is not valid UTF-8"),
        (
            "nested 20,000 levels",
            b"[" * 20_000 + b"]" * 20_000,
            "application/json",
            "request body is nested deeper than 8 levels",
        ),
        (
            "a lone surrogate in a field",
            b'{"name": "Chat", "password": "\\ud800"}',
            "application/json",
            "request body has a string with a lone surrogate (not Unicode text)",
        ),
        (
            "a number of 10,000 digits",
            b'{"name": ' + b"9" * 10_000 + b"}",
            "application/json",
            "request body is not valid JSON",
        ),
    ],
)
def test_unreadable_json_uploads_are_400s(
    api: CertificateApi, storage: Storage, description: str, body: bytes, content_type: str, *, message: str
) -> None:
    # When the body cannot be read as a JSON object (sent as binary, as API Gateway passes it on)
    headers = {"content-type": content_type} if content_type else {}
    answer = api.call("POST", PATH, body=body, headers=headers)

    # Then it is a 400 saying why, and nothing is stored
    assert (answer.status, answer.body) == (
        HTTPStatus.BAD_REQUEST,
        {"code": "InvalidRequest", "message": message},
    )
    assert storage.state().items == []
