"""Every rule and every bad input of the certificate API: a 4xx JSON error naming the problem, and nothing
stored (S3 and DynamoDB exactly as before)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from http import HTTPStatus

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from local.apple_pki import PushCertificateKind, new_rsa_key
from tests.support.certificates import (
    BUNDLE_ID,
    PASSWORD,
    SDK_APP_ID,
    Answer,
    CertificateApi,
    b64,
    p8_upload,
    p12_upload,
    pki,
    push_certificate,
)
from tests.support.events import multipart_body

from .conftest import Storage

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

NOW = dt.datetime.now(dt.UTC)
PATH = f"/v1/apps/{SDK_APP_ID}/certificates"


@cache
def expired_certificate_p12() -> bytes:
    issued = pki().issue_push_certificate(
        BUNDLE_ID, not_before=NOW - dt.timedelta(days=400), not_after=NOW - dt.timedelta(days=2)
    )
    return issued.p12(PASSWORD)


@cache
def future_certificate_p12() -> bytes:
    issued = pki().issue_push_certificate(
        BUNDLE_ID, not_before=NOW + dt.timedelta(days=2), not_after=NOW + dt.timedelta(days=400)
    )
    return issued.p12(PASSWORD)


def _pem_private_key(key: PrivateKeyTypes, password: bytes | None = None) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def _with(upload: dict[str, str], **changes: str | None) -> dict[str, str]:
    """``upload`` with fields changed; ``None`` removes a field."""
    changed = {**upload, **{key: value for key, value in changes.items() if value is not None}}
    for key, value in changes.items():
        if value is None:
            changed.pop(key, None)
    return changed


def _p12_file(content: bytes, **changes: str | None) -> dict[str, str]:
    return _with(p12_upload(), file=b64(content), **changes)


@dataclass(frozen=True)
class BadInput:
    description: str
    send: Callable[[CertificateApi], Answer]
    status: HTTPStatus
    code: str
    message: str | None = None  # the whole message, where it is fixed


def _json(upload: dict[str, str]) -> Callable[[CertificateApi], Answer]:
    return lambda api: api.create(upload)


def _raw(body: bytes | str, content_type: str) -> Callable[[CertificateApi], Answer]:
    return lambda api: api.call("POST", PATH, body=body, headers={"content-type": content_type})


def _bad_inputs() -> list[BadInput]:
    development = push_certificate(PushCertificateKind.DEVELOPMENT)
    production = push_certificate(PushCertificateKind.PRODUCTION)
    not_apns = pki().issue_push_certificate(BUNDLE_ID, PushCertificateKind.NOT_APNS)
    no_uid = pki().issue_push_certificate(BUNDLE_ID, PushCertificateKind.UNIVERSAL, include_uid=False)
    p8 = p8_upload()
    oversized = b"\x30" * (64 * 1024 + 1)
    form, form_type = multipart_body({"name": "Chat", "environment": "development"}, {})
    duplicate, duplicate_type = multipart_body({"name": "Chat"}, {})
    duplicate = duplicate.replace(
        b"--\r\n", b'\r\nContent-Disposition: form-data; name="name"\r\n\r\nx\r\n--', 1
    )
    return [
        # --- name (the seed: plain English, no brackets) ---
        BadInput(
            "name with brackets",
            _json(p12_upload(name="Chat (dev)")),
            HTTPStatus.BAD_REQUEST,
            "InvalidCertificateName",
            "name may only contain English letters, digits, spaces, '-', '_' and '.' "
            "(no brackets or other special characters); found '()'",
        ),
        BadInput(
            "name in Chinese",
            _json(p12_upload(name="推送证书")),
            HTTPStatus.BAD_REQUEST,
            "InvalidCertificateName",
            "name may only contain English letters, digits, spaces, '-', '_' and '.' "
            "(no brackets or other special characters); found '推送证书'",
        ),
        BadInput(
            "name missing",
            _json(_with(p12_upload(), name=None)),
            HTTPStatus.BAD_REQUEST,
            "InvalidCertificateName",
            "name is required",
        ),
        BadInput(
            "name too long",
            _json(p12_upload(name="a" * 65)),
            HTTPStatus.BAD_REQUEST,
            "InvalidCertificateName",
            "name is longer than 64 characters",
        ),
        # --- environment, type ---
        BadInput(
            "environment unknown",
            _json(p12_upload(environment="staging")),
            HTTPStatus.BAD_REQUEST,
            "InvalidEnvironment",
            "environment must be 'development' or 'production'",
        ),
        BadInput(
            "environment missing",
            _json(_with(p12_upload(), environment=None)),
            HTTPStatus.BAD_REQUEST,
            "InvalidEnvironment",
            "environment is required: 'development' or 'production'",
        ),
        BadInput(
            "type unknown",
            _json(_with(p12_upload(), type="pem")),
            HTTPStatus.BAD_REQUEST,
            "InvalidCredentialType",
            "type must be 'p12' (certificate) or 'p8' (token key)",
        ),
        # --- the p12's password (the seed: no password, no push) ---
        BadInput(
            "password missing",
            _json(_with(p12_upload(), password=None)),
            HTTPStatus.BAD_REQUEST,
            "PasswordRequired",
            "password is required for a .p12: a certificate without a password gets no push",
        ),
        BadInput(
            "password empty",
            _json(_with(p12_upload(), password="")),
            HTTPStatus.BAD_REQUEST,
            "PasswordRequired",
            "password is required for a .p12: a certificate without a password gets no push",
        ),
        BadInput(
            "wrong password",
            _json(_with(p12_upload(), password="not-the-password")),
            HTTPStatus.BAD_REQUEST,
            "WrongPassword",
            "the password does not open this .p12 (or the file is damaged)",
        ),
        BadInput(
            "p12 exported without a password",
            _json(_p12_file(development.p12(None))),
            HTTPStatus.BAD_REQUEST,
            "P12NotPasswordProtected",
            "the .p12 has no password: export it again from Keychain with a password",
        ),
        # --- the file ---
        BadInput(
            "file missing",
            _json(_with(p12_upload(), file=None)),
            HTTPStatus.BAD_REQUEST,
            "CredentialFileMissing",
            "file is required: the .p12 certificate or the .p8 key",
        ),
        BadInput(
            "file not base64",
            _json(_with(p12_upload(), file="not base64!")),
            HTTPStatus.BAD_REQUEST,
            "InvalidRequest",
            "file must be the file's content in base64",
        ),
        BadInput(
            "not a PKCS#12: a PEM certificate",
            _json(_p12_file(development.certificate_pem())),
            HTTPStatus.BAD_REQUEST,
            "NotPkcs12",
            "file is not a PKCS#12 (.p12) archive: export the push certificate from Keychain as .p12",
        ),
        BadInput(
            "not a PKCS#12: random bytes",
            _json(_p12_file(bytes(range(256)) * 4)),
            HTTPStatus.BAD_REQUEST,
            "NotPkcs12",
        ),
        BadInput(
            "truncated p12",
            _json(_p12_file(development.p12(PASSWORD)[:-40])),
            HTTPStatus.BAD_REQUEST,
            "NotPkcs12",
        ),
        BadInput(
            "p12 without its private key",
            _json(_p12_file(development.p12(PASSWORD, include_key=False))),
            HTTPStatus.BAD_REQUEST,
            "P12WithoutPrivateKey",
            "the .p12 holds the certificate but not its private key: export the certificate together with "
            "its key from Keychain",
        ),
        BadInput(
            "private key of another certificate",
            _json(_p12_file(development.p12(PASSWORD, key=new_rsa_key(shared_slot=3)))),
            HTTPStatus.BAD_REQUEST,
            "PrivateKeyMismatch",
            "the private key in the .p12 does not belong to its certificate",
        ),
        BadInput(
            "expired certificate",
            _json(_p12_file(expired_certificate_p12())),
            HTTPStatus.BAD_REQUEST,
            "CertificateExpired",
        ),
        BadInput(
            "certificate not valid yet",
            _json(_p12_file(future_certificate_p12())),
            HTTPStatus.BAD_REQUEST,
            "CertificateNotYetValid",
        ),
        BadInput(
            "not an APNs certificate",
            _json(_p12_file(not_apns.p12(PASSWORD))),
            HTTPStatus.BAD_REQUEST,
            "NotApnsCertificate",
            "the certificate is not an APNs push certificate (no Apple push extension, and its common "
            "name is not 'Apple ... Push Services: <bundle ID>')",
        ),
        BadInput(
            "APNs certificate without a bundle ID",
            _json(_p12_file(no_uid.p12(PASSWORD))),
            HTTPStatus.BAD_REQUEST,
            "NotApnsCertificate",
            "the certificate has no bundle ID (subject UID): it is not an APNs certificate",
        ),
        # --- environment the certificate cannot serve (the seed: App Store builds need production) ---
        BadInput(
            "development certificate declared as production",
            _json(_p12_file(development.p12(PASSWORD), environment="production")),
            HTTPStatus.BAD_REQUEST,
            "EnvironmentNotServable",
            "this is a development (sandbox) push certificate and cannot be used for production: App Store "
            "and TestFlight builds need a production or 'Apple Push Services' certificate",
        ),
        BadInput(
            "production-only certificate declared as development",
            _json(_p12_file(production.p12(PASSWORD), environment="development")),
            HTTPStatus.BAD_REQUEST,
            "EnvironmentNotServable",
            "this is a production-only push certificate and cannot be used for development (the APNs "
            "sandbox): use a development or 'Apple Push Services' certificate",
        ),
        # --- p8 ---
        BadInput(
            "p8 that is an RSA key",
            _json(_with(p8, file=b64(_pem_private_key(new_rsa_key())))),
            HTTPStatus.BAD_REQUEST,
            "P8KeyNotP256",
            "the .p8 key is not an elliptic-curve key: APNs token keys are EC P-256 (ES256)",
        ),
        BadInput(
            "p8 on curve P-384",
            _json(_with(p8, file=b64(_pem_private_key(ec.generate_private_key(ec.SECP384R1()))))),
            HTTPStatus.BAD_REQUEST,
            "P8KeyNotP256",
            "the .p8 key is on curve secp384r1: APNs token keys are P-256 (ES256)",
        ),
        BadInput(
            "p8 that is not a key",
            _json(_with(p8, file=b64(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"))),
            HTTPStatus.BAD_REQUEST,
            "InvalidP8Key",
            "file is not a .p8 private key (PKCS#8 PEM as downloaded from Apple)",
        ),
        BadInput(
            "p8 encrypted with a passphrase",
            _json(_with(p8, file=b64(_pem_private_key(ec.generate_private_key(ec.SECP256R1()), b"pass")))),
            HTTPStatus.BAD_REQUEST,
            "InvalidP8Key",
            "the .p8 key is encrypted: upload the key file exactly as Apple issued it",
        ),
        BadInput(
            "keyId of 9 characters",
            _json(_with(p8, keyId="ABC123DEF")),
            HTTPStatus.BAD_REQUEST,
            "InvalidKeyId",
            "keyId must be exactly 10 letters or digits, as shown in the Apple developer account",
        ),
        BadInput(
            "keyId with punctuation",
            _json(_with(p8, keyId="ABC-123-DE")),
            HTTPStatus.BAD_REQUEST,
            "InvalidKeyId",
        ),
        BadInput(
            "keyId missing",
            _json(_with(p8, keyId=None)),
            HTTPStatus.BAD_REQUEST,
            "InvalidKeyId",
            "keyId is required for a .p8 key (10 characters, from the Apple developer account)",
        ),
        BadInput(
            "teamId of 11 characters",
            _json(_with(p8, teamId="DEF123GHIJK")),
            HTTPStatus.BAD_REQUEST,
            "InvalidTeamId",
            "teamId must be exactly 10 letters or digits, as shown in the Apple developer account",
        ),
        BadInput(
            "bundleId that is not a bundle id",
            _json(_with(p8, bundleId="my app")),
            HTTPStatus.BAD_REQUEST,
            "InvalidBundleId",
        ),
        BadInput(
            "bundleId missing",
            _json(_with(p8, bundleId=None)),
            HTTPStatus.BAD_REQUEST,
            "InvalidBundleId",
        ),
        # --- size ---
        BadInput(
            "file over 64 KiB",
            _json(_p12_file(oversized)),
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            "CredentialTooLarge",
            "file is 65537 bytes; the limit is 65536 bytes (a push certificate or key is a few KiB)",
        ),
        BadInput(
            "request body over 128 KiB",
            _raw(json.dumps({"file": "A" * (200 * 1024)}), "application/json"),
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            "PayloadTooLarge",
            "request body is larger than 131072 bytes",
        ),
        # --- request shape ---
        BadInput(
            "misspelt field",
            _json(_with(p12_upload(), password=None, pasword=PASSWORD)),
            HTTPStatus.BAD_REQUEST,
            "InvalidRequest",
            "unknown field(s) 'pasword'; the fields are: type, name, environment, file, password, keyId, "
            "teamId, bundleId",
        ),
        BadInput(
            "field that is not a string",
            _raw(json.dumps({**p12_upload(), "environment": 1}), "application/json"),
            HTTPStatus.BAD_REQUEST,
            "InvalidRequest",
            "environment must be a string",
        ),
        BadInput(
            "body that is not JSON",
            _raw("name=Chat", "application/json"),
            HTTPStatus.BAD_REQUEST,
            "InvalidRequest",
            "request body is not valid JSON",
        ),
        BadInput(
            "JSON that is not an object",
            _raw("[]", "application/json"),
            HTTPStatus.BAD_REQUEST,
            "InvalidRequest",
            "request body must be a JSON object",
        ),
        BadInput(
            "empty body",
            _raw("", "application/json"),
            HTTPStatus.BAD_REQUEST,
            "InvalidRequest",
            "request body is empty: send the certificate as JSON or multipart/form-data",
        ),
        BadInput(
            "unsupported content type",
            _raw("name=Chat", "application/x-www-form-urlencoded"),
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaType",
            "send the certificate as multipart/form-data (curl -F) or application/json (file in base64)",
        ),
        BadInput(
            "multipart form without the file",
            _raw(form, form_type),
            HTTPStatus.BAD_REQUEST,
            "CredentialFileMissing",
        ),
        BadInput(
            "multipart form cut short",
            _raw(form[:-8], form_type),
            HTTPStatus.BAD_REQUEST,
            "InvalidRequest",
            "multipart/form-data body ends without its closing boundary",
        ),
        BadInput(
            "multipart field sent twice",
            _raw(duplicate, duplicate_type),
            HTTPStatus.BAD_REQUEST,
            "InvalidRequest",
            "form field 'name' is sent more than once",
        ),
        BadInput(
            "multipart without boundary",
            _raw(form, "multipart/form-data"),
            HTTPStatus.BAD_REQUEST,
            "InvalidRequest",
            "multipart/form-data needs a boundary parameter (1 to 70 characters)",
        ),
    ]


def test_every_bad_upload_is_a_4xx_json_error_naming_the_problem_and_stores_nothing(
    api: CertificateApi, storage: Storage, subtests: pytest.Subtests
) -> None:
    # Given an app that already has a certificate (so "unchanged" covers its item, file and id counter)
    assert api.create(p12_upload()).status == HTTPStatus.CREATED
    before = storage.state()

    for case in _bad_inputs():
        with subtests.test(case.description):
            # When the bad upload is sent
            answer = case.send(api)

            # Then it is refused with its own status and code, and a message that names the problem
            assert (answer.status, answer.body["code"]) == (case.status, case.code)
            expected_message = case.message if case.message is not None else answer.body["message"]
            assert answer.body == {"code": case.code, "message": expected_message}
            assert answer.body["message"]
            # and the password is never echoed back
            assert PASSWORD not in answer.raw["body"]
            # and nothing was stored
            assert storage.state() == before


def test_expiry_errors_name_the_certificate_dates(api: CertificateApi) -> None:
    expired = api.create(_p12_file(expired_certificate_p12()))
    future = api.create(_p12_file(future_certificate_p12()))

    assert expired.body["message"].startswith("the certificate expired on ")
    assert expired.body["message"].endswith(": create a new one in the Apple developer account")
    assert future.body["message"].startswith("the certificate is not valid before ")


def test_bad_rotations_change_nothing(
    api: CertificateApi, storage: Storage, subtests: pytest.Subtests
) -> None:
    # Given a certificate
    business_id = api.create(p12_upload()).body["businessId"]
    before = storage.state()

    cases = [
        ("wrong password", _with(p12_upload(), password="nope"), HTTPStatus.BAD_REQUEST, "WrongPassword"),
        ("name with brackets", p12_upload(name="[new]"), HTTPStatus.BAD_REQUEST, "InvalidCertificateName"),
        ("not a p12", _p12_file(b"hello"), HTTPStatus.BAD_REQUEST, "NotPkcs12"),
        ("expired", _p12_file(expired_certificate_p12()), HTTPStatus.BAD_REQUEST, "CertificateExpired"),
        ("no file", _with(p12_upload(), file=None), HTTPStatus.BAD_REQUEST, "CredentialFileMissing"),
    ]
    for description, upload, status, code in cases:
        with subtests.test(description):
            # When a bad replacement is put
            answer = api.rotate(business_id, upload)

            # Then it is refused and the certificate is untouched
            assert (answer.status, answer.body["code"]) == (status, code)
            assert storage.state() == before


def test_multipart_binary_upload_is_not_corrupted_by_crlf_bytes(api: CertificateApi) -> None:
    # Given a p12 whose DER bytes contain CR LF sequences and the boundary's dashes (searching for one that
    # does, since export salts differ)
    certificate = push_certificate(PushCertificateKind.UNIVERSAL)
    p12 = certificate.p12(PASSWORD)
    for _ in range(200):
        if b"\r\n" in p12:
            break
        p12 = certificate.p12(PASSWORD)
    assert b"\r\n" in p12

    # When it is sent as a form
    answer = api.create_multipart({"name": "Chat", "environment": "production", "password": PASSWORD}, p12)

    # Then it is read intact
    assert answer.status == HTTPStatus.CREATED


def test_json_body_delivered_base64_encoded_is_decoded(api: CertificateApi) -> None:
    # Given a JSON upload that API Gateway delivered base64-encoded (isBase64Encoded: true)
    body = json.dumps(p12_upload()).encode()

    # When it is sent
    answer = api.call("POST", PATH, body=body, headers={"content-type": "application/json"})

    # Then it is read like any other
    assert answer.status == HTTPStatus.CREATED
